"""The promotion gate: a challenger replaces the champion only if it is not worse.

Both models are evaluated on the same, most recent window (the test window of the data
they are compared on) and the challenger must not be worse than the champion, beyond the
tolerances of :class:`GateConfig`, on

* **immediate recall at capacity** (the share of immediate referrals reviewers reach on
  the first day of a backlog, ``docs/evaluation.md``);
* **calibration**: the top-label ECE of each head (reviewers read the probabilities);
* **group gaps**: the worst shortfall of a source / province against the overall value,
  over the audited metrics, among groups with enough urgent referrals to judge;
* **recall of immediate at the operating point** (the challenger's own ``immediate`` tier
  against the champion's, on the same referrals): rejected when the challenger's is lower
  and the paired-bootstrap 95 % interval of the difference lies wholly below zero.

and, whatever the champion does, on two limits of the challenger's own
(``docs/operating-policy.md``):

* **the cap held day by day**: the share of test days on which the model put more than
  its ``immediate_share`` of the day's arrivals in ``immediate`` (beyond the safety floor)
  must not exceed ``max_days_over_cap`` (5 %);
* **conformal coverage of immediate** (``report["conformal"]``, when the report has it)
  must be at least ``min_immediate_coverage`` (0.93).

The first model (no champion yet) promotes itself, and so does a challenger when the
champion cannot be loaded by this build (another feature set): it could not serve anyway.
``--force`` promotes regardless and says so. Every decision, with its figures, is logged
to MLflow as a run named ``promotion``. Exit codes: 0 promoted, 3 rejected.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from features.config import Settings
from models import registry
from training.evaluate import GROUPINGS, at_capacity, worst_gap
from training.report_types import EvaluationReport

EXIT_PROMOTED, EXIT_REJECTED = 0, 3


class GateConfig(BaseModel):
    """Tolerances: how much worse than the champion a challenger may be and still pass.

    All are absolute differences on the same window. A recall of 0.93 against the
    champion's 0.94 passes with ``recall_tolerance`` 0.02; an ECE of 0.012 against 0.004
    fails with ``ece_tolerance`` 0.005.
    """

    model_config = ConfigDict(extra="forbid")

    recall_tolerance: float = Field(
        default=0.02, ge=0, le=1, description="allowed drop in immediate recall at capacity"
    )
    ece_tolerance: float = Field(
        default=0.005, ge=0, le=1, description="allowed rise in each head's top-label ECE"
    )
    gap_tolerance: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="allowed rise in the worst group shortfall, per grouping",
    )
    max_days_over_cap: float = Field(
        default=0.05,
        ge=0,
        le=1,
        description="share of test days the immediate tier may exceed its cap",
    )
    min_immediate_coverage: float = Field(
        default=0.93, ge=0, le=1, description="least conformal coverage of immediate"
    )
    paired_boot: int = Field(
        default=1000,
        ge=50,
        le=20_000,
        description="paired-bootstrap resamples (recall at the operating point)",
    )


class Check(BaseModel):
    name: str
    champion: float | None
    challenger: float
    limit: float | None
    passed: bool
    higher_is_better: bool


class Decision(BaseModel):
    """What the gate decided and why; logged to MLflow and printed."""

    promoted: bool
    reason: str
    forced: bool = False
    challenger_version: str | None = None
    champion_version: str | None = None
    window: list[str] = Field(default_factory=list)
    checks: list[Check] = Field(default_factory=list)
    config: GateConfig = Field(default_factory=lambda: GateConfig())
    notes: list[str] = Field(default_factory=list)
    #: which labels the window held and used, by provenance (``training.data.label_summary``)
    labels: dict[str, Any] = Field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return EXIT_PROMOTED if self.promoted else EXIT_REJECTED

    def summary(self) -> str:
        verdict = "PROMOTED" if self.promoted else "REJECTED"
        lines = [f"{verdict}: {self.reason}"]
        for c in self.checks:
            champ = "-" if c.champion is None else f"{c.champion:.4f}"
            limit = (
                "-" if c.limit is None else f"{'>=' if c.higher_is_better else '<='} {c.limit:.4f}"
            )
            lines.append(
                f"  {'ok  ' if c.passed else 'FAIL'} {c.name:<34} challenger {c.challenger:.4f}"
                f"  champion {champ}  limit {limit}"
            )
        lines += [f"  note: {n}" for n in self.notes]
        if self.labels:
            used = ", ".join(f"{k} {v:,}" for k, v in self.labels["used"].items() if v)
            out = ", ".join(f"{k} {v:,}" for k, v in self.labels["left_out"].items() if v)
            kinds = ", ".join(self.labels.get("used_provenances") or []) or "none"
            lines.append(
                f"  labels judged on (kinds {kinds}: none made with a model's output on "
                f"screen): {used or 'none'}; left out: {out or 'none'}"
            )
            mature = self.labels.get("maturity") or {}
            if mature.get("rows_left_out"):
                lines.append(
                    f"  rows left out (labels not mature before "
                    f"{mature['mature_before'][:16]}): {mature['rows_left_out']:,}"
                )
        return "\n".join(lines)


def figures(report: EvaluationReport) -> dict[str, float]:
    """The numbers the gate compares, read from an evaluation report."""
    rec = at_capacity(report)["immediate_recall"]
    out = {
        "immediate_recall_at_capacity": float(rec) if rec is not None else 0.0,
        "urgency_top_label_ece": float(report["heads"]["urgency"]["top_label_ece"]),
        "viability_top_label_ece": float(report["heads"]["viability"]["top_label_ece"]),
    }
    for g in GROUPINGS:
        out[f"worst_gap_{g}"] = worst_gap(report, g)
    return out


ABSOLUTE = ("immediate_days_over_cap", "conformal_immediate_coverage")
OPERATING_RECALL = "immediate_recall_at_operating_point"


def limits(report: EvaluationReport) -> dict[str, float]:
    """The challenger's own figures held to fixed limits (absent when the report lacks them)."""
    out: dict[str, float] = {}
    op = report.get("operating_point")
    if op is not None:
        within = op["tier_shares"]["immediate"]["share_of_days_within_cap"]
        out["immediate_days_over_cap"] = 1.0 - float(within)
    cov = ((report.get("conformal") or {}).get("coverage") or {}).get("immediate")
    if cov is not None:
        out["conformal_immediate_coverage"] = float(cov)
    return out


