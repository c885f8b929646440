"""Evaluate any model on any labelled window: the report of ``docs/evaluation.md``.

The model, the oracle (synthetic data only) and the baselines are measured by the same
pure functions (:mod:`training.metrics`, :mod:`training.queue_sim`, :mod:`training.audit`)
on the same referrals, so every comparison is like for like. Orderings compared:

* ``model``: the model's priority (tier policy, safety floor, within-tier score);
* ``oracle``: the generator's true probabilities ordered by P(immediate) + 0.5 P(high), the
  same urgency combination the model's priority uses (the reference no model can beat by
  more than noise);
* ``source_priority``: the source's own code; ``fifo``: arrival order;
* ``rules_only``: the safety rules alone (:func:`models.degraded.predict_rules`), i.e. the
  degraded mode.

The operating point (``operating_point``: the tiers the model's operating policy sets, day
by day, and what they catch against the oracle at the same share) and the workload–recall
curve (``workload_recall``: :mod:`training.workload`) are measured on the same window; for
the curve the model and the oracle fill a tier of each size the same way, the safety floor
first (:func:`models.policy.tier_orderings`).

The report holds no referral ids and no identifiers: only aggregates and group names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES
from features.pipeline import Features
from features.tiers import IMMEDIATE as IMMEDIATE_RANK
from features.tiers import RANK as TIER_RANK
from models import safety
from models.conformal import TARGET, coverage_summary
from models.degraded import predict_rules
from models.operating_policy import OperatingPolicy, load_policy
from models.policy import tier_orderings, tier_share_check
from models.triage_model import Predictions
from training.audit import capacity_audit, queue_audit
from training.baselines import baselines_block
from training.data import Dataset, independent
from training.disparities import disparities
from training.metrics import (
    DEFAULT_BACKLOG_DAYS,
    capacity_metrics,
    default_capacity_ks,
    head_metrics,
    k_for_staffing,
)
from training.queue_runs import Window, run_scenarios, sim_orderings
from training.queue_sim import (
    compare_policies,
    default_staffing,
    fifo_priority,
    simulate_queue,
    source_priority,
)
from training.report_schema import evaluation_report, jsonable
from training.report_types import AtK, EvaluationReport
from training.workload import DEFAULT_BOOT, HEADLINE_SHARES, recall_at_share, workload_recall_curve

GROUPINGS = ("source", "province")
QUEUE_CLASSES = ("immediate", "high")


def window(ds: Dataset, mask: np.ndarray | None = None) -> Features:
    """The referrals of ``mask`` (all when None) as a feature batch, in time order."""
    if mask is None:
        return ds.feats
    f = ds.feats
    return Features(f.X[mask], f.meta[mask].reset_index(drop=True), f.events)


def oracle_priority(p_urgency: np.ndarray) -> np.ndarray:
    return p_urgency[:, 0] + 0.5 * p_urgency[:, 1]


def orderings(
    model: Any,
    feats: Features,
    oracle_u: np.ndarray | None,
    pred: Predictions | None = None,
    rules: Predictions | None = None,
) -> dict[str, np.ndarray]:
    """Priority per referral for each ordering compared (see the module docstring);
    ``pred`` and ``rules``: the model's and the rules' predictions when already made."""
    meta = feats.meta
    rules = rules or predict_rules(feats)
    out = {"model": (pred or model.predict(feats)).priority}
    if oracle_u is not None:
        out["oracle"] = oracle_priority(oracle_u)
    out["source_priority"] = source_priority(meta["source_priority"])
    out["fifo"] = fifo_priority(meta["received_at"])
    out["rules_only"] = rules.priority
    return out


def queue_sim(
    feats: Features,
    y_urgency: np.ndarray,
    preds: tuple[Predictions, Predictions],
    oracle_u: np.ndarray | None,
    policy: OperatingPolicy,
) -> dict[str, Any]:
    """The ``queue_sim`` block: :func:`training.queue_runs.run_scenarios` on this window."""
    meta = feats.meta
    pred, rules = preds
    win = Window.of(
        meta["received_at"],
        meta["referral_id"].to_numpy(),
        y_urgency,
        meta["source"].to_numpy(),
        meta["retention_deadline"],
    )
    ords = sim_orderings(
        (pred.priority, pred.rank), (rules.priority, rules.rank), meta["source_priority"], oracle_u
    )
    return run_scenarios(win, ords, policy)


def evaluate(
    model: Any,
    ds: Dataset,
    mask: np.ndarray | None = None,
    *,
    meta: Mapping[str, Any] | None = None,
    n_boot: int = 1000,
    policy: OperatingPolicy | None = None,
    label_weights: np.ndarray | None = None,
) -> EvaluationReport:
    """The evaluation report of ``model`` on the referrals of ``mask`` (all when None);
    ``policy`` staffs the queue simulation (default: the packaged operating policy).
    ``label_weights`` (per row of ``ds``, ``training.fit.label_weights``) weigh the
    logistic baseline's training labels as the model's were; None: the independent labels
    (``training.data.independent``) weigh 1 and the rest 0, the default configuration."""
    m = np.ones(len(ds), dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
    feats = window(ds, m)
    if len(feats) == 0:
        raise ValueError("no referrals in the evaluation window")
    y_u, y_v = ds.y_urgency[m], ds.y_viability[m]
    pu, pv = model.predict_proba(feats.X)
    heads = {
        "urgency": head_metrics(y_u, pu, URGENCY_CLASSES),
        "viability": head_metrics(y_v, pv, VIABILITY_CLASSES),
    }
    oracle = None
    ou = None if ds.oracle_urgency is None else ds.oracle_urgency[m]
    if ou is not None and ds.oracle_viability is not None:
        oracle = {
            "urgency": head_metrics(y_u, ou, URGENCY_CLASSES),
            "viability": head_metrics(y_v, ds.oracle_viability[m], VIABILITY_CLASSES),
        }
    t, ids = feats.meta["received_at"], feats.meta["referral_id"].to_numpy()
    pred = model.predict(feats)
    preds = (pred, predict_rules(feats))
    prios = orderings(model, feats, ou, *preds)
    ks = default_capacity_ks(len(feats))
    capacity = {
        name: capacity_metrics(y_u, p, ks, received_at=t, ids=ids) for name, p in prios.items()
    }
    staffing = default_staffing(t)
    queue = compare_policies(t, y_u, prios, staffing, ids=ids)
    waits = simulate_queue(t, prios["model"], ids=ids, staffing=staffing)["wait_hours"]
    k = k_for_staffing(len(feats), 1.0, len(feats) / DEFAULT_BACKLOG_DAYS)
    audits = []
    for g in GROUPINGS:
        groups = feats.meta[g].to_numpy(dtype=object)
        audits.append(
            capacity_audit(
                groups, y_u, prios["model"], k=k, received_at=t, ids=ids, grouping=g, n_boot=n_boot
            )
        )
        audits.append(queue_audit(groups, y_u, waits.to_numpy(), grouping=g, n_boot=n_boot))
    info = {
        "model_version": str(getattr(model, "version", "unregistered")),
        "n": len(feats),
        "window": [t.min().isoformat(), t.max().isoformat()],
        "data_digest": ds.digest,
        "model_training": {
            k2: model.manifest.training.get(k2) for k2 in ("data_digest", "split", "rows")
        },
        **dict(meta or {}),
    }
    op, curve = operating_figures(model, y_u, t, ou, pred, prios, n_boot=min(n_boot, DEFAULT_BOOT))
    members = model.urgency_members(pu)
    target = model.sets.target if model.sets is not None else TARGET
    report = evaluation_report(
        heads=heads,
        capacity=capacity,
        queue=queue,
        audits=audits,
        oracle=oracle,
        meta=info,
        queue_sim=queue_sim(
            feats, y_u, preds, ou, policy or getattr(model, "operating", None) or load_policy()
        ),
        operating_point=op,
        workload_recall=curve,
        conformal=coverage_summary(members, y_u, target),
    )
    report.update(
        jsonable(
            benchmark_blocks(
                ds, m, feats, pu, pred.rank, prios, n_boot=min(n_boot, 200), weights=label_weights
            )
        )
    )
    return report


def benchmark_blocks(
    ds: Dataset,
    m: np.ndarray,
    feats: Features,
    pu: np.ndarray,
    rank: np.ndarray,
    prios: Mapping[str, np.ndarray],
    n_boot: int = 200,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """``baselines`` (model vs logistic regression, rules, source priority, oracle) and
    ``disparities`` (error rates per group at the operating point)."""
    if weights is None:
        weights = independent(ds).astype(float)
    scores = {"model": pu[:, 0], **{k: prios[k] for k in ("rules_only", "source_priority")}}
    if ds.oracle_urgency is not None:
        scores["oracle"] = ds.oracle_urgency[m][:, 0]
    meta = ds.feats.meta
    block = baselines_block(
        ds.feats.X,
        ds.y_urgency,
        meta["received_at"],
        ds.decided_at,
        meta["referral_id"].to_numpy(),
        m,
        scores,
        n_boot=n_boot,
        label_weights=weights,
    )
    flagged = rank == IMMEDIATE_RANK
    positive = ds.y_urgency[m] == "immediate"
    return {"baselines": block, "disparities": disparities(feats.X, positive, flagged, n_boot)}


def operating_figures(
    model: Any,
    y_u: np.ndarray,
    received_at: Any,
    oracle_u: np.ndarray | None,
    pred: Predictions,
    prios: Mapping[str, np.ndarray],
    *,
    n_boot: int = DEFAULT_BOOT,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The report's ``operating_point`` and ``workload_recall`` blocks (also what
    ``triage policy curve`` prints): the model and the oracle fill a tier the policy's way,
    the baselines by their own priority."""
    floor = safety.floor_rank(pred.fired)
    orders: dict[str, Any] = {"model": tier_orderings(pred.p_urgency, floor)}
    if oracle_u is not None:
        orders["oracle"] = tier_orderings(oracle_u, floor)
    orders["rules_only"] = prios["rules_only"]
    orders["source_priority"] = prios["source_priority"]
    curve = workload_recall_curve(orders, y_u, n_boot=n_boot)
    return operating_point(model.policy, pred, y_u, received_at, oracle_u), curve


