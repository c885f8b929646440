"""Per-referral explanations from LightGBM's own TreeSHAP (``pred_contrib``).

For a multiclass booster ``pred_contrib`` returns, per class, one contribution per feature
plus the base value; they sum to that class's raw margin (tests check this and compare
with the ``shap`` package). We explain the class that decided the answer (the model's
urgency tier, the most likely viability) and turn the largest contributions into plain
sentences with the feature catalogue. Contributions are in log-odds of that class.

``contributions`` (every class, LightGBM's own) is the reference; the scoring path uses
``explain_rows``: :mod:`models.treeshap` for just the class shown, on the matrix built
once by :func:`feature_matrix`, equal to the reference within 1e-6 (tests check both).
"""

from __future__ import annotations

import gc
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.catalogue import BY_NAME
from features.contract import Reason
from models import treeshap


def contributions(booster: lgb.Booster, X: pd.DataFrame, num_threads: int = 1) -> np.ndarray:
    """Array (n, k, F+1): per class, per-feature contributions and (last) the base value."""
    raw = np.asarray(booster.predict(X, pred_contrib=True, num_threads=num_threads))
    k = booster.num_model_per_iteration()
    return raw.reshape(len(X), k, X.shape[1] + 1)


def _jsonable(v: Any) -> Any:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if isinstance(v, np.generic):
        v = v.item()
        return None if isinstance(v, float) and math.isnan(v) else v
    return v if isinstance(v, (int, float, str, bool)) else str(v)


def top_reasons(
    contrib: np.ndarray,
    row: pd.Series,
    head: str,
    class_name: str,
    k: int,
    against: str | None = None,
) -> list[Reason]:
    """The ``k`` largest |contributions| of one row (``contrib``: per-feature, no base)."""
    return _reasons(contrib, row.index, row.iloc.__getitem__, head, class_name, k, against)


def _reasons(
    contrib: np.ndarray,
    names: Sequence[Any],
    value_at: Callable[[int], Any],
    head: str,
    class_name: str,
    k: int,
    against: str | None = None,
    order: np.ndarray | None = None,
) -> list[Reason]:
    """``order``: the row's top-``k`` feature positions if already known (a batch sorts
    every row at once), else sorted here; the same stable order either way."""
    over = f" over '{against}'" if against else ""
    if order is None:
        order = np.argsort(-np.abs(contrib), kind="stable")[:k]
    out = []
    for j in order:
        c = float(contrib[j])
        if c == 0.0:
            break
        name = str(names[j])
        value = _jsonable(value_at(j))
        spec = BY_NAME[name]
        direction = "raises" if c > 0 else "lowers"
        text = f"{spec.describe(value)}: {direction} the {head} estimate for '{class_name}'{over}"
        out.append(
            Reason(feature=name, value=value, contribution=round(c, 6), text=text, head=head)  # type: ignore[arg-type]
        )
    return out


def feature_matrix(X: pd.DataFrame, pandas_categorical: list[list[Any]] | None) -> np.ndarray:
    """The float64 matrix LightGBM builds from ``X`` inside ``predict`` (categorical codes
    in the training levels, NaN where missing), built once and shared by both heads and
    the explanations instead of once per ``predict`` call (milliseconds per call)."""
    M = np.empty(X.shape, dtype=np.float64)
    is_cat = [isinstance(d, pd.CategoricalDtype) for d in X.dtypes]
    num = [j for j, c in enumerate(is_cat) if not c]
    if num and not _numeric_blocks(X, M):
        M[:, num] = X.iloc[:, num].to_numpy(dtype=np.float64)
    levels = iter(pandas_categorical or [])
    n_cat = 0
    for j in (j for j, c in enumerate(is_cat) if c):
        n_cat += 1
        cat = X.iloc[:, j].array
        want = next(levels, None)
        if want is not None and list(cat.categories) != list(want):
            cat = cat.set_categories(want)
        codes = cat.codes.astype(np.float64)
        codes[codes < 0] = np.nan
        M[:, j] = codes
    if pandas_categorical is not None and n_cat != len(pandas_categorical):
        raise ValueError("X: categorical columns do not match the model's")
    return M


