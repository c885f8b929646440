"""The model card: what the model is for, what it is not for, how it was trained and how
well it did, as Markdown (``card.md``, plots beside it as PNG) and as one self-contained
HTML page (``card.html``, plots embedded) that travel inside the model artefact.

Only aggregates appear: no referral ids, identifiers or free text. Plots are drawn with
matplotlib's Agg backend (no display needed).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from training.card_benchmark import benchmark_blocks
from training.card_plots import (
    backlog_plot,
    importance,
    importance_plot,
    queue_plot,
    reliability_plot,
    workload_plot,
)
from training.evaluate import at_capacity, queue_table
from training.report_types import EvaluationReport, target_row
from training.workload import HEADLINE_SHARES, curve_table

Block = tuple[
    Any, ...
]  # ("h2", text) | ("p", text) | ("ul", items) | ("table", df) | ("img", name, alt)

INTENDED_USE = [
    "Advisory ordering of the triage queue: every score is confirmed or overridden by a "
    "senior investigator (`needs_confirmation: true`); the model decides nothing.",
    "Works on report metadata only: never on images, videos or chat content. Identifiers "
    "are pseudonymised at the door; free text is not a feature.",
    "A safety floor of deterministic rules lifts referrals whatever the model says; if the "
    "model cannot be loaded the rules alone rank the queue (`degraded: true`).",
]
LIMITS = [
    "Probabilities are calibrated on a window later than training; they drift with the "
    "report stream (new platforms, new legislation, encryption) - watch the drift monitor.",
    "Groups with fewer urgent referrals than the audit's minimum are *unknown*, not fine.",
    "The queue figures assume the staffing stated in the evaluation report, not the "
    "centre's actual roster.",
    "Trained on the data named below; on synthetic data the figures say how close the "
    "model gets to the known truth, not how it will do on real referrals.",
]


def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "-"
    return f"{v:.4f}" if isinstance(v, float) else str(v)


def _head_table(report: EvaluationReport) -> pd.DataFrame:
    """One row per head and class: ranking, calibration and (synthetic data) the share of
    the oracle's ROC-AUC reached."""
    rows = {}
    oracle = report["oracle"]
    for head, m in report["heads"].items():
        rows[f"{head} (all)"] = {
            "ROC-AUC": m["macro_roc_auc"],
            "PR-AUC": m["macro_pr_auc"],
            "ECE": m["top_label_ece"],
            "log loss": m["log_loss"],
            "of oracle ROC-AUC": oracle["ratio"][head]["macro_roc_auc"] if oracle else None,
        }
        for c, pc in m["per_class"].items():
            rows[f"{head}: {c}"] = {
                "ROC-AUC": pc["roc_auc"],
                "PR-AUC": pc["pr_auc"],
                "ECE": pc["ece"],
                "prevalence": pc["prevalence"],
                "of oracle ROC-AUC": (
                    oracle["ratio"][head]["per_class"][c]["roc_auc"] if oracle else None
                ),
            }
    return pd.DataFrame.from_dict(rows, orient="index")


def _capacity_table(report: EvaluationReport) -> pd.DataFrame:
    rows = {}
    for p in report["capacity"]["policies"]:
        r = at_capacity(report, p)
        rows[p] = {
            "immediate recall": r["immediate_recall"],
            "immediate or high recall": r["immediate_or_high_recall"],
        }
    return pd.DataFrame.from_dict(rows, orient="index")


def queue_sim_table(report: EvaluationReport) -> pd.DataFrame:
    """Per scenario and ordering: hours to first review of truly immediate referrals
    (p50/p95), industry preservation deadlines missed, and the largest backlog."""
    rows = {}
    for name, rec in report["queue_sim"]["scenarios"].items():
        for policy, p in rec["policies"].items():
            imm = p["waits"]["immediate"]
            rows[f"{name}: {policy}"] = {
                "immediate p50 h": imm["p50_h"],
                "immediate p95 h": imm["p95_h"],
                "industry deadlines missed": p["deadlines_missed"]
                .get("industry", {})
                .get("missed"),
                "backlog max": p["backlog"]["max"],
            }
    return pd.DataFrame.from_dict(rows, orient="index")


