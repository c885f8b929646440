"""Drift: compare a current window with the model's reference window, signal by signal.

:func:`evaluate` turns two :class:`~reports.drift_frames.Window` objects (and, when there
is a store, the reviewers' override rates) into a :class:`DriftSummary`: every check with
its p-value and effect size, judged by the one rule of :mod:`reports.drift_rule`. The
per-column numbers come from Evidently (:mod:`reports.evidently_adapter`); the "drift
detected" verdict is ours, derived from those per-column results. :func:`run_monitor`
(in :mod:`reports.monitor`) gathers the windows and writes the files.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel

from features.catalogue import CATALOGUE
from reports import drift_rule as rule
from reports.drift_frames import PRED_COLUMNS, Window
from reports.drift_rule import Check
from reports.evidently_adapter import ColumnResult, DriftRun, column_drift

SCHEMA = "referral-triage-drift/1"
_UNSAFE = re.compile(r"[^A-Za-z0-9 ._+-]")


class DriftSummary(BaseModel):
    """What ``latest.json`` holds (and ``GET /drift`` serves)."""

    schema_version: str = SCHEMA
    generated_at: str
    drift_detected: bool
    flagged: dict[str, list[str]]
    rule: dict[str, Any]
    reference: dict[str, Any]
    current: dict[str, Any]
    checks: list[Check]
    not_tested: list[str]
    files: dict[str, str] = {}


def platform_label(name: object) -> str:
    """A platform name as reports show it: plain characters only, at most 40 of them.

    Platform names come from referrals, so they are cleaned before they reach Evidently's
    HTML or the JSON summary (our own pages escape them as well)."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return "(none)"
    text = _UNSAFE.sub("_", str(name)).strip() or "_"
    return text[:40]


def _frames(
    ref: Window, cur: Window
) -> tuple[pd.DataFrame, pd.DataFrame, list[str], list[str], dict[str, str], list[str]]:
    """Columns for Evidently: numbers stay numbers; binary flags, categoricals and
    missingness indicators become strings. Returns (ref, cur, numeric, categorical,
    signal per column, columns not tested)."""
    r: dict[str, pd.Series] = {}
    c: dict[str, pd.Series] = {}
    numeric: list[str] = []
    categorical: list[str] = []
    skipped: list[str] = []
    signal: dict[str, str] = {}

    def add(name: str, a: pd.Series, b: pd.Series, kind: str, sig: str) -> None:
        if min(a.notna().sum(), b.notna().sum()) < rule.MIN_ROWS:
            skipped.append(name)
            return
        r[name], c[name] = a.reset_index(drop=True), b.reset_index(drop=True)
        (numeric if kind == "numeric" else categorical).append(name)
        signal[name] = sig

    for spec in CATALOGUE:
        a, b = ref.X[spec.name], cur.X[spec.name]
        sig = "history" if spec.name in rule.HISTORY_FEATURES else "data"
        if spec.kind == "numeric":
            add(spec.name, a.astype(float), b.astype(float), "numeric", sig)
        elif spec.kind == "binary":
            add(spec.name, _yes_no(a), _yes_no(b), "categorical", sig)
        else:
            add(spec.name, a.astype(object), b.astype(object), "categorical", sig)
        ma, mb = a.isna(), b.isna()
        if ma.any() or mb.any():
            msig = "history" if sig == "history" else "missingness"
            add(f"missing:{spec.name}", _missing(ma), _missing(mb), "categorical", msig)
    if ref.preds is not None and cur.preds is not None:
        for col in PRED_COLUMNS:
            add(
                col,
                ref.preds[col].astype(float),
                cur.preds[col].astype(float),
                "numeric",
                "prediction",
            )
        add(
            "tier",
            ref.preds["tier"].astype(object),
            cur.preds["tier"].astype(object),
            "categorical",
            "prediction",
        )
    if "platform" in ref.meta and "platform" in cur.meta:
        add(
            "platform",
            ref.meta["platform"].map(platform_label),
            cur.meta["platform"].map(platform_label),
            "categorical",
            "platform_mix",
        )
    return pd.DataFrame(r), pd.DataFrame(c), numeric, categorical, signal, skipped


