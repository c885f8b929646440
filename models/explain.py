"""Per-referral explanations from LightGBM's own TreeSHAP (``pred_contrib``).

For a multiclass booster ``pred_contrib`` returns, per class, one contribution per feature
plus the base value; they sum to that class's raw margin (tests check this and compare
with the ``shap`` package). We explain the class that decided the answer (the model's
urgency tier, the most likely viability) and turn the largest contributions into plain
sentences with the feature catalogue. Contributions are in log-odds of that class.
"""

from __future__ import annotations

import math
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.catalogue import BY_NAME
from features.contract import Reason


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
    contrib: np.ndarray, row: pd.Series, head: str, class_name: str, k: int
) -> list[Reason]:
    """The ``k`` largest |contributions| of one row (``contrib``: per-feature, no base)."""
    order = np.argsort(-np.abs(contrib), kind="stable")[:k]
    out = []
    for j in order:
        c = float(contrib[j])
        if c == 0.0:
            break
        name = str(row.index[j])
        value = _jsonable(row.iloc[j])
        spec = BY_NAME[name]
        direction = "raises" if c > 0 else "lowers"
        text = f"{spec.describe(value)}: {direction} the {head} estimate for '{class_name}'"
        out.append(
            Reason(feature=name, value=value, contribution=round(c, 6), text=text, head=head)
        )
    return out