def _absolute_checks(report: EvaluationReport, cfg: GateConfig) -> list[Check]:
    checks = []
    for name, v in limits(report).items():
        higher = name == "conformal_immediate_coverage"
        limit = cfg.min_immediate_coverage if higher else cfg.max_days_over_cap
        passed = v >= limit - 1e-12 if higher else v <= limit + 1e-12
        checks.append(
            Check(
                name=name,
                champion=None,
                challenger=v,
                limit=limit,
                passed=passed,
                higher_is_better=higher,
            )
        )
    return checks


def paired_check(
    challenger_recall: float, champion_recall: float, paired: Mapping[str, Any]
) -> Check:
    """Recall of immediate at the operating point against the champion's: fails when the
    paired-bootstrap interval of (challenger − champion) lies wholly below zero. The limit
    shown is that rule in recall units: champion − (interval's upper end − difference)."""
    diff, high = paired.get("difference"), paired.get("high")
    if diff is None or high is None:
        limit, passed = None, True
    else:
        limit = champion_recall - (float(high) - float(diff))
        passed = float(high) >= 0.0
    return Check(
        name=OPERATING_RECALL,
        champion=champion_recall,
        challenger=challenger_recall,
        limit=limit,
        passed=passed,
        higher_is_better=True,
    )


def _operating_recall(report: EvaluationReport) -> float | None:
    op = report.get("operating_point")
    rec = None if op is None else op["immediate"]["recall"]
    return None if rec is None else float(rec)


