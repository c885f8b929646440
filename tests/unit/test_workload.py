"""The workload–recall curve on hand-built arrays: counts, ties, bootstrap pairing."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.workload import (
    _boot_counts,
    _boot_recalls,
    arrival_order,
    paired_difference,
    recall_at_share,
    top_count,
    workload_recall_curve,
)


def test_recall_at_share_counts_the_top_rows():
    score = np.array([0.9, 0.1, 0.8, 0.2, 0.7, 0.3, 0.6, 0.4, 0.5, 0.0])
    pos = np.array([1, 1, 0, 0, 1, 0, 0, 0, 0, 0], dtype=bool)
    # top 30 % = rows 0, 2, 4: two of the three positives
    assert recall_at_share(score, pos, 0.3) == pytest.approx(2 / 3)
    assert recall_at_share(score, pos, 0.2) == pytest.approx(1 / 3)
    assert recall_at_share(score, pos, 1.0) == 1.0
    assert recall_at_share(score, pos, 0.0) == 0.0


def test_ties_go_to_the_earlier_arrival():
    score = np.zeros(4)
    assert recall_at_share(score, np.array([1, 0, 0, 0], bool), 0.25) == 1.0
    assert recall_at_share(score, np.array([0, 0, 0, 1], bool), 0.25) == 0.0


def test_top_count_floors_but_absorbs_float_noise():
    assert top_count(100, 0.29) == 29  # 0.29 * 100 = 28.999999999999996
    assert top_count(10, 0.25) == 2
    with pytest.raises(ValueError, match="share"):
        top_count(10, 1.5)


def test_no_positive_is_nan_and_missing_scores_are_refused():
    assert math.isnan(recall_at_share(np.arange(3.0), np.zeros(3, bool), 0.5))
    with pytest.raises(ValueError, match="order_score"):
        recall_at_share(np.array([0.1, np.nan]), np.array([1, 0], bool), 0.5)


def test_curve_intervals_hold_the_point_and_oracle_ratio():
    rng = np.random.default_rng(1)
    n = 2000
    y = rng.choice(["immediate", "high", "routine"], n, p=[0.05, 0.15, 0.8])
    truth = (y == "immediate") * 2.0 + (y == "high") * 1.0
    orderings = {"oracle": truth + rng.random(n) * 0.1, "random": rng.random(n)}
    curve = workload_recall_curve(orderings, y, shares=(0.02, 0.05, 0.10), n_boot=50)
    o = curve["curves"]["oracle"]["immediate"]
    r = curve["curves"]["random"]["immediate"]
    assert o[1]["recall"] == min(1.0, 100 / (y == "immediate").sum())  # 5 % = 100 rows
    for row in o + r:
        assert row["low"] <= row["recall"] + 1e-9 and row["recall"] <= row["high"] + 1e-9
    assert r[2]["recall"] < 0.3
    assert curve["ratio_to_oracle"]["random"]["immediate"]["10"] == pytest.approx(
        r[2]["recall"] / o[2]["recall"]
    )
    assert curve["positives"]["immediate"] == int((y == "immediate").sum())


def test_curve_point_matches_recall_at_share():
    rng = np.random.default_rng(2)
    y = rng.choice(["immediate", "high", "routine"], 500, p=[0.1, 0.2, 0.7])
    s = rng.random(500)
    curve = workload_recall_curve({"m": s}, y, shares=(0.1,), n_boot=0)
    pos = np.isin(y, ["immediate", "high"])
    assert curve["curves"]["m"]["immediate_or_high"][0]["recall"] == recall_at_share(s, pos, 0.1)
    assert curve["curves"]["m"]["immediate_or_high"][0]["low"] is None


def test_paired_difference_sees_a_real_gap_and_not_a_tie():
    pos = np.array([1] * 100 + [0] * 100, dtype=bool)
    a = pos.copy()
    b = pos.copy()
    b[:30] = False  # b misses 30 of the 100 positives
    d = paired_difference(b, a, pos, n_boot=200)
    assert d["difference"] == pytest.approx(-0.30)
    assert d["high"] < 0  # the whole interval is below zero
    same = paired_difference(a, a, pos, n_boot=50)
    assert same["difference"] == 0.0 and same["low"] == 0.0 and same["high"] == 0.0


def test_bootstrap_recall_equals_recall_on_the_resampled_rows():
    rng = np.random.default_rng(3)
    n = 300
    score = rng.integers(0, 20, n).astype(float)  # many ties
    pos = rng.random(n) < 0.2
    counts = _boot_counts(n, 5, seed=4)
    got = _boot_recalls(arrival_order(score), pos, counts, (0.05, 0.1, 0.3))
    for b in range(5):
        rows = np.repeat(np.arange(n), counts[b])  # the resample, still in arrival order
        for j, share in enumerate((0.05, 0.1, 0.3)):
            assert got[b, j] == pytest.approx(recall_at_share(score[rows], pos[rows], share))