def _numeric_blocks(X: pd.DataFrame, M: np.ndarray) -> bool:
    """Copy ``X``'s numeric blocks into ``M`` straight from pandas' block manager (one
    copy per dtype block; selecting 75 columns costs ~1 ms on a one-row frame). False
    when the frame is not laid out as plain 2-D numpy blocks: the caller falls back."""
    try:
        for blk in X._mgr.blocks:  # type: ignore[attr-defined]
            if isinstance(blk.dtype, pd.CategoricalDtype):
                continue
            vals = blk.values
            if not isinstance(vals, np.ndarray) or vals.ndim != 2 or vals.dtype.kind not in "fiub":
                return False
            M[:, blk.mgr_locs.as_array] = vals.T
        return True
    except AttributeError:
        return False


class _Values:
    """Row values of ``X`` as an explanation shows them, read column by column on demand
    (``X.iloc[i]`` builds a mixed-type Series per row, the slowest step of a batch)."""

    def __init__(self, X: pd.DataFrame, M: np.ndarray) -> None:
        self.X, self.M = X, M
        self.floats = [d.kind == "f" for d in X.dtypes]  # exact in M (float32 -> float64)
        self.cols: dict[int, np.ndarray] = {}

    def at(self, i: int) -> Callable[[int], Any]:
        def value(j: int) -> Any:
            if self.floats[j]:
                return self.M[i, j]
            col = self.cols.get(j)
            if col is None:
                col = self.cols[j] = self.X.iloc[:, j].to_numpy()
            return col[i]

        return value


def contrast_for(
    forest: treeshap.Forest, M: np.ndarray, classes: np.ndarray, against: np.ndarray
) -> np.ndarray:
    """Contributions to the log-odds of ``classes[i]`` against ``against[i]`` (the margin
    difference; ``against[i] < 0``: the class's own margin), shape (n, F+1), base last.

    Why: the urgency head holds ``routine``'s margin at zero (``training.fit``), so
    routine's own contributions are all zero; a routine referral is explained by what
    makes it routine *rather than* high, ``margin(routine) - margin(high)``, which is
    exactly log P(routine)/P(high) before calibration."""
    out = treeshap.contributions_for(forest, M, classes)
    rows = np.flatnonzero(against >= 0)
    if len(rows):
        out[rows] -= treeshap.contributions_for(forest, M[rows], against[rows])
    return out


def explain_rows(
    forests: dict[str, treeshap.Forest],
    X: pd.DataFrame,
    M: np.ndarray,
    shown: Mapping[str, tuple[np.ndarray, Sequence[str], int]],
    against: Mapping[str, np.ndarray] | None = None,
) -> list[list[Reason]]:
    """Reasons per row for the heads in ``shown`` (head -> (class index per row, class
    names, how many reasons)), in that order, from the class-selective TreeSHAP.
    ``against`` (head -> class index per row, -1 for none) explains a class against
    another one (:func:`contrast_for`)."""
    against = against or {}
    contrib = {
        h: contrast_for(forests[h], M, c, against[h])
        if h in against
        else treeshap.contributions_for(forests[h], M, c)
        for h, (c, _, _) in shown.items()
    }
    # every row's top features in one sort per head (stable, as _reasons sorts one row)
    orders = {
        h: np.argsort(-np.abs(contrib[h][:, :-1]), axis=1, kind="stable")[:, :k]
        for h, (_, _, k) in shown.items()
    }
    values = _Values(X, M)
    names = list(X.columns)
    out: list[list[Reason]] = []
    with _gc_paused(len(X) >= GC_PAUSE_FROM):
        for i in range(len(X)):
            value = values.at(i)
            reasons: list[Reason] = []
            for h, (cls, class_names, k) in shown.items():
                vs = against.get(h)
                other = class_names[vs[i]] if vs is not None and vs[i] >= 0 else None
                reasons += _reasons(
                    contrib[h][i, :-1], names, value, h, class_names[cls[i]], k, other, orders[h][i]
                )
            out.append(reasons)
    return out


#: Rows from which the cyclic garbage collector is paused while reasons are built.
GC_PAUSE_FROM = 1_000


@contextmanager
def _gc_paused(pause: bool) -> Iterator[None]:
    """Pause Python's cyclic GC while a batch builds its reasons: hundreds of thousands of
    small acyclic objects would trigger full collections that rescan every live object,
    which made 100k rows ~20% slower per row than 10k. Reference counting still frees
    everything; the collector resumes (if it was on) when the batch is done."""
    was = gc.isenabled()
    if pause and was:
        gc.disable()
    try:
        yield
    finally:
        if pause and was:
            gc.enable()
