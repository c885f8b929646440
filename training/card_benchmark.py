"""The model card's benchmark section: baselines, the eight-fold audition, disparities.

Read from the evaluation report only (keys documented in ``docs/evaluation.md``), so the
card says exactly what the report says; blocks are those of :mod:`training.card`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from training.report_types import EvaluationReport

Block = tuple[Any, ...]


def _baselines(b: Mapping[str, Any]) -> list[Block]:
    table = pd.DataFrame.from_dict(b["orderings"], orient="index")
    return [
        ("h2", "Against the baselines (test window)"),
        ("table", table),
        ("p", "Verdict: " + str(b.get("verdict", "-")) + "."),
    ]


def _audition(bt: Mapping[str, Any]) -> list[Block]:
    rows = {}
    for name, stats in bt["audition"].items():
        row: dict[str, Any] = {}
        for key, s in stats.items():
            if isinstance(s, Mapping):
                row[f"{key} mean"] = s["mean"]
                row[f"{key} sd"] = s["sd"]
            else:
                row[key] = s
        rows[name] = row
    return [
        ("h2", f"Audition across {bt['n_folds']} rolling-origin folds"),
        ("table", pd.DataFrame.from_dict(rows, orient="index")),
    ]


def _disparities(d: Mapping[str, Any]) -> list[Block]:
    rows = []
    for grouping, table in d["groupings"].items():
        for g in table["groups"]:
            rows.append(
                {
                    "grouping": grouping,
                    "group": g["group"] + (" (ref)" if g["group"] == table["reference"] else ""),
                    "n": g["n"],
                    "immediate": g["n_immediate"],
                    "FNR": g["fnr"],
                    "FNR ratio": g["fnr_ratio"],
                    "FPR ratio": g["fpr_ratio"],
                    "flagged ratio": g["flagged_share_ratio"],
                }
            )
    return [
        ("h2", "Disparities at the operating point (immediate tier)"),
        (
            "p",
            "Rates per group relative to the reference group (the largest); intervals are in "
            "evaluation.json (`disparities`).",
        ),
        ("table", pd.DataFrame(rows).set_index(["grouping", "group"])),
    ]


def benchmark_blocks(report: EvaluationReport) -> list[Block]:
    """The section's blocks for whatever of the three the report holds."""
    out: list[Block] = []
    if report.get("baselines"):
        out += _baselines(report["baselines"])
    if report.get("backtest"):
        out += _audition(report["backtest"])
    if report.get("disparities"):
        out += _disparities(report["disparities"])
    return out
