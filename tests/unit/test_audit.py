"""Group audit: planted deficits are found, fair and small groups are not flagged."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from training.audit import capacity_audit, group_audit, queue_audit


def _planted(seed: int, n: int = 30_000):
    """Urgent referrals from source ``bad`` are scored as if routine half the time."""
    rng = np.random.default_rng(seed)
    source = rng.choice(["ncmec", "industry", "bad", "tiny"], size=n, p=[0.6, 0.3, 0.098, 0.002])
    y = rng.choice(["immediate", "high", "routine"], size=n, p=[0.05, 0.15, 0.8])
    signal = np.select([y == "immediate", y == "high"], [2.0, 1.0], 0.0)
    hidden = (source == "bad") & (rng.random(n) < 0.5)
    priority = np.where(hidden, 0.0, signal) + rng.normal(0, 0.6, size=n)
    received = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        rng.random(n) * 24 * 90, unit="h"
    )
    ids = np.array([f"ref-{i}" for i in range(n)])
    return source, y, priority, received, ids


def test_planted_deficit_is_flagged_and_fair_groups_are_not():
    source, y, priority, received, ids = _planted(1)
    k = int(0.2 * len(y))
    res = capacity_audit(
        source,
        y,
        priority,
        k=k,
        received_at=received,
        ids=ids,
        grouping="source",
        n_boot=500,
        seed=3,
    )
    t = res.table.set_index(["metric", "group"])["status"]
    for metric in ("immediate_recall_at_k", "immediate_or_high_recall_at_k"):
        assert t[(metric, "bad")] == "flagged"
        assert t[(metric, "ncmec")] == "ok" and t[(metric, "industry")] == "ok"
    assert t[("immediate_recall_at_k", "tiny")] == "too_few"
    assert {"metric": "immediate_recall_at_k", "group": "bad"} in res.report["flagged"]
    assert "tiny" in res.report["too_few"]
    json.dumps(res.report, allow_nan=False)


def test_intervals_cover_the_value_and_are_seeded():
    rng = np.random.default_rng(2)
    groups = rng.choice(["a", "b", None], size=5_000)
    positive = rng.random(5_000) < 0.3
    hit = rng.random(5_000) < 0.7
    one = group_audit(groups, positive, hit, metric="m", grouping="g", seed=7)
    two = group_audit(groups, positive, hit, metric="m", grouping="g", seed=7)
    pd.testing.assert_frame_equal(one, two)
    assert "(missing)" in set(one["group"])
    assert np.all((one["ci_low"] <= one["value"]) & (one["value"] <= one["ci_high"]))
    assert one["n"].sum() == 5_000 and one["n_positive"].sum() == positive.sum()
    assert set(one["status"]) == {"ok"}


def test_binomial_bootstrap_matches_explicit_resampling():
    rng = np.random.default_rng(4)
    hit = rng.random(150) < 0.62
    table = group_audit(
        np.zeros(150), np.ones(150, bool), hit, metric="m", grouping="g", n_boot=4_000, seed=5
    )
    draws = rng.integers(0, 150, size=(4_000, 150))
    lo, hi = np.percentile(hit[draws].mean(axis=1), [2.5, 97.5])
    assert table["ci_low"].iat[0] == pytest.approx(lo, abs=0.02)
    assert table["ci_high"].iat[0] == pytest.approx(hi, abs=0.02)


def test_queue_audit_flags_a_group_that_waits_longer():
    rng = np.random.default_rng(6)
    n = 8_000
    province = rng.choice(["ON", "QC", "NU"], size=n, p=[0.5, 0.45, 0.05])
    y = rng.choice(["immediate", "high", "routine"], size=n, p=[0.2, 0.3, 0.5])
    wait = rng.exponential(6.0, size=n) * np.where(province == "QC", 4.0, 1.0)
    res = queue_audit(province, y, wait, within_hours=24, grouping="province", n_boot=300)
    t = res.table.set_index(["metric", "group"])["status"]
    assert t[("immediate_within_24h", "QC")] == "flagged"
    assert t[("immediate_within_24h", "ON")] == "ok"
    assert res.report["settings"]["within_hours"] == 24


def test_too_few_resamples_are_refused():
    with pytest.raises(ValueError, match="200"):
        group_audit(["a"], [True], [True], metric="m", grouping="g", n_boot=50)


def test_flag_needs_both_a_material_gap_and_an_interval_below_the_overall():
    def block(name: str, n: int, hits: int):
        return [name] * n, [True] * n, [True] * hits + [False] * (n - hits)

    parts = [
        block("big", 10_000, 8_000),
        block("slightly_worse", 10_000, 7_700),
        block("noisy", 60, 42),
    ]
    groups, positive, hit = (sum((p[i] for p in parts), []) for i in range(3))
    t = group_audit(groups, positive, hit, metric="m", grouping="g", seed=1).set_index("group")
    assert t.loc["slightly_worse", "ci_high"] < t.loc["slightly_worse", "overall"]
    assert t.loc["slightly_worse", "status"] == "ok"  # certain, but below the stated gap
    assert t.loc["noisy", "shortfall"] > 0.05
    assert t.loc["noisy", "status"] == "ok"  # large gap, but noise could explain it
