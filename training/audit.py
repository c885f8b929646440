"""Group audit: does the queue serve urgent referrals from every source (or province) as
well as it serves them overall?

For each group the metric is a share of the group's urgent referrals that were served —
in the top ``k`` of the queue (:func:`capacity_audit`) or first reviewed within 24 h in the
queue simulation (:func:`queue_audit`). Each gets a seeded percentile-bootstrap interval.
A group is **flagged** only when both hold: its value is more than ``gap`` below the overall
value, and its interval lies entirely below the overall value — a large gap that noise
could explain is not a finding, nor is a tiny gap that is merely certain. Groups with fewer
than ``min_positives`` urgent referrals are reported as ``too_few``, never flagged.

The bootstrap resamples a group's urgent referrals with replacement while holding the
queue fixed (who is in the top ``k``, who waited how long). Because the metric is a mean of
0/1 indicators, the number of hits in one resample of ``m`` referrals with ``h`` hits is
exactly Binomial(m, h/m); drawing that directly is the same bootstrap, vectorised over all
groups and resamples at once with no ``(resamples × m)`` index matrix.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from features.contract import URGENCY_CLASSES
from training.metrics import class_codes, queue_rank

DEFAULT_GAP = 0.05
DEFAULT_MIN_POSITIVES = 20
DEFAULT_RESAMPLES = 1000
DEFAULT_LEVEL = 0.95
MISSING_GROUP = "(missing)"


class AuditResult(NamedTuple):
    """``table``: one row per (metric, group); ``report``: the same, JSON-ready."""

    table: pd.DataFrame
    report: dict[str, Any]


def _group_labels(groups: Any) -> np.ndarray:
    s = pd.Series(np.asarray(groups, dtype=object))
    return s.where(s.notna(), MISSING_GROUP).astype(str).to_numpy()


def _bootstrap_ci(
    m: np.ndarray, h: np.ndarray, n_boot: int, level: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = np.divide(h, m, out=np.zeros(len(m)), where=m > 0)
    draws = rng.binomial(m[:, None], p[:, None], size=(len(m), n_boot))
    shares = draws / np.maximum(m, 1)[:, None]
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(shares, [tail, 100 - tail], axis=1)
    return np.where(m > 0, lo, np.nan), np.where(m > 0, hi, np.nan)


def group_audit(
    groups: Any,
    positive: Any,
    hit: Any,
    *,
    metric: str,
    grouping: str,
    gap: float = DEFAULT_GAP,
    min_positives: int = DEFAULT_MIN_POSITIVES,
    n_boot: int = DEFAULT_RESAMPLES,
    level: float = DEFAULT_LEVEL,
    seed: int = 0,
) -> pd.DataFrame:
    """Audit one metric ``hit.mean()`` over ``positive`` rows, per group.

    Columns: grouping, metric, group, n (group size), n_positive, value, ci_low, ci_high,
    overall, shortfall (overall − value), status (``ok`` / ``flagged`` / ``too_few``).
    """
    if n_boot < 200:
        raise ValueError("use at least 200 bootstrap resamples")
    labels = _group_labels(groups)
    pos = np.asarray(positive, dtype=bool)
    hits = np.asarray(hit, dtype=bool) & pos
    if not (len(labels) == len(pos) == len(hits)):
        raise ValueError("groups, positive and hit differ in length")
    names, inverse = np.unique(labels, return_inverse=True)
    size = np.bincount(inverse, minlength=len(names))
    m = np.bincount(inverse, weights=pos, minlength=len(names)).astype(np.int64)
    h = np.bincount(inverse, weights=hits, minlength=len(names)).astype(np.int64)
    overall = hits.sum() / pos.sum() if pos.any() else np.nan
    value = np.divide(h, m, out=np.full(len(m), np.nan), where=m > 0)
    lo, hi = _bootstrap_ci(m, h, n_boot, level, seed)
    shortfall = overall - value
    flagged = (m >= min_positives) & (shortfall > gap) & (hi < overall)
    status = np.where(m < min_positives, "too_few", np.where(flagged, "flagged", "ok"))
    return pd.DataFrame(
        {
            "grouping": grouping,
            "metric": metric,
            "group": names,
            "n": size,
            "n_positive": m,
            "value": value,
            "ci_low": lo,
            "ci_high": hi,
            "overall": overall,
            "shortfall": shortfall,
            "status": status,
        }
    )


def _none_if_nan(v: Any) -> Any:
    if isinstance(v, float | np.floating) and np.isnan(v):
        return None
    return v.item() if isinstance(v, np.generic) else v


def _result(tables: list[pd.DataFrame], grouping: str, settings: dict[str, Any]) -> AuditResult:
    table = pd.concat(tables, ignore_index=True)
    records = [{k: _none_if_nan(v) for k, v in row.items()} for row in table.to_dict("records")]
    for r in records:
        del r["grouping"]
    overall = {t["metric"].iat[0]: _none_if_nan(t["overall"].iat[0]) for t in tables}
    report = {
        "grouping": grouping,
        "settings": settings,
        "overall": overall,
        "groups": records,
        "flagged": [
            {"metric": r["metric"], "group": r["group"]}
            for r in records
            if r["status"] == "flagged"
        ],
        "too_few": sorted({r["group"] for r in records if r["status"] == "too_few"}),
    }
    return AuditResult(table, report)


def _settings(options: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "gap": options.get("gap", DEFAULT_GAP),
        "min_positives": options.get("min_positives", DEFAULT_MIN_POSITIVES),
        "n_boot": options.get("n_boot", DEFAULT_RESAMPLES),
        "level": options.get("level", DEFAULT_LEVEL),
        "seed": options.get("seed", 0),
        **extra,
    }


def capacity_audit(
    groups: Any,
    y_urgency: Any,
    priority: Any,
    *,
    k: int,
    received_at: Any,
    ids: Any,
    grouping: str,
    **options: Any,
) -> AuditResult:
    """Per group: recall of ``immediate`` and of ``immediate|high`` in the queue's top ``k``."""
    codes = class_codes(y_urgency, URGENCY_CLASSES)
    in_top = queue_rank(priority, received_at, ids) < k
    tables = [
        group_audit(
            groups, codes == 0, in_top, metric="immediate_recall_at_k", grouping=grouping, **options
        ),
        group_audit(
            groups,
            codes <= 1,
            in_top,
            metric="immediate_or_high_recall_at_k",
            grouping=grouping,
            **options,
        ),
    ]
    return _result(tables, grouping, _settings(options, k=int(k)))


def queue_audit(
    groups: Any,
    y_urgency: Any,
    wait_hours: Any,
    *,
    within_hours: float = 24.0,
    grouping: str,
    **options: Any,
) -> AuditResult:
    """Per group: share of ``immediate`` (and ``immediate|high``) referrals first reviewed
    within ``within_hours`` in a queue simulation (``wait_hours`` from
    :func:`training.queue_sim.simulate_queue`)."""
    codes = class_codes(y_urgency, URGENCY_CLASSES)
    served = np.asarray(wait_hours, dtype=np.float64) <= within_hours
    tag = f"within_{within_hours:g}h"
    tables = [
        group_audit(
            groups, codes == 0, served, metric=f"immediate_{tag}", grouping=grouping, **options
        ),
        group_audit(
            groups,
            codes <= 1,
            served,
            metric=f"immediate_or_high_{tag}",
            grouping=grouping,
            **options,
        ),
    ]
    return _result(tables, grouping, _settings(options, within_hours=within_hours))
