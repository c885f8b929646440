"""The evaluation report that ``triage evaluate`` writes: one nested, JSON-ready dict.

Assembled here from the pieces the pure functions produce, so the command that wires
models to data owns no layout of its own. Every key is documented in
``docs/evaluation.md``; bump :data:`REPORT_SCHEMA_VERSION` on any breaking change.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from training.audit import AuditResult
from training.metrics import DEFAULT_BACKLOG_DAYS, TIE_BREAK, k_for_staffing, oracle_ratio
from training.report_types import EvaluationReport, as_report

REPORT_SCHEMA_VERSION = 1
ORACLE_RATIO_CONVENTION = (
    "model/oracle for higher-is-better metrics (AUCs), oracle/model for lower-is-better "
    "(log loss, Brier): 1 = oracle quality, below 1 = worse"
)

CAPACITY_ASSUMPTION = (
    "the queue is a backlog of backlog_days of inflow; staff clear one day of inflow per day, "
    "so at capacity (after one day) they have reached 1/backlog_days of it"
)


def jsonable(value: Any) -> Any:
    """Plain JSON types: numpy scalars become Python numbers, NaN and inf become ``None``."""
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return value


def evaluation_report(
    *,
    heads: Mapping[str, dict[str, Any]],
    capacity: Mapping[str, dict[str, Any]],
    queue: pd.DataFrame,
    audits: Sequence[AuditResult | dict[str, Any]] = (),
    oracle: Mapping[str, dict[str, Any]] | None = None,
    backlog_days: float = DEFAULT_BACKLOG_DAYS,
    meta: Mapping[str, Any] | None = None,
    queue_sim: Mapping[str, Any] | None = None,
    operating_point: Mapping[str, Any] | None = None,
    workload_recall: Mapping[str, Any] | None = None,
    conformal: Mapping[str, Any] | None = None,
) -> EvaluationReport:
    """Nest the evaluation pieces into the report.

    ``heads``: head name → :func:`training.metrics.head_metrics`; ``oracle``: the same for
    the oracle's probabilities (synthetic data only) — the ratios are computed here;
    ``capacity``: policy name → :func:`training.metrics.capacity_metrics`; ``queue``: the
    table of :func:`training.queue_sim.compare_policies` (its ``attrs["staffing"]`` is
    kept); ``audits``: results of :mod:`training.audit`; ``meta``: model version, data
    window and anything else the caller wants recorded as-is; ``queue_sim``: the block of
    :func:`training.queue_runs.run_scenarios`;
    ``operating_point`` and
    ``workload_recall``: :func:`training.evaluate.operating_point` and
    :func:`training.workload.workload_recall_curve` (left out when not given);
    ``conformal``: :func:`models.conformal.coverage_summary` of the urgency sets on the window.
    """
    oracle_block = None
    if oracle is not None:
        oracle_block = {
            "convention": ORACLE_RATIO_CONVENTION,
            "heads": dict(oracle),
            "ratio": {h: oracle_ratio(heads[h], oracle[h]) for h in heads if h in oracle},
        }
    n_queue = next((int(c["n"]) for c in capacity.values()), None)
    at_capacity_k = (
        None if n_queue is None else k_for_staffing(n_queue, 1.0, n_queue / backlog_days)
    )
    policies = {str(name): dict(row) for name, row in queue.to_dict(orient="index").items()}
    report = {
        "schema_version": REPORT_SCHEMA_VERSION,
        "meta": dict(meta or {}),
        "heads": dict(heads),
        "oracle": oracle_block,
        "capacity": {
            "assumption": {
                "backlog_days": backlog_days,
                "at_capacity_k": at_capacity_k,
                "description": CAPACITY_ASSUMPTION,
            },
            "tie_break": TIE_BREAK,
            "policies": dict(capacity),
        },
        "queue": {
            "staffing": dict(queue.attrs.get("staffing", {})),
            "tie_break": TIE_BREAK,
            "policies": policies,
        },
        "audit": [a.report if isinstance(a, AuditResult) else dict(a) for a in audits],
    }
    if queue_sim is not None:
        report["queue_sim"] = dict(queue_sim)
    if operating_point is not None:
        report["operating_point"] = dict(operating_point)
    if workload_recall is not None:
        report["workload_recall"] = dict(workload_recall)
    if conformal is not None:
        report["conformal"] = dict(conformal)
    return as_report(jsonable(report))
