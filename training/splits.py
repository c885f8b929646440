"""Time-based splits: never random. Train, then calibrate, then test, in time order.

Labels obey knowledge time too: a training row is used only if its outcome was decided
before the training window closed (at that moment nobody knew the later decisions).
Rolling-origin backtests move the origin forward and repeat the same three windows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Split:
    train: np.ndarray
    calibrate: np.ndarray
    test: np.ndarray
    bounds: tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp, pd.Timestamp]

    def describe(self) -> dict[str, object]:
        a, b, c, d = (x.isoformat() for x in self.bounds)
        return {
            "train": [a, b],
            "calibrate": [b, c],
            "test": [c, d],
            "rows": {
                "train": int(self.train.sum()),
                "calibrate": int(self.calibrate.sum()),
                "test": int(self.test.sum()),
            },
        }


def time_split(
    received_at: pd.Series,
    decided_at: pd.Series | None = None,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    start: pd.Timestamp | None = None,
    end: pd.Timestamp | None = None,
) -> Split:
    """Split the span [start, end] by time into windows of the given fractions."""
    if abs(sum(fractions) - 1.0) > 1e-9 or min(fractions) <= 0:
        raise ValueError("fractions: must be three positive numbers summing to 1")
    t = pd.to_datetime(received_at, utc=True)
    lo = start if start is not None else t.min()
    hi = end if end is not None else t.max() + pd.Timedelta(seconds=1)
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
    return Split(train, cal, test, (lo, b1, b2, hi))


def rolling_origins(
    received_at: pd.Series,
    decided_at: pd.Series | None,
    folds: int,
    window: pd.Timedelta | None = None,
) -> list[Split]:
    """``folds`` backtests ending at the data's end, each moving the origin back by one
    test window; calibrate and test windows are each ``window`` long (default: 1/8 of the
    span), training uses everything before."""
    t = pd.to_datetime(received_at, utc=True)
    lo, hi = t.min(), t.max() + pd.Timedelta(seconds=1)
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
        out.append(time_split(t, decided_at, (f_train, f_cal, 1 - f_train - f_cal), lo, end))
    return list(reversed(out))
