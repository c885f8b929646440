"""Matured labels only (issue 12): calibration and test windows end where labels of every
class have had time to arrive, so the newest window does not over-represent the classes
decided fast."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.splits import maturity, rolling_origins, time_split

T0 = pd.Timestamp("2024-01-01", tz="UTC")


def _export(seed: int = 0, n: int = 6000, days: int = 120):
    """A stream whose routine labels take ~10 days, exported at the end of ``days``:
    only decisions made by then are in the export (as from a live store)."""
    rng = np.random.default_rng(seed)
    t = T0 + pd.to_timedelta(np.sort(rng.uniform(0, days, n)), unit="D")
    y = rng.choice(np.array(["immediate", "high", "routine"]), n, p=[0.05, 0.25, 0.7])
    median = pd.Series(y).map({"immediate": 3.0, "high": 36.0, "routine": 240.0}).to_numpy()
    lag = np.exp(rng.normal(np.log(median), 0.6))
    d = t + pd.to_timedelta(lag, unit="h")
    export = T0 + pd.Timedelta(days=days)
    known = np.asarray(d < export)
    return pd.Series(t), pd.Series(d), y, known, export


def test_the_windows_end_where_every_class_is_decided():
    t, d, y, known, export = _export()
    tk, dk, yk = t[known].reset_index(drop=True), d[known].reset_index(drop=True), y[known]
    m = maturity(tk, dk, yk)
    assert m.lag_hours["immediate"] < m.lag_hours["high"] < m.lag_hours["routine"]
    assert m.as_of <= export and m.mature_before == m.as_of - pd.Timedelta(
        hours=m.lag_hours["routine"]
    )
    assert m.rows_left_out == int((tk >= m.mature_before).sum()) > 0
    naive = time_split(tk, dk, (0.6, 0.2, 0.2))
    mature = time_split(tk, dk, (0.6, 0.2, 0.2), mature=m)
    assert tk[mature.test].max() < m.mature_before <= tk[naive.test].max()

    def labelled_share(split) -> float:
        """Of every referral received in the test window, the share with a label."""
        lo, hi = split.bounds[2], split.bounds[3]
        inside = np.asarray((t >= lo) & (t < hi))
        return float(known[inside].mean())

    def immediate_excess(split) -> float:
        lo, hi = split.bounds[2], split.bounds[3]
        inside = np.asarray((t >= lo) & (t < hi))
        return (y[inside & known] == "immediate").mean() / (y[inside] == "immediate").mean()

    # the naive test window is missing labels of the slow classes and over-represents
    # the fast one; the matured window is (nearly) complete
    assert labelled_share(naive) < 0.9 and labelled_share(mature) > 0.97
    assert immediate_excess(naive) > 1.1 and immediate_excess(mature) < 1.05
    assert mature.describe()["maturity"]["rows_left_out"] == m.rows_left_out
    folds = rolling_origins(tk, dk, 2, mature=m)
    assert folds and all(tk[f.test].max() < m.mature_before for f in folds)


def test_a_complete_history_loses_nothing_and_bad_input_is_refused():
    t, d, y, _, _ = _export(1)
    m = maturity(t, d, y)  # every decision known, however late: nothing is immature
    assert m.rows_left_out == 0
    assert time_split(t, d, mature=m).test.sum() == time_split(t, d).test.sum()
    with pytest.raises(ValueError, match="quantile"):
        maturity(t, d, y, quantile=1.0)
    early = maturity(t, d, y, as_of=T0)
    with pytest.raises(ValueError, match="maturity"):
        time_split(t, d, mature=early)