def operating_point(
    policy: Any, pred: Predictions, y_u: np.ndarray, received_at: Any, oracle_u: np.ndarray | None
) -> dict[str, Any]:
    """The tiers the model's policy sets on this window: caps held day by day, and recall
    in each tier against the oracle's recall at the same share (same safety floor)."""
    floor = safety.floor_rank(pred.fired)
    out: dict[str, Any] = {k: v for k, v in policy.as_dict().items() if k not in ("band_edges",)}
    out["tier_shares"] = tier_share_check(policy, pred.p_urgency, floor, received_at)
    oracle_orders = None if oracle_u is None else tier_orderings(oracle_u, floor)
    for target, classes, rank in (
        ("immediate", ("immediate",), TIER_RANK["immediate"]),
        ("immediate_or_high", ("immediate", "high"), TIER_RANK["high"]),
    ):
        pos = np.isin(y_u, classes)
        inside = pred.rank >= rank
        share = float(inside.mean())
        recall = float((inside & pos).sum() / pos.sum()) if pos.any() else None
        row: dict[str, Any] = {
            "share": share,
            "recall": recall,
            "precision": float((inside & pos).sum() / inside.sum()) if inside.any() else None,
            "oracle_recall_at_same_share": None,
            "ratio_to_oracle": None,
        }
        if oracle_orders is not None and recall is not None:
            o = recall_at_share(oracle_orders[target], pos, share)
            row["oracle_recall_at_same_share"] = o
            row["ratio_to_oracle"] = recall / o if o > 0 else None
        out[target] = row
    return out


