"""Learned and simple baselines the model must beat, measured like the model.

A logistic regression on exactly the model's feature frame (a scikit-learn pipeline:
missing values imputed with an indicator, numbers log-compressed and standardised,
categoricals one-hot) is the learned baseline: if a gradient-boosted model with monotone
constraints does not beat it, its complexity buys nothing. ``rules_only`` (the safety
rules alone), ``source_priority`` (the source's own code) and the ``oracle`` (synthetic
data only) are the others. The model's margin over the logistic regression is reported
with a paired bootstrap (the same resampled referrals for both), and the report says in
words whether the model beats it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, StandardScaler

from features.contract import URGENCY_CLASSES
from training.metrics import arrival_key, class_codes, review_order

TOP_SHARES = (0.05, 0.10)
MAX_ITER = 200


def _signed_log(x: np.ndarray) -> np.ndarray:
    return np.sign(x) * np.log1p(np.abs(x))


def logistic_pipeline(X: pd.DataFrame) -> Pipeline:
    """The learned baseline's pipeline for the columns of ``X`` (not fitted)."""
    cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
    nums = [c for c in X.columns if c not in cats]
    numeric = make_pipeline(
        SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
        FunctionTransformer(_signed_log),
        StandardScaler(),
    )
    categorical = make_pipeline(
        SimpleImputer(strategy="constant", fill_value="missing"),
        OneHotEncoder(handle_unknown="ignore", min_frequency=20),
    )
    pre = ColumnTransformer([("num", numeric, nums), ("cat", categorical, cats)])
    return make_pipeline(pre, LogisticRegression(C=1.0, max_iter=MAX_ITER, tol=1e-3))


