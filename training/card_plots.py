"""Plots for the model card (matplotlib, Agg backend: no display needed), as PNG bytes:
reliability curves from the evaluation report, global feature importance (mean |SHAP|
from LightGBM's own TreeSHAP), the queue simulation's waits per ordering, and the
workload–recall curve with its intervals and the operating point."""

from __future__ import annotations

import io
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from models.explain import contributions
from training.evaluate import queue_table
from training.report_types import EvaluationReport, target_row


def _plt() -> Any:
    """pyplot on the Agg backend (imported late: matplotlib is slow to import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig: Any) -> bytes:
    plt = _plt()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def reliability_plot(report: EvaluationReport) -> bytes:
    plt = _plt()
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, head in zip(axes, ("urgency", "viability"), strict=True):
        rel = report["heads"][head]["reliability"]
        for name, curve in rel.items():
            ax.plot(curve["mean_predicted"], curve["observed"], marker="o", ms=3, label=name)
        ax.plot([0, 1], [0, 1], color="grey", lw=1, ls="--")
        ece = report["heads"][head]["top_label_ece"]
        ax.set(
            title=f"{head} (top-label ECE {ece:.4f})",
            xlabel="mean predicted",
            ylabel="observed share",
            xlim=(0, 1),
            ylim=(0, 1),
        )
        ax.legend(fontsize=8)
    return _png(fig)


def importance(model: Any, X: pd.DataFrame) -> dict[str, pd.Series]:
    """Global importance per head: mean |SHAP| over ``X``, summed over the classes."""
    out = {}
    for head, booster in model.boosters.items():
        c = contributions(booster, X, getattr(model, "num_threads", 1))[:, :, :-1]
        out[head] = pd.Series(np.abs(c).sum(axis=1).mean(axis=0), index=X.columns).sort_values()
    return out


def importance_plot(imp: Mapping[str, pd.Series], top: int = 15) -> bytes:
    plt = _plt()
    fig, axes = plt.subplots(1, len(imp), figsize=(11, 5))
    for ax, (head, s) in zip(np.atleast_1d(axes), imp.items(), strict=True):
        s = s.tail(top)
        ax.barh(s.index, s.to_numpy(), color="#4472c4")
        ax.set(title=f"{head}: mean |SHAP| (log-odds)", xlabel="mean |contribution|")
        ax.tick_params(axis="y", labelsize=8)
    fig.tight_layout()
    return _png(fig)


def queue_plot(report: EvaluationReport) -> bytes:
    plt = _plt()
    t = queue_table(report)
    fig, ax = plt.subplots(figsize=(10, 4.2))
    x = np.arange(len(t.columns))
    w = 0.8 / max(len(t), 1)
    for i, (policy, row) in enumerate(t.iterrows()):
        ax.bar(x + i * w, row.to_numpy(dtype=float), w, label=str(policy))
    ax.set_xticks(x + w * (len(t) - 1) / 2, list(t.columns))
    ax.set(ylabel="hours from arrival to first review", title="Queue simulation")
    ax.legend(fontsize=8)
    return _png(fig)


def backlog_plot(report: EvaluationReport) -> bytes:
    """Referrals waiting for a first review (daily maximum), one panel per scenario of the
    ``queue_sim`` block, one line per ordering."""
    plt = _plt()
    scen = report["queue_sim"]["scenarios"]
    fig, axes = plt.subplots(1, len(scen), figsize=(12, 3.8), sharey=True, squeeze=False)
    for ax, (name, rec) in zip(axes[0], scen.items(), strict=True):
        for policy, p in rec["policies"].items():
            ax.plot(p["backlog"]["daily_max"], label=policy, lw=1.2)
        ax.set(title=f"{name} (utilisation {rec['staffing']['utilisation']:.2f})", xlabel="day")
    axes[0][0].set_ylabel("referrals waiting (daily max)")
    axes[0][-1].legend(fontsize=7)
    return _png(fig)


def workload_plot(report: EvaluationReport) -> bytes:
    """Recall against tier share (1–30 %) per ordering, 95 % bands, the operating point."""
    plt = _plt()
    block = report["workload_recall"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 4.2))
    for ax, target in zip(axes, ("immediate", "immediate_or_high"), strict=True):
        for name, per_target in block["curves"].items():
            rows = per_target[target]
            x = [100 * r["share"] for r in rows]
            y = [np.nan if r["recall"] is None else r["recall"] for r in rows]
            (line,) = ax.plot(x, y, label=name, lw=1.5)
            if all(r.get("low") is not None for r in rows):
                ax.fill_between(
                    x,
                    [r["low"] for r in rows],
                    [r["high"] for r in rows],
                    color=line.get_color(),
                    alpha=0.15,
                )
        point = report.get("operating_point")
        op = target_row(point, target) if point is not None else None
        if op and op.get("recall") is not None:
            ax.plot(100 * op["share"], op["recall"], "k*", ms=11, label="operating point")
        ax.set(
            title=f"recall of {target.replace('_', ' ')}",
            xlabel="tier share of arrivals (%)",
            ylabel="recall",
            ylim=(0, 1.02),
        )
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    return _png(fig)