def _training(model: Any, data: Mapping[str, Any]) -> list[str]:
    t, p = model.manifest.training, model.policy
    split = t.get("split", {})
    rows = split.get("rows", {})
    return [
        f"Data: `{data.get('name', '?')}`, {t.get('rows', 0):,} labelled referrals, "
        f"digest `{str(t.get('data_digest', '?'))[:16]}`",
        *(
            f"{w} window: {split[w][0]} to {split[w][1]} ({rows.get(w, 0):,} rows)"
            for w in ("train", "calibrate", "test")
            if w in split
        ),
        *(
            [
                f"Labels mature before {m['mature_before'][:16]} (decision lag, 95th "
                f"percentile by class): {m['rows_left_out']:,} later rows left out"
            ]
            if (m := split.get("maturity"))
            else []
        ),
        f"Git commit `{model.manifest.git_commit or 'unknown'}`, built {model.manifest.created_at}",
        f"Operating policy `{p.policy_version}` (digest `{p.policy_digest[:12]}`): immediate "
        f"if P(immediate) >= {p.t_immediate:.4f}, high if P(immediate) + P(high) >= "
        f"{p.t_high:.4f}, fitted so the model adds at most {p.immediate_share:.0%} / "
        f"{p.high_share:.0%} of a day's arrivals beyond the safety floor on "
        f"{p.within_days:.0%} of the calibration window's days",
        "Urgency never falls as these rise (monotone head): "
        + (", ".join(sorted(t.get("monotone_urgency") or {})) or "none"),
    ]


def _which(model: Any, run_id: str | None) -> str:
    if str(model.version).isdigit():
        return f"version {model.version}"
    return f"the version registered by training run {run_id}" if run_id else "unregistered"


def blocks(
    model: Any,
    report: EvaluationReport,
    data: Mapping[str, Any],
    decision: Any | None,
    backtests: Sequence[Mapping[str, Any]],
    run_id: str | None = None,
) -> list[Block]:
    """The card's content, independent of the output format."""
    heads = pd.DataFrame.from_dict(model.manifest.training.get("heads", {}), orient="index")
    k = report["capacity"]["assumption"]["at_capacity_k"]
    flags = [
        f"{a['grouping']} {f['group']} ({f['metric']})"
        for a in report["audit"]
        for f in a["flagged"]
    ]
    out: list[Block] = [
        ("h1", f"Model card: referral-triage ({_which(model, run_id)})"),
        ("h2", "Intended use"),
        ("ul", INTENDED_USE),
        ("h2", "Limits"),
        ("ul", LIMITS),
        ("h2", "Training"),
        ("ul", _training(model, data)),
        ("p", "Heads (calibration error before and after, on the calibration window):"),
        ("table", heads),
        ("h2", f"Evaluation on the test window ({report['meta'].get('n', 0):,} referrals)"),
        ("table", _head_table(report)),
        ("p", f"Recall in the top {k:,} of the queue (one day of reviews of a five-day backlog):"),
        ("table", _capacity_table(report)),
        ("p", "Queue simulation, hours from arrival to first review:"),
        ("table", queue_table(report)),
        ("p", "Group audit flags: " + ("; ".join(flags) if flags else "none")),
    ]
    if "queue_sim" in report:
        out += [
            (
                "p",
                "Queue simulation with the operating policy's shifts (normal load, a +36 % "
                "three-month surge, and 80 % of the staffing the mean load needs), ageing "
                "queue (`model_static`: the priority at scoring, never recomputed):",
            ),
            ("table", queue_sim_table(report)),
        ]
    out += _operating(report)
    if backtests:
        out += [
            ("p", "Rolling-origin backtests:"),
            ("table", pd.DataFrame(list(backtests)).set_index("fold")),
        ]
    out += benchmark_blocks(report)
    out += [
        ("h2", "Promotion decision at training time"),
        ("pre", decision.summary()) if decision is not None else ("p", "not assessed"),
        ("h2", "Figures"),
        ("img", "card_reliability.png", "Reliability (calibration)"),
        ("img", "card_importance.png", "Global feature importance"),
        ("img", "card_queue.png", "Queue simulation: model vs baselines"),
    ]
    if "queue_sim" in report:
        out.append(("img", "card_backlog.png", "Backlog over time by scenario and ordering"))
    if "workload_recall" in report:
        out.append(("img", "card_workload.png", "Workload–recall curve (95 % bands)"))
    return out


