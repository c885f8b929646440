"""The evaluation report's shape, as types: what ``evaluation.json`` holds and what the
gate, the card, the headline metrics and the commands read.

A tree of ``TypedDict`` s: the JSON on disk is unchanged (``REPORT_SCHEMA_VERSION`` 1,
``docs/evaluation.md``), and mypy checks every reader's keys against this one
declaration instead of each module trusting a nested dict of strings. Blocks nobody
reads by key stay ``dict[str, Any]``. :func:`read_report` reads a file back with its
version checked.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, NotRequired, TypedDict, cast

SUPPORTED_VERSIONS = (1,)


class PerClass(TypedDict):
    n_positive: int
    prevalence: float
    roc_auc: float | None
    pr_auc: float | None
    ece: float | None


class HeadMetrics(TypedDict):
    """:func:`training.metrics.head_metrics` of one head on the window."""

    n: int
    classes: list[str]
    log_loss: float
    brier: float
    accuracy: float
    macro_roc_auc: float | None
    macro_pr_auc: float | None
    top_label_ece: float
    ece_bins: int
    per_class: dict[str, PerClass]
    reliability: Any


class OracleBlock(TypedDict):
    convention: str
    heads: dict[str, HeadMetrics]
    ratio: dict[str, Any]


class AtK(TypedDict, total=False):
    k: int
    immediate_recall: float | None
    immediate_or_high_recall: float | None


class CapacityPolicy(TypedDict, total=False):
    n: int
    at_k: list[AtK]


class CapacityAssumption(TypedDict):
    backlog_days: float
    at_capacity_k: int | None
    description: str


class CapacityBlock(TypedDict):
    assumption: CapacityAssumption
    tie_break: str
    policies: dict[str, CapacityPolicy]


class QueueBlock(TypedDict):
    staffing: dict[str, Any]
    tie_break: str
    policies: dict[str, dict[str, Any]]


class AuditGroup(TypedDict, total=False):
    metric: str
    group: str
    status: str
    shortfall: float | None


class AuditBlock(TypedDict, total=False):
    grouping: str
    groups: list[AuditGroup]
    flagged: list[Any]


class TierShare(TypedDict, total=False):
    cap: float
    share_of_days_within_cap: float
    share_with_floor: float | None


class TargetRow(TypedDict):
    share: float
    recall: float | None
    precision: float | None
    oracle_recall_at_same_share: float | None
    ratio_to_oracle: float | None


class OperatingPoint(TypedDict, total=False):
    """:func:`training.evaluate.operating_point`: the policy's fields, the tiers' shares
    held day by day, and each target's row."""

    policy_version: str
    tier_shares: dict[str, Any]
    immediate: TargetRow
    immediate_or_high: TargetRow


class Conformal(TypedDict, total=False):
    coverage: dict[str, float | None]
    mean_set_size: float
    share_cannot_rule_out_immediate: float


class Meta(TypedDict, total=False):
    window: list[str]
    n: int
    data_name: str
    model_version: str
    model_training: dict[str, Any]
    training_run: str


class EvaluationReport(TypedDict):
    """``evaluation.json`` (``training.report_schema.evaluation_report`` builds it; the
    training pipeline and ``triage evaluate`` add the blocks marked not required)."""

    schema_version: int
    meta: Meta
    heads: dict[str, HeadMetrics]
    oracle: OracleBlock | None
    capacity: CapacityBlock
    queue: QueueBlock
    audit: list[AuditBlock]
    queue_sim: NotRequired[dict[str, Any]]
    operating_point: NotRequired[OperatingPoint]
    workload_recall: NotRequired[dict[str, Any]]
    conformal: NotRequired[Conformal]
    backtests: NotRequired[list[dict[str, Any]]]
    backtest: NotRequired[dict[str, Any]]
    labels: NotRequired[dict[str, Any]]
    maturity: NotRequired[dict[str, Any] | None]
    baselines: NotRequired[dict[str, Any]]
    disparities: NotRequired[dict[str, Any]]


def as_report(value: Any) -> EvaluationReport:
    """A report read from JSON (or built as a dict): its version checked, then typed."""
    if not isinstance(value, dict):
        raise ValueError("evaluation report: not a JSON object")
    version = value.get("schema_version")
    if version not in SUPPORTED_VERSIONS:
        raise ValueError(f"evaluation report: schema_version {version!r} is not supported")
    missing = [k for k in ("meta", "heads", "capacity", "queue", "audit") if k not in value]
    if missing:
        raise ValueError(f"evaluation report: missing {', '.join(missing)}")
    return cast(EvaluationReport, value)


def read_report(path: Path) -> EvaluationReport:
    return as_report(json.loads(path.read_text(encoding="utf-8")))


def target_row(op: OperatingPoint, target: str) -> TargetRow | None:
    """The operating point's row of ``target`` (``immediate`` or ``immediate_or_high``)."""
    if target == "immediate":
        return op.get("immediate")
    if target == "immediate_or_high":
        return op.get("immediate_or_high")
    raise KeyError(f"operating point: no target {target!r}")
