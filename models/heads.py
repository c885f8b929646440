"""The two LightGBM heads (urgency, viability) on the shared feature frame.

``num_threads`` is always set: on a shared 2-core machine LightGBM's default slows a fit
by orders of magnitude and a single-row predict from microseconds to milliseconds.
Training is deterministic for a seed (``deterministic``, row-wise histograms).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

DEFAULT_PARAMS: dict[str, Any] = {
    "objective": "multiclass",
    "num_class": 3,
    "learning_rate": 0.05,
    "num_leaves": 31,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.9,
    "bagging_fraction": 0.9,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "max_cat_to_onehot": 16,
    "verbosity": -1,
    "deterministic": True,
    "force_row_wise": True,
    "seed": 7,
}


def train_head(
    X: pd.DataFrame,
    y: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    *,
    num_threads: int = 2,
    rounds: int = 600,
    early_stopping: int = 50,
    params: dict[str, Any] | None = None,
    progress: Callable[[int, float], None] | None = None,
    weight: np.ndarray | None = None,
) -> lgb.Booster:
    """Fit one multiclass head; ``y`` holds class indices. Stops early on ``X_valid``.
    ``weight`` (per training row) weighs labels by how far they can be trusted."""
    p = {**DEFAULT_PARAMS, **(params or {}), "num_threads": num_threads}
    train = lgb.Dataset(X, y, weight=weight, free_raw_data=True)
    valid = lgb.Dataset(X_valid, y_valid, reference=train)
    callbacks: list[Any] = [lgb.early_stopping(early_stopping, verbose=False)]
    if progress is not None:

        def _cb(env: Any) -> None:
            if env.iteration % 25 == 0 and env.evaluation_result_list:
                progress(env.iteration, float(env.evaluation_result_list[0][2]))

        callbacks.append(_cb)
    return lgb.train(p, train, num_boost_round=rounds, valid_sets=[valid], callbacks=callbacks)


def margins(booster: lgb.Booster, X: pd.DataFrame, num_threads: int = 1) -> np.ndarray:
    """Raw (pre-softmax) scores, shape (n, 3)."""
    return np.asarray(booster.predict(X, raw_score=True, num_threads=num_threads))