# -- reading a report ----------------------------------------------------------------------


def operating_summary(op: Mapping[str, Any]) -> str:
    """The operating point in two plain sentences (``triage train``, ``triage policy curve``)."""
    ts = op["tier_shares"]
    lines = []
    for tier, target, what in (
        ("immediate", "immediate", "immediate"),
        ("high", "immediate_or_high", "immediate or high"),
    ):
        row, day = op[target], ts[tier]
        text = (
            f"{tier} (policy {op['policy_version']}): {row['share']:.1%} of arrivals "
            f"(model cap {day['cap']:.0%} a day beyond a {ts['floor_share'][tier]:.1%} safety "
            f"floor, held on {day['share_of_days_within_cap']:.0%} of {ts['days']} days); "
            f"recall of {what} {_fmt3(row['recall'])}"
        )
        if row["ratio_to_oracle"] is not None:
            text += f", {row['ratio_to_oracle']:.3f} of the oracle's at the same share"
        lines.append(text)
    return "\n".join(lines)


def _fmt3(v: float | None) -> str:
    return "-" if v is None else f"{v:.3f}"


def at_capacity(report: EvaluationReport, policy: str = "model") -> AtK:
    """The capacity record of ``policy`` at the at-capacity k."""
    k = report["capacity"]["assumption"]["at_capacity_k"]
    rows = report["capacity"]["policies"][policy]["at_k"]
    return next(r for r in rows if r["k"] == k)


