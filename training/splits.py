"""Time-based splits: never random. Train, then calibrate, then test, in time order.

Labels obey knowledge time too: a training row is used only if its outcome was decided
before the training window closed (at that moment nobody knew the later decisions).
Rolling-origin backtests move the origin forward and repeat the same three windows.

Labels arrive late and at different speeds (an immediate referral is decided within
hours, a routine one after days or weeks), so the newest rows of any export hold the
urgent labels and miss the routine ones. :func:`maturity` measures the decision lag by
class; the calibration and test windows then end where labels of every class have had
time to arrive (``Maturity.mature_before``), and the rows after it are counted, not used.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

MATURITY_QUANTILE = 0.95


@dataclass(frozen=True)
class Maturity:
    """When the labels of a data set are complete: ``as_of`` is the latest decision known
    (the export's moment), ``lag_hours`` the ``quantile`` of receipt-to-decision hours
    per class, and rows received from ``mature_before`` (= ``as_of`` minus the longest
    of those lags) on may still be missing labels of the slow classes."""

    quantile: float
    lag_hours: dict[str, float]
    as_of: pd.Timestamp
    mature_before: pd.Timestamp
    rows_left_out: int = 0

    def describe(self) -> dict[str, object]:
        return {
            "quantile": self.quantile,
            "lag_hours": dict(self.lag_hours),
            "as_of": self.as_of.isoformat(),
            "mature_before": self.mature_before.isoformat(),
            "rows_left_out": self.rows_left_out,
        }


def maturity(
    received_at: pd.Series,
    decided_at: pd.Series,
    labels: np.ndarray,
    quantile: float = MATURITY_QUANTILE,
    as_of: pd.Timestamp | None = None,
) -> Maturity:
    """The observed decision lag by class and the moment labels are complete up to.
    ``as_of`` defaults to the latest decision in the data."""
    if not 0 < quantile < 1:
        raise ValueError("quantile: must be between 0 and 1")
    t = pd.to_datetime(received_at, utc=True).reset_index(drop=True)
    d = pd.to_datetime(decided_at, utc=True).reset_index(drop=True)
    lag = ((d - t).dt.total_seconds() / 3600.0).to_numpy()
    y = np.asarray(labels)
    lags = {str(c): float(np.quantile(lag[y == c], quantile)) for c in sorted(set(y.tolist()))}
    at = as_of if as_of is not None else d.max()
    before = at - pd.Timedelta(hours=max(lags.values(), default=0.0))
    return Maturity(quantile, lags, at, before, int((t >= before).sum()))


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    calibrate: np.ndarray
    test: np.ndarray
    bounds: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp, pd.Timestamp]
    maturity: Maturity | None = None

    def describe(self) -> dict[str, object]:
        a, b, c, d = (x.isoformat() for x in self.bounds)
        out: dict[str, object] = {
            "train": [a, b],
            "calibrate": [b, c],
            "test": [c, d],
            "rows": {
                "train": int(self.train.sum()),
                "calibrate": int(self.calibrate.sum()),
                "test": int(self.test.sum()),
            },
        }
        if self.maturity is not None:
            out["maturity"] = self.maturity.describe()
        return out


def time_split(
    received_at: pd.Series,
    decided_at: pd.Series | None = None,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
    mature: Maturity | None = None,
) -> Split:
    """Split the span [start, end] by time into windows of the given fractions. With
    ``mature``, the span ends no later than ``mature.mature_before``: the windows hold
    only rows whose labels of every class have had time to arrive."""
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        raise ValueError("fractions: must be three positive numbers summing to 1")
    t = pd.to_datetime(received_at, utc=True)
    lo = start if start is not None else t.min()
    hi = end if end is not None else t.max() + pd.Timedelta(seconds=1)
    if mature is not None and mature.mature_before < hi:
        hi = mature.mature_before
        if hi <= lo:
            raise ValueError("maturity: no row's labels have had time to arrive yet")
    span = hi - lo
    b1 = lo + span * fractions[0]
    b2 = b1 + span * fractions[1]
    train = ((t >= lo) & (t < b1)).to_numpy()
    if decided_at is not None:
        known = (pd.to_datetime(decided_at, utc=True) < b1).to_numpy()
        train &= known
    cal = ((t >= b1) & (t < b2)).to_numpy()
    test = ((t >= b2) & (t < hi)).to_numpy()
    for name, m in (("train", train), ("calibrate", cal), ("test", test)):
        if not m.any():
            raise ValueError(f"{name} window is empty: the data span is too short to split")
    return Split(train, cal, test, (lo, b1, b2, hi), mature)


def rolling_origins(
    received_at: pd.Series,
    decided_at: pd.Series | None,
    folds: int,
    window: pd.Timedelta | None = None,
    mature: Maturity | None = None,
) -> list[Split]:
    """``folds`` backtests ending at the data's end (or where its labels are mature, see
    :func:`time_split`), each moving the origin back by one test window; calibrate and
    test windows are each ``window`` long (default: 1/8 of the span), training uses
    everything before."""
    t = pd.to_datetime(received_at, utc=True)
    lo, hi = t.min(), t.max() + pd.Timedelta(seconds=1)
    if mature is not None:
        hi = min(hi, mature.mature_before)
    w = window or (hi - lo) / 8
    out = []
    for k in range(folds):
        end = hi - w * k
        start_test = end - w
        start_cal = start_test - w
        if start_cal <= lo + w:
            break
        f_train = (start_cal - lo) / (end - lo)
        f_cal = w / (end - lo)
        fractions = (f_train, f_cal, 1 - f_train - f_cal)
        out.append(time_split(t, decided_at, fractions, lo, end, mature))
    return list(reversed(out))