def decide(
    challenger: EvaluationReport,
    champion: EvaluationReport | None,
    cfg: GateConfig | None = None,
    *,
    force: bool = False,
    reason_without_champion: str = "first model: no champion yet",
    paired: Mapping[str, Any] | None = None,
) -> Decision:
    """Compare two evaluation reports of the same window (``champion`` None: no champion).

    ``paired``: :func:`training.workload.paired_difference` of the two models' immediate
    tiers on the window's referrals (:func:`assess` computes it); without it the recall at
    the operating point is not compared."""
    cfg = cfg or GateConfig()
    ch = figures(challenger)
    window = list(challenger["meta"].get("window", []))
    absolute = _absolute_checks(challenger, cfg)
    if champion is None:
        checks = [
            Check(
                name=k,
                champion=None,
                challenger=v,
                limit=None,
                passed=True,
                higher_is_better=k.startswith("immediate"),
            )
            for k, v in ch.items()
        ] + absolute
        failing = [c.name for c in absolute if not c.passed]
        notes = (
            [f"promoted with no champion to keep, although it fails: {', '.join(failing)}"]
            if failing
            else []
        )
        return Decision(
            promoted=True,
            reason=reason_without_champion,
            forced=force,
            window=window,
            checks=checks,
            config=cfg,
            notes=notes,
        )
    cp = figures(champion)
    checks = []
    for name, v in ch.items():
        higher = name == "immediate_recall_at_capacity"
        tol = (
            cfg.recall_tolerance
            if higher
            else cfg.ece_tolerance
            if name.endswith("ece")
            else cfg.gap_tolerance
        )
        limit = cp[name] - tol if higher else cp[name] + tol
        passed = v >= limit - 1e-12 if higher else v <= limit + 1e-12
        checks.append(
            Check(
                name=name,
                champion=cp[name],
                challenger=v,
                limit=limit,
                passed=passed,
                higher_is_better=higher,
            )
        )
    ch_rec, cp_rec = _operating_recall(challenger), _operating_recall(champion)
    notes = []
    champion_over = limits(champion).get("immediate_days_over_cap", 0.0)
    if champion_over > cfg.max_days_over_cap + 1e-12:
        # a champion whose tier overflows its cap buys recall with workload: not a bar
        notes.append(
            f"recall at the operating point not compared: the champion's immediate tier "
            f"exceeds its cap on {champion_over:.0%} of days"
        )
    elif paired is not None and ch_rec is not None and cp_rec is not None:
        checks.append(paired_check(ch_rec, cp_rec, paired))
    checks += absolute
    failed = [c.name for c in checks if not c.passed]
    if not failed:
        reason = "not worse than the champion on any gated figure, and within its limits"
    elif force:
        reason = f"forced despite failing: {', '.join(failed)}"
    else:
        reason = (
            f"worse than the champion beyond tolerance, or past a limit, on: {', '.join(failed)}"
        )
    return Decision(
        promoted=not failed or force,
        reason=reason,
        forced=force and bool(failed),
        window=window,
        checks=checks,
        config=cfg,
        notes=notes,
    )


def overlap_note(champion_report: EvaluationReport, window: list[str]) -> str | None:
    """A warning when the champion was trained on part of the window it is judged on."""
    split = (champion_report["meta"].get("model_training") or {}).get("split") or {}
    train = split.get("train")
    if train and window and train[1] > window[0]:
        return "the champion was trained on data reaching into this window: it is favoured"
    return None


def record(settings: Settings, decision: Decision) -> None:
    """Log the decision as an MLflow run named ``promotion``; move ``champion`` if promoted."""
    if decision.promoted and decision.challenger_version is not None:
        registry.set_alias(settings, "champion", decision.challenger_version)
    tags = {
        "kind": "promotion",
        "decision": "promoted" if decision.promoted else "rejected",
        "forced": str(decision.forced).lower(),
        "challenger_version": decision.challenger_version or "",
        "champion_version": decision.champion_version or "",
    }
    with registry.run(settings, "promotion", tags=tags) as mlflow:
        mlflow.log_params({f"gate_{k}": v for k, v in decision.config.model_dump().items()})
        metrics = {"promoted": float(decision.promoted)}
        for c in decision.checks:
            metrics[f"challenger_{c.name}"] = c.challenger
            if c.champion is not None:
                metrics[f"champion_{c.name}"] = c.champion
            metrics[f"passed_{c.name}"] = float(c.passed)
        mlflow.log_metrics(metrics)
        mlflow.log_dict(json.loads(decision.model_dump_json()), "decision.json")