def _operating(report: EvaluationReport) -> list[Block]:
    """The operating point on the test window and the curve at the headline shares."""
    op, wr = report.get("operating_point"), report.get("workload_recall")
    out: list[Block] = []
    if op is not None:
        rows = {}
        for tier, target in (("immediate", "immediate"), ("high", "immediate_or_high")):
            ts, row = op["tier_shares"][tier], target_row(op, target)
            if row is None:
                continue
            rows[tier] = {
                "cap (beyond floor)": ts["cap"],
                "days within cap": ts["share_of_days_within_cap"],
                "tier share (with floor)": row["share"],
                "recall": row["recall"],
                "oracle recall, same share": row["oracle_recall_at_same_share"],
                "ratio to oracle": row["ratio_to_oracle"],
            }
        out += [
            ("h2", f"Operating point (policy `{op['policy_version']}`) on the test window"),
            ("p", "Recall of immediate in `immediate`; of immediate or high in `high` or above:"),
            ("table", pd.DataFrame.from_dict(rows, orient="index")),
        ]
    if wr is not None:
        out += [
            ("p", "Workload–recall curve, recall of immediate [95 % interval]:"),
            ("table", curve_table(wr, "immediate", HEADLINE_SHARES)),
        ]
    return out


def _md_table(df: pd.DataFrame) -> str:
    cols = ["", *map(str, df.columns)]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for idx, row in df.iterrows():
        lines.append("| " + " | ".join([str(idx), *(_fmt(v) for v in row.tolist())]) + " |")
    return "\n".join(lines)


def to_markdown(bl: Sequence[Block]) -> str:
    parts = []
    for b in bl:
        kind = b[0]
        if kind in ("h1", "h2"):
            parts.append(("#" if kind == "h1" else "##") + " " + b[1])
        elif kind == "p":
            parts.append(b[1])
        elif kind == "pre":
            parts.append("```\n" + b[1] + "\n```")
        elif kind == "ul":
            parts.append("\n".join(f"- {i}" for i in b[1]))
        elif kind == "table":
            parts.append(_md_table(b[1]))
        elif kind == "img":
            parts.append(f"![{b[2]}]({b[1]})")
    return "\n\n".join(parts) + "\n"


def to_html(bl: Sequence[Block], images: Mapping[str, bytes]) -> str:
    e = html.escape
    parts = []
    for b in bl:
        kind = b[0]
        if kind in ("h1", "h2", "p"):
            parts.append(f"<{kind}>{e(b[1]).replace('`', '')}</{kind}>")
        elif kind == "pre":
            parts.append(f"<pre>{e(b[1])}</pre>")
        elif kind == "ul":
            parts.append(
                "<ul>" + "".join(f"<li>{e(i).replace('`', '')}</li>" for i in b[1]) + "</ul>"
            )
        elif kind == "table":
            df = b[1]
            head = "".join(f"<th>{e(str(c))}</th>" for c in ["", *df.columns])
            body = "".join(
                "<tr><th>"
                + e(str(i))
                + "</th>"
                + "".join(f"<td>{e(_fmt(v))}</td>" for v in r.tolist())
                + "</tr>"
                for i, r in df.iterrows()
            )
            parts.append(f"<table><tr>{head}</tr>{body}</table>")
        elif kind == "img":
            data = base64.b64encode(images[b[1]]).decode()
            parts.append(
                f'<figure><img alt="{e(b[2])}" src="data:image/png;base64,{data}">'
                f"<figcaption>{e(b[2])}</figcaption></figure>"
            )
    style = (
        "body{font-family:sans-serif;max-width:1000px;margin:2em auto;color:#222}"
        "table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;"
        "padding:3px 6px;font-size:13px;text-align:right}img{max-width:100%}"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>Model card</title>"
        f"<style>{style}</style></head><body>{''.join(parts)}</body></html>\n"
    )


def write_card(
    out_dir: Path,
    model: Any,
    report: EvaluationReport,
    X_sample: pd.DataFrame,
    data: Mapping[str, Any],
    decision: Any | None = None,
    backtests: Sequence[Mapping[str, Any]] = (),
    run_id: str | None = None,
) -> tuple[Path, Path]:
    """Write ``card.md`` (+ its PNGs) and ``card.html`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    images = {
        "card_reliability.png": reliability_plot(report),
        "card_importance.png": importance_plot(importance(model, X_sample)),
        "card_queue.png": queue_plot(report),
    }
    if "queue_sim" in report:
        images["card_backlog.png"] = backlog_plot(report)
    if "workload_recall" in report:
        images["card_workload.png"] = workload_plot(report)
    for name, png in images.items():
        (out_dir / name).write_bytes(png)
    bl = blocks(model, report, data, decision, backtests, run_id)
    md, page = out_dir / "card.md", out_dir / "card.html"
    md.write_text(to_markdown(bl), encoding="utf-8")
    page.write_text(to_html(bl, images), encoding="utf-8")
    return md, page