def worst_gap(report: EvaluationReport, grouping: str) -> float:
    """The largest shortfall (overall minus group value, floored at 0) over the groups of
    ``grouping`` with enough urgent referrals to judge, across the audited metrics."""
    gaps = [
        float(g["shortfall"])
        for a in report["audit"]
        if a["grouping"] == grouping
        for g in a["groups"]
        if g["status"] != "too_few" and g["shortfall"] is not None
    ]
    return max([0.0, *gaps])


def headline(report: EvaluationReport) -> dict[str, float]:
    """Flat headline numbers (MLflow metrics, the printed summary); ``None``s left out."""
    u = report["heads"]["urgency"]
    out: dict[str, Any] = {
        "urgency_immediate_roc_auc": u["per_class"]["immediate"]["roc_auc"],
        "urgency_immediate_pr_auc": u["per_class"]["immediate"]["pr_auc"],
        "urgency_macro_roc_auc": u["macro_roc_auc"],
        "urgency_log_loss": u["log_loss"],
        "urgency_top_label_ece": u["top_label_ece"],
        "viability_macro_roc_auc": report["heads"]["viability"]["macro_roc_auc"],
        "viability_log_loss": report["heads"]["viability"]["log_loss"],
        "viability_top_label_ece": report["heads"]["viability"]["top_label_ece"],
    }
    if report["oracle"] is not None:
        ratio = report["oracle"]["ratio"]
        out["oracle_ratio_urgency_immediate_roc_auc"] = ratio["urgency"]["per_class"]["immediate"][
            "roc_auc"
        ]
        out["oracle_ratio_urgency_macro_roc_auc"] = ratio["urgency"]["macro_roc_auc"]
        out["oracle_ratio_viability_macro_roc_auc"] = ratio["viability"]["macro_roc_auc"]
    for policy in report["capacity"]["policies"]:
        rec = at_capacity(report, policy)
        out[f"capacity_{policy}_immediate_recall"] = rec["immediate_recall"]
        out[f"capacity_{policy}_immediate_or_high_recall"] = rec["immediate_or_high_recall"]
    for policy, row in report["queue"]["policies"].items():
        for c in QUEUE_CLASSES:
            for stat in ("p50_h", "p95_h"):
                out[f"queue_{policy}_{c}_{stat}"] = row.get(f"{c}_{stat}")
    op = report.get("operating_point")
    if op is not None:
        out["operating_immediate_days_within_cap"] = op["tier_shares"]["immediate"][
            "share_of_days_within_cap"
        ]
        out["operating_high_days_within_cap"] = op["tier_shares"]["high"][
            "share_of_days_within_cap"
        ]
        for target in ("immediate", "immediate_or_high"):
            for key in ("share", "recall", "ratio_to_oracle"):
                out[f"operating_{target}_{key}"] = op[target][key]
    wr = report.get("workload_recall")
    if wr is not None:
        for name, per_target in wr["curves"].items():
            for target, rows in per_target.items():
                for r in rows:
                    if r["share"] in HEADLINE_SHARES:
                        out[f"workload_{name}_{target}_at_{round(r['share'] * 100)}pct"] = r[
                            "recall"
                        ]
        for name, per_target in (wr.get("ratio_to_oracle") or {}).items():
            for target, by_share in per_target.items():
                for pct, v in by_share.items():
                    out[f"workload_{name}_{target}_oracle_ratio_at_{pct}pct"] = v
    done = (report.get("queue_sim") or {}).get("done_when", {})
    for key, value in done.items():
        if key != "met":
            out[f"queue_sim_{key}"] = value
    if "conformal" in report:
        for c, x in report["conformal"]["coverage"].items():
            out[f"conformal_coverage_{c}"] = x
        out["conformal_mean_set_size"] = report["conformal"]["mean_set_size"]
        out["conformal_share_cannot_rule_out_immediate"] = report["conformal"][
            "share_cannot_rule_out_immediate"
        ]
    for g in GROUPINGS:
        out[f"audit_{g}_worst_gap"] = worst_gap(report, g)
        out[f"audit_{g}_flagged"] = sum(
            len(a["flagged"]) for a in report["audit"] if a["grouping"] == g
        )
    out.update(benchmark_headline(report))
    return {k: float(v) for k, v in out.items() if v is not None}