def load_champion(settings: Settings, num_threads: int = 2) -> tuple[Any | None, str]:
    """The current champion, or None and why (none yet / built for another feature set)."""
    from models.manifest import ModelIncompatible

    try:
        return registry.load(settings, "champion", num_threads=num_threads), ""
    except registry.ModelNotFound:
        return None, "first model: no champion yet"
    except ModelIncompatible as e:
        return None, f"the champion cannot be loaded by this build ({e}); it could not serve"


def assess(
    challenger: Any,
    challenger_report: EvaluationReport,
    champion: Any | None,
    ds: Any,
    mask: Any,
    cfg: GateConfig | None = None,
    *,
    force: bool = False,
    no_champion_reason: str = "first model: no champion yet",
    progress: Any = None,
) -> Decision:
    """Evaluate the champion on the challenger's window and decide (nothing is logged)."""
    from training.evaluate import evaluate

    champion_report = None
    if champion is not None and str(champion.version) != str(challenger.version):
        if progress is not None:
            progress(f"evaluating champion v{champion.version} on the same window")
        champion_report = evaluate(champion, ds, mask)
    reason = no_champion_reason
    if champion is not None and champion_report is None:
        reason = "the challenger already is the champion"
    paired = None
    if champion_report is not None:
        paired = operating_recall_difference(challenger, champion, ds, mask, cfg or GateConfig())
    decision = decide(
        challenger_report,
        champion_report,
        cfg,
        force=force,
        reason_without_champion=reason,
        paired=paired,
    )
    decision.challenger_version = str(challenger.version)
    decision.champion_version = None if champion is None else str(champion.version)
    if champion_report is not None:
        note = overlap_note(champion_report, decision.window)
        decision.notes += [note] if note else []
    from training.assembly import refuse_other_assemblies

    return refuse_other_assemblies(decision, challenger, force)  # one training assembly


def operating_recall_difference(
    challenger: Any, champion: Any, ds: Any, mask: Any, cfg: GateConfig
) -> dict[str, float | None]:
    """Paired bootstrap of (challenger − champion) recall of immediate in each model's own
    ``immediate`` tier, on the same referrals of ``mask``."""
    import numpy as np

    from training.evaluate import window
    from training.workload import paired_difference

    feats = window(ds, mask)
    y = np.asarray(ds.y_urgency if mask is None else ds.y_urgency[np.asarray(mask, bool)])
    from features.tiers import IMMEDIATE

    a = challenger.predict(feats).rank == IMMEDIATE
    b = champion.predict(feats).rank == IMMEDIATE
    return paired_difference(a, b, y == "immediate", n_boot=cfg.paired_boot)


def gate(
    settings: Settings,
    ds: Any,
    mask: Any,
    cfg: GateConfig | None = None,
    *,
    challenger: str = "challenger",
    force: bool = False,
    progress: Any = None,
    labels: dict[str, Any] | None = None,
) -> Decision:
    """``triage promote``: load both models, evaluate them on ``mask``, decide, record.
    ``labels`` (``training.data.label_summary``) goes into the decision as it is."""
    from training.evaluate import evaluate

    model = registry.load(settings, challenger, num_threads=2)
    if progress is not None:
        progress(f"evaluating challenger v{model.version}")
    report = evaluate(model, ds, mask)
    champion, why = load_champion(settings)
    decision = assess(
        model,
        report,
        champion,
        ds,
        mask,
        cfg,
        force=force,
        no_champion_reason=why,
        progress=progress,
    )
    decision.labels = dict(labels or {})
    record(settings, decision)
    return decision