def _yes_no(s: pd.Series) -> pd.Series:
    v = s.astype(float)
    out = pd.Series(np.where(v >= 0.5, "yes", "no"), dtype=object)
    out[v.isna().to_numpy()] = None
    return out


def _missing(isna: pd.Series) -> pd.Series:
    return pd.Series(np.where(isna, "missing", "present"), dtype=object)


def _column_check(
    res: ColumnResult, sig: str, alpha: float, ref: pd.Series, cur: pd.Series
) -> Check:
    """A column's Evidently numbers judged by the rule, with a level to show beside them:
    the mean for numbers, the share of the most changed level for categories."""
    if res.kind == "numeric":
        a, b = float(ref.mean()), float(cur.mean())
        note = "mean"
    else:
        pa = ref.value_counts(normalize=True)
        pb = cur.value_counts(normalize=True)
        diff = pb.sub(pa, fill_value=0.0).abs().sort_values(ascending=False)
        level = str(diff.index[0]) if len(diff) else ""
        a, b = float(pa.get(level, 0.0)), float(pb.get(level, 0.0))
        note = f"share of '{level}'"
    return rule.judge(
        sig,
        res.column,
        res.test,
        res.p_value,
        res.effect_name,
        res.effect,
        alpha,
        reference=round(a, 4),
        current=round(b, 4),
        n_reference=res.n_reference,
        n_current=res.n_current,
        note=note,
    )


def evaluate(
    ref: Window,
    cur: Window,
    override_rates: list[Any] | None = None,
    now: datetime | None = None,
    html: bool = False,
) -> tuple[DriftSummary, DriftRun]:
    """Every check of ``cur`` against ``ref``; the verdict is "drift" if any is flagged.

    ``html`` keeps Evidently's report (for its HTML page); the numbers are the same."""
    rdf, cdf, numeric, categorical, signal, skipped = _frames(ref, cur)
    sources = set(ref.meta["source"]) | set(cur.meta["source"])
    platforms = "platform" in ref.meta and "platform" in cur.meta
    n_override = len(rule.override_checks(override_rates or [], 1.0))
    m = len(numeric) + len(categorical) + 1 + len(sources) + int(platforms) + n_override
    alpha = rule.ALPHA / m
    run = column_drift(
        rdf,
        cdf,
        numeric,
        categorical,
        alpha=alpha,
        numeric_floor=rule.FLOORS["wasserstein"],
        categorical_floor=rule.FLOORS["jensenshannon"],
        html=html,
    )
    checks = [
        _column_check(res, signal[res.column], alpha, rdf[res.column], cdf[res.column])
        for res in run.columns
    ]
    checks += rule.volume_checks(
        ref.meta["source"], ref.days, cur.meta["source"], cur.days, alpha, ref.sample_fraction
    )
    if platforms:
        checks.append(
            rule.unseen_check(
                ref.meta["platform"].map(platform_label),
                cur.meta["platform"].map(platform_label),
                alpha,
            )
        )
    checks += rule.override_checks(override_rates or [], alpha)
    flagged: dict[str, list[str]] = {}
    for ch in checks:
        if ch.flagged:
            flagged.setdefault(ch.signal, []).append(ch.name)
    summary = DriftSummary(
        generated_at=(now or datetime.now(UTC)).isoformat(),
        drift_detected=bool(flagged),
        flagged=flagged,
        rule={
            "statement": "flagged = p_value < alpha / m AND effect >= floor; "
            "history features are shown but never flagged",
            "alpha": rule.ALPHA,
            "m": m,
            "alpha_per_check": alpha,
            "floors": rule.FLOORS,
            "min_rows": rule.MIN_ROWS,
            "history_features": sorted(rule.HISTORY_FEATURES),
        },
        reference=ref.describe(),
        current=cur.describe(),
        checks=checks,
        not_tested=skipped,
    )
    return summary, run