def _as_objects(X: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as plain objects (NaN for missing), as the imputer expects them."""
    out = X.copy()
    for c in out.columns:
        if isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype(object).where(out[c].notna(), np.nan)
    return out


def fit_logistic(X: pd.DataFrame, y: Any, sample_weight: np.ndarray | None = None) -> Pipeline:
    """Fit the learned baseline on urgency labels (class names), each row weighted by
    ``sample_weight`` when given (the labels' provenance weights, as the model's; rows of
    weight 0 are left out)."""
    pipe = logistic_pipeline(X)
    if sample_weight is None:
        pipe.fit(_as_objects(X), class_codes(y, URGENCY_CLASSES))
        return pipe
    keep = np.asarray(sample_weight, float) > 0
    pipe.fit(
        _as_objects(X[keep]),
        class_codes(np.asarray(y)[keep], URGENCY_CLASSES),
        logisticregression__sample_weight=np.asarray(sample_weight, float)[keep],
    )
    return pipe


def predict_logistic(pipe: Pipeline, X: pd.DataFrame) -> np.ndarray:
    """P(urgency) in ``URGENCY_CLASSES`` order, shape (n, 3) (absent classes get 0)."""
    raw = pipe.predict_proba(_as_objects(X))
    out = np.zeros((len(X), len(URGENCY_CLASSES)))
    out[:, pipe.classes_] = raw
    return out


def recall_at_top(
    score: np.ndarray, positive: np.ndarray, received_at: Any, ids: Any, share: float
) -> float | None:
    """Share of positives among the first ``share`` of referrals in review order."""
    if not positive.any():
        return None
    k = max(1, int(round(share * len(score))))
    top = review_order(score, received_at, ids)[:k]
    return float(positive[top].sum() / positive.sum())


def _auc(positive: np.ndarray, score: np.ndarray) -> float | None:
    if positive.all() or not positive.any():
        return None
    return float(roc_auc_score(positive, score))


def scores_row(
    score: np.ndarray, positive: np.ndarray, received_at: Any, ids: Any
) -> dict[str, Any]:
    """Immediate ROC-AUC and recall at the top shares for one ordering."""
    row: dict[str, Any] = {"immediate_roc_auc": _auc(positive, score)}
    for s in TOP_SHARES:
        row[f"immediate_recall_top_{int(s * 100)}pct"] = recall_at_top(
            score, positive, received_at, ids, s
        )
    return row


def paired_margin(
    model: np.ndarray,
    other: np.ndarray,
    positive: np.ndarray,
    received_at: Any,
    n_boot: int = 200,
    seed: int = 0,
) -> dict[str, Any]:
    """Model minus baseline on immediate ROC-AUC and recall at the top 5 %, with a 95 %
    paired-bootstrap interval (both orderings judged on the same resampled referrals)."""
    rng = np.random.default_rng(seed)
    t = arrival_key(received_at)
    n = len(positive)

    def diff(idx: np.ndarray) -> tuple[float, float]:
        p = positive[idx]
        if p.all() or not p.any():
            return (np.nan, np.nan)
        a = roc_auc_score(p, model[idx]) - roc_auc_score(p, other[idx])
        # a resample repeats referrals: rank by position so the order stays total
        pos = np.arange(len(idx))
        r_model = recall_at_top(model[idx], p, t[idx], pos, 0.05) or 0.0
        r_other = recall_at_top(other[idx], p, t[idx], pos, 0.05) or 0.0
        return (a, r_model - r_other)

    point = diff(np.arange(n))
    draws = np.array([diff(rng.integers(0, n, n)) for _ in range(n_boot)])
    out: dict[str, Any] = {"n_boot": n_boot}
    for j, name in enumerate(("immediate_roc_auc", "immediate_recall_top_5pct")):
        lo, hi = np.nanpercentile(draws[:, j], [2.5, 97.5])
        out[name] = {
            "margin": point[j],
            "ci95": [float(lo), float(hi)],
            "excludes_zero": bool(lo > 0 or hi < 0),
        }
    return out


def verdict(margin: Mapping[str, Any]) -> str:
    """The report's plain sentence about the model against logistic regression."""
    auc = margin["immediate_roc_auc"]
    lo, hi = auc["ci95"]
    if lo > 0:
        return f"the model beats logistic regression on immediate ROC-AUC (margin {auc['margin']:+.4f}, 95% CI {lo:+.4f} to {hi:+.4f})"
    if hi < 0:
        return f"the model does NOT beat logistic regression: it is worse on immediate ROC-AUC (margin {auc['margin']:+.4f}, 95% CI {lo:+.4f} to {hi:+.4f})"
    return f"the model does NOT beat logistic regression: the margin on immediate ROC-AUC is not significant ({auc['margin']:+.4f}, 95% CI {lo:+.4f} to {hi:+.4f})"


def training_rows(received_at: pd.Series, decided_at: pd.Series, window: np.ndarray) -> np.ndarray:
    """Rows the learned baseline may learn from: received, and decided, before the window."""
    t = pd.to_datetime(received_at, utc=True)
    start = t[window].min()
    return ((t < start) & (pd.to_datetime(decided_at, utc=True) < start)).to_numpy()


def baselines_block(
    X: pd.DataFrame,
    y_urgency: np.ndarray,
    received_at: pd.Series,
    decided_at: pd.Series,
    ids: np.ndarray,
    window: np.ndarray,
    scores: Mapping[str, np.ndarray],
    n_boot: int = 200,
    label_weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """The report's ``baselines`` block for the referrals of ``window``.

    ``scores``: ordering name -> score on the window (higher first); must hold ``model``
    (P(immediate)) and may hold ``rules_only``, ``source_priority``, ``oracle``. The
    logistic regression is fitted here on the rows before the window, weighted by
    ``label_weights`` (per row of ``X``; the model's ``TrainConfig.label_weights`` by
    provenance, so both learn from the same labels; None: every row weighs 1).
    """
    pos = y_urgency[window] == "immediate"
    t = received_at[window]
    train = training_rows(received_at, decided_at, window)
    if label_weights is not None:
        train &= np.asarray(label_weights, float) > 0
    out: dict[str, Any] = {"orderings": {}, "logistic": None, "margin_over_logistic": None}
    all_scores = dict(scores)
    enough = train.sum() >= 200 and len(set(y_urgency[train])) == len(URGENCY_CLASSES)
    if enough:
        w = None if label_weights is None else np.asarray(label_weights, float)[train]
        pipe = fit_logistic(X[train], y_urgency[train], w)
        all_scores["logistic"] = predict_logistic(pipe, X[window])[:, 0]
        out["logistic"] = {"n_train": int(train.sum()), "pipeline": LOGISTIC_DESCRIPTION}
    else:
        out["logistic_missing"] = (
            "fewer than 200 labelled referrals (or a class missing) before the window"
        )
    for name, s in all_scores.items():
        out["orderings"][name] = scores_row(np.asarray(s, float), pos, t, ids[window])
    if "logistic" in all_scores:
        margin = paired_margin(all_scores["model"], all_scores["logistic"], pos, t, n_boot=n_boot)
        out["margin_over_logistic"] = margin
        out["verdict"] = verdict(margin)
    else:
        out["verdict"] = "no logistic regression: " + out["logistic_missing"]
    return out


LOGISTIC_DESCRIPTION = (
    "scikit-learn: median imputation with missing-value indicators, signed log, standard "
    "scaling, one-hot categoricals; multinomial logistic regression (C=1) on the model's features"
)
