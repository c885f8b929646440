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

The report holds no referral ids and no identifiers: only aggregates and group names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES
from features.pipeline import Features
from models.degraded import predict_rules
from models.policy import TIER_BY_RANK
from training.audit import capacity_audit, queue_audit
from training.baselines import baselines_block
from training.data import Dataset
from training.disparities import disparities
from training.metrics import (
    DEFAULT_BACKLOG_DAYS,
    capacity_metrics,
    default_capacity_ks,
    head_metrics,
    k_for_staffing,
)
from training.queue_sim import (
    compare_policies,
    default_staffing,
    fifo_priority,
    simulate_queue,
    source_priority,
)
from training.report_schema import evaluation_report, jsonable

GROUPINGS = ("source", "province")
IMMEDIATE_RANK = next(k for k, v in TIER_BY_RANK.items() if v == "immediate")
QUEUE_CLASSES = ("immediate", "high")


def window(ds: Dataset, mask: np.ndarray | None = None) -> Features:
    """The referrals of ``mask`` (all when None) as a feature batch, in time order."""
    if mask is None:
        return ds.feats
    f = ds.feats
    return Features(f.X[mask], f.meta[mask].reset_index(drop=True), f.events)


def oracle_priority(p_urgency: np.ndarray) -> np.ndarray:
    return p_urgency[:, 0] + 0.5 * p_urgency[:, 1]


def orderings(model: Any, feats: Features, oracle_u: np.ndarray | None) -> dict[str, np.ndarray]:
    """Priority per referral for each ordering compared (see the module docstring)."""
    meta = feats.meta
    out = {"model": model.predict(feats).priority}
    if oracle_u is not None:
        out["oracle"] = oracle_priority(oracle_u)
    out["source_priority"] = source_priority(meta["source_priority"])
    out["fifo"] = fifo_priority(meta["received_at"])
    out["rules_only"] = predict_rules(feats).priority
    return out


def evaluate(
    model: Any,
    ds: Dataset,
    mask: np.ndarray | None = None,
    *,
    meta: Mapping[str, Any] | None = None,
    n_boot: int = 1000,
) -> dict[str, Any]:
    """The evaluation report of ``model`` on the referrals of ``mask`` (all when None)."""
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
    prios = orderings(model, feats, ou)
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
    report = evaluation_report(
        heads=heads, capacity=capacity, queue=queue, audits=audits, oracle=oracle, meta=info
    )
    report.update(
        jsonable(benchmark_blocks(model, ds, m, feats, pu, prios, n_boot=min(n_boot, 200)))
    )
    return report


def benchmark_blocks(
    model: Any,
    ds: Dataset,
    m: np.ndarray,
    feats: Features,
    pu: np.ndarray,
    prios: Mapping[str, np.ndarray],
    n_boot: int = 200,
) -> dict[str, Any]:
    """``baselines`` (model vs logistic regression, rules, source priority, oracle) and
    ``disparities`` (error rates per group at the operating point)."""
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
    )
    flagged = model.predict(feats).rank == IMMEDIATE_RANK
    positive = ds.y_urgency[m] == "immediate"
    return {"baselines": block, "disparities": disparities(feats.X, positive, flagged, n_boot)}


# -- reading a report ----------------------------------------------------------------------


def at_capacity(report: Mapping[str, Any], policy: str = "model") -> dict[str, Any]:
    """The capacity record of ``policy`` at the at-capacity k."""
    k = report["capacity"]["assumption"]["at_capacity_k"]
    rows = report["capacity"]["policies"][policy]["at_k"]
    return next(r for r in rows if r["k"] == k)


def worst_gap(report: Mapping[str, Any], grouping: str) -> float:
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


def headline(report: Mapping[str, Any]) -> dict[str, float]:
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
    for g in GROUPINGS:
        out[f"audit_{g}_worst_gap"] = worst_gap(report, g)
        out[f"audit_{g}_flagged"] = sum(
            len(a["flagged"]) for a in report["audit"] if a["grouping"] == g
        )
    out.update(benchmark_headline(report))
    return {k: float(v) for k, v in out.items() if v is not None}


def benchmark_headline(report: Mapping[str, Any]) -> dict[str, Any]:
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


def baseline_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """Model, logistic regression, rules, source priority and oracle side by side."""
    b = report.get("baselines") or {"orderings": {}}
    return pd.DataFrame.from_dict(b["orderings"], orient="index")


def queue_table(report: Mapping[str, Any]) -> pd.DataFrame:
    """Hours to first review (p50/p95) for immediate and high, one row per ordering."""
    rows = {
        p: {f"{c} {s[:3]}": r.get(f"{c}_{s}") for c in QUEUE_CLASSES for s in ("p50_h", "p95_h")}
        for p, r in report["queue"]["policies"].items()
    }
    return pd.DataFrame.from_dict(rows, orient="index")


def beats_baselines(report: Mapping[str, Any]) -> dict[str, bool]:
    """Per baseline: does the model wait less for immediate referrals at p50 and at p95?"""
    q = report["queue"]["policies"]
    me = q["model"]
    return {
        b: me["immediate_p50_h"] <= q[b]["immediate_p50_h"]
        and me["immediate_p95_h"] <= q[b]["immediate_p95_h"]
        for b in ("fifo", "source_priority", "rules_only")
        if b in q
    }
