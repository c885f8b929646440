"""Evaluation metrics on plain arrays, so the model, the oracle and any baseline are measured
by exactly the same code.

Two families live here:

* **head metrics** (per prediction head): how well probabilities rank and how honest they
  are — one-vs-rest ROC-AUC and PR-AUC, log loss, Brier score, calibration error and the
  reliability curve behind it;
* **capacity metrics**: the decision reviewers actually make (domain brief §6.5) — of the
  urgent referrals, how many sit in the part of the queue that staff reach first.

Everything that orders a queue goes through :func:`review_order`, whose tie-break is
explicit (priority descending, then earlier ``received_at``, then smaller referral id) so
that the same inputs in any row order give the same answer.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from features.contract import URGENCY_CLASSES

DEFAULT_ECE_BINS = 15
PROBA_EPS = 1e-15
DEFAULT_BACKLOG_DAYS = 5.0
DEFAULT_CAPACITY_DAYS: tuple[float, ...] = (0.5, 1.0, 2.0)
URGENT: tuple[str, ...] = ("immediate", "high")
TIE_BREAK = "priority descending, then earlier received_at, then referral id ascending"
HOUR_NS = 3_600_000_000_000


# --- shared helpers: class codes, clocks, ids, queue order ---------------------------------


def class_codes(y: Iterable[Any], classes: Sequence[str]) -> np.ndarray:
    """Integer codes of ``y`` in ``classes``; an unknown label is an error, not a silent -1."""
    cat = pd.Categorical(np.asarray(y, dtype=object), categories=list(classes))
    codes = np.asarray(cat.codes, dtype=np.int64)
    if (codes < 0).any():
        bad = sorted({str(v) for v in np.asarray(y, dtype=object)[codes < 0]})[:5]
        raise ValueError(f"labels not in {tuple(classes)}: {bad}")
    return codes


def arrival_key(received_at: Any) -> np.ndarray:
    """Exact sort key for arrival times: int64 nanoseconds (UTC) for datetimes, floats as given.

    Numbers are taken to be hours (tests and simulations); datetimes without an offset are
    read as UTC. Missing times are refused: a referral without a time cannot be queued.
    """
    arr = received_at.to_numpy() if isinstance(received_at, pd.Series | pd.Index) else received_at
    arr = np.asarray(arr)
    if arr.dtype.kind in "iuf":
        out = arr.astype(np.float64)
        if not np.isfinite(out).all():
            raise ValueError("received_at has missing or infinite values")
        return out
    idx = pd.DatetimeIndex(pd.to_datetime(arr, utc=True))
    if idx.hasnans:
        raise ValueError("received_at has missing values")
    return np.asarray(idx.as_unit("ns").asi8, dtype=np.int64)


def to_hours(received_at: Any) -> np.ndarray:
    """Arrival times as float hours (since the epoch for datetimes, as given for numbers)."""
    key = arrival_key(received_at)
    if key.dtype.kind == "f":
        return key
    return key / HOUR_NS


def id_ranks(ids: Any) -> np.ndarray:
    """Rank of each referral id in sorted order; ids must be unique or the order is not total."""
    uniq, inverse, counts = np.unique(np.asarray(ids), return_inverse=True, return_counts=True)
    if (counts > 1).any():
        raise ValueError(f"duplicate referral ids: {uniq[counts > 1][:5].tolist()}")
    return inverse.astype(np.int64)


def _priority(priority: Any, n: int) -> np.ndarray:
    p = np.asarray(priority, dtype=np.float64)
    if p.shape != (n,):
        raise ValueError(f"priority has shape {p.shape}, expected ({n},)")
    if not np.isfinite(p).all():
        raise ValueError("priority has missing values: score or rank every referral")
    return p


def review_order(priority: Any, received_at: Any, ids: Any) -> np.ndarray:
    """Row indices in the order reviewers take them (see ``TIE_BREAK``)."""
    arrival = arrival_key(received_at)
    p = _priority(priority, len(arrival))
    ranks = id_ranks(ids)
    if len(ranks) != len(arrival):
        raise ValueError("received_at and ids differ in length")
    return np.lexsort((ranks, arrival, -p))


def queue_rank(priority: Any, received_at: Any, ids: Any) -> np.ndarray:
    """Position of each row in :func:`review_order` (0 = reviewed first)."""
    order = review_order(priority, received_at, ids)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank


# --- head metrics -------------------------------------------------------------------------


def calibration_bins(
    p: np.ndarray, hit: np.ndarray, n_bins: int = DEFAULT_ECE_BINS
) -> tuple[float, dict[str, list]]:
    """Equal-mass reliability bins and the expected calibration error over them.

    Equal-mass (not equal-width) bins because urgent classes are rare: equal-width bins
    leave the high-probability end with a handful of referrals and a noisy error.
    Returns ``(ece, {"mean_predicted", "observed", "count"})``.
    """
    p = np.asarray(p, dtype=np.float64)
    hit = np.asarray(hit, dtype=np.float64)
    n = len(p)
    b = min(n_bins, n)
    order = np.lexsort((hit, p))
    edges = (np.arange(b + 1) * n) // b
    counts = np.diff(edges)
    sum_p = np.add.reduceat(p[order], edges[:-1])
    sum_y = np.add.reduceat(hit[order], edges[:-1])
    ece = float(np.abs(sum_p - sum_y).sum() / n)
    curve = {
        "mean_predicted": (sum_p / counts).tolist(),
        "observed": (sum_y / counts).tolist(),
        "count": counts.tolist(),
    }
    return ece, curve


def _check_proba(proba: Any, n: int, k: int) -> np.ndarray:
    p = np.asarray(proba, dtype=np.float64)
    if p.shape != (n, k):
        raise ValueError(f"proba has shape {p.shape}, expected ({n}, {k})")
    if not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
        raise ValueError("proba must be finite and within [0, 1]")
    if not np.allclose(p.sum(axis=1), 1.0, atol=1e-4):
        raise ValueError("proba rows must sum to 1")
    return p


def _mean_or_none(values: list[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


def head_metrics(
    y: Any, proba: Any, classes: Sequence[str], n_bins: int = DEFAULT_ECE_BINS
) -> dict[str, Any]:
    """Ranking and calibration metrics of one head (urgency or viability).

    A class absent from ``y`` (or the only class present) has no ROC-AUC or PR-AUC: those
    are ``None`` rather than an error, because a small evaluation window can lack the rare
    class. Its ECE is still defined (it measures probability spent on a class that never
    occurs). Brier is the original multiclass form: per-referral squared distance to the
    one-hot label summed over classes, averaged (0 best, 2 worst).
    """
    codes = class_codes(y, classes)
    n, k = len(codes), len(classes)
    if n == 0:
        raise ValueError("no referrals to evaluate")
    p = _check_proba(proba, n, k)
    onehot = codes[:, None] == np.arange(k)[None, :]
    per_class: dict[str, dict[str, Any]] = {}
    reliability: dict[str, dict[str, list]] = {}
    for j, name in enumerate(classes):
        yj, pj = onehot[:, j], p[:, j]
        n_pos = int(yj.sum())
        defined = 0 < n_pos < n
        ece, reliability[name] = calibration_bins(pj, yj, n_bins)
        per_class[name] = {
            "n_positive": n_pos,
            "prevalence": n_pos / n,
            "roc_auc": float(roc_auc_score(yj, pj)) if defined else None,
            "pr_auc": float(average_precision_score(yj, pj)) if defined else None,
            "ece": ece,
        }
    confidence = p.max(axis=1)
    correct = p.argmax(axis=1) == codes
    top_ece, reliability["top_label"] = calibration_bins(confidence, correct, n_bins)
    return {
        "n": n,
        "classes": list(classes),
        "log_loss": float(-np.mean(np.log(np.clip(p[np.arange(n), codes], PROBA_EPS, 1.0)))),
        "brier": float(np.mean(np.sum((p - onehot) ** 2, axis=1))),
        "accuracy": float(correct.mean()),
        "macro_roc_auc": _mean_or_none([c["roc_auc"] for c in per_class.values()]),
        "macro_pr_auc": _mean_or_none([c["pr_auc"] for c in per_class.values()]),
        "top_label_ece": top_ece,
        "ece_bins": n_bins,
        "per_class": per_class,
        "reliability": reliability,
    }


def _ratio(num: float | None, den: float | None) -> float | None:
    if num is None or den is None or den <= 0:
        return None
    return float(num / den)


def oracle_ratio(model_metrics: dict[str, Any], oracle_metrics: dict[str, Any]) -> dict[str, Any]:
    """Share of the oracle's quality the model reaches: 1 = as good as the oracle.

    Convention: model/oracle for higher-is-better metrics (AUCs), oracle/model for
    lower-is-better ones (log loss, Brier), so every ratio reads "higher is better" and is
    usually below 1. A model can exceed 1 by sampling noise on a finite window. ECE has no
    ratio: the oracle's ECE is pure sampling noise near 0, so the ratio would be noise too.
    """
    per_class = {
        name: {
            m: _ratio(model_metrics["per_class"][name][m], oracle_metrics["per_class"][name][m])
            for m in ("roc_auc", "pr_auc")
        }
        for name in model_metrics["per_class"]
    }
    return {
        "log_loss": _ratio(oracle_metrics["log_loss"], model_metrics["log_loss"]),
        "brier": _ratio(oracle_metrics["brier"], model_metrics["brier"]),
        "macro_roc_auc": _ratio(model_metrics["macro_roc_auc"], oracle_metrics["macro_roc_auc"]),
        "macro_pr_auc": _ratio(model_metrics["macro_pr_auc"], oracle_metrics["macro_pr_auc"]),
        "per_class": per_class,
    }


# --- capacity metrics ---------------------------------------------------------------------


def k_for_staffing(n_referrals: int, days: float, reviews_per_day: float) -> int:
    """How many queued referrals staff reach in ``days`` at ``reviews_per_day`` (capped at n)."""
    if n_referrals < 0 or days < 0 or reviews_per_day < 0:
        raise ValueError("n_referrals, days and reviews_per_day must be non-negative")
    return int(min(n_referrals, np.floor(days * reviews_per_day + 1e-9)))


def default_capacity_ks(
    n_referrals: int,
    backlog_days: float = DEFAULT_BACKLOG_DAYS,
    days: Sequence[float] = DEFAULT_CAPACITY_DAYS,
) -> list[int]:
    """The default budgets: the queue is a backlog of ``backlog_days`` of inflow, and staff
    clear one day of inflow per day, so after ``d`` days they reached ``d / backlog_days``
    of it (with the defaults: 10%, 20% — "at capacity" — and 40%)."""
    per_day = n_referrals / backlog_days
    return [k_for_staffing(n_referrals, d, per_day) for d in days]


def capacity_metrics(
    y_urgency: Any, priority: Any, k: int | Sequence[int], *, received_at: Any, ids: Any
) -> dict[str, Any]:
    """Recall and precision of ``immediate`` and of ``immediate|high`` in the top ``k``.

    The queue is ordered by :func:`review_order`; ``k`` larger than the queue is capped
    (``k_effective``). Recall is ``None`` when there are no positives, precision when k = 0.
    """
    codes = class_codes(y_urgency, URGENCY_CLASSES)
    order = review_order(priority, received_at, ids)
    if len(order) != len(codes):
        raise ValueError("y_urgency and priority differ in length")
    n = len(codes)
    groups = {"immediate": codes == 0, "immediate_or_high": codes <= 1}
    cums = {g: np.concatenate([[0], np.cumsum(m[order])]) for g, m in groups.items()}
    rows = []
    for kk in [k] if isinstance(k, int | np.integer) else list(k):
        if kk < 0:
            raise ValueError("k must be non-negative")
        ke = int(min(kk, n))
        row: dict[str, Any] = {"k": int(kk), "k_effective": ke, "share_of_queue": ke / n}
        for g, mask in groups.items():
            hits, pos = int(cums[g][ke]), int(mask.sum())
            row[f"{g}_recall"] = hits / pos if pos else None
            row[f"{g}_precision"] = hits / ke if ke else None
        rows.append(row)
    return {
        "n": n,
        "n_immediate": int(groups["immediate"].sum()),
        "n_immediate_or_high": int(groups["immediate_or_high"].sum()),
        "tie_break": TIE_BREAK,
        "at_k": rows,
    }