def benchmark_headline(report: EvaluationReport) -> dict[str, Any]:
    """MLflow metrics of the ``baselines`` and ``disparities`` blocks (when present)."""
    out: dict[str, Any] = {}
    b = report.get("baselines")
    if b:
        for name, row in b["orderings"].items():
            for key, v in row.items():
                out[f"baseline_{name}_{key}"] = v
        margin = b.get("margin_over_logistic")
        for key, m in (margin or {}).items():
            if isinstance(m, Mapping):
                out[f"margin_over_logistic_{key}"] = m["margin"]
                out[f"margin_over_logistic_{key}_ci_low"] = m["ci95"][0]
                out[f"margin_over_logistic_{key}_ci_high"] = m["ci95"][1]
    d = report.get("disparities")
    for grouping, table in (d or {}).get("groupings", {}).items():
        for metric in ("fnr", "fpr", "flagged_share"):
            ratios = [
                g[f"{metric}_ratio"]
                for g in table["groups"]
                if g["status"] == "ok" and g[f"{metric}_ratio"] is not None
            ]
            if ratios:
                out[f"disparity_{grouping}_max_{metric}_ratio"] = max(ratios)
    return out


def baseline_table(report: EvaluationReport) -> pd.DataFrame:
    """Model, logistic regression, rules, source priority and oracle side by side."""
    b = report.get("baselines") or {"orderings": {}}
    return pd.DataFrame.from_dict(b["orderings"], orient="index")


def queue_table(report: EvaluationReport) -> pd.DataFrame:
    """Hours to first review (p50/p95) for immediate and high, one row per ordering."""
    rows = {
        p: {f"{c} {s[:3]}": r.get(f"{c}_{s}") for c in QUEUE_CLASSES for s in ("p50_h", "p95_h")}
        for p, r in report["queue"]["policies"].items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def beats_baselines(report: EvaluationReport) -> dict[str, bool]:
    """Per baseline: does the model wait less for immediate referrals at p50 and at p95?"""
    q = report["queue"]["policies"]
    me = q["model"]
    return {
        b: me["immediate_p50_h"] <= q[b]["immediate_p50_h"]
        and me["immediate_p95_h"] <= q[b]["immediate_p95_h"]
        for b in ("fifo", "source_priority", "rules_only")
        if b in q
    }
