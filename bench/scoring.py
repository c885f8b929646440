"""Scoring throughput: both heads without explanations, and reasons for every referral.

Ours: the matrix built once per batch, both heads, then class-selective TreeSHAP
(:mod:`models.treeshap`) and the reasons. Baseline: ``shap.TreeExplainer`` on the same two
boosters, every class (it calls LightGBM's ``pred_contrib``); it only computes the values,
it does not even turn them into reasons, so the ratio flatters the baseline.
"""

from __future__ import annotations

import time

import numpy as np

from bench.common import Row, say
from features.pipeline import Features
from models.triage_model import TriageModel

TARGET_PLAIN = 50_000  # referrals/s, features + both heads, no explanations
TARGET_REASONS = 5.0  # x shap.TreeExplainer


def _shap_rate(model: TriageModel, feats: Features) -> float:
    import shap

    t0 = time.perf_counter()
    for head in ("urgency", "viability"):
        shap.TreeExplainer(model.boosters[head]).shap_values(feats.X)
    return len(feats) / (time.perf_counter() - t0)


def run(
    model: TriageModel, feats: dict[int, Features], build_s: dict[int, float], shap_max: int
) -> list[Row]:
    rows: list[Row] = []
    shap_rate: float | None = None
    warm = next(iter(feats.values()))
    warm_f = Features(warm.X.iloc[:300], warm.meta.iloc[:300], warm.events)
    model.explain(warm_f, model.predict(warm_f))  # numba kernels + TreeSHAP tables, once
    for n, f in sorted(feats.items()):
        size = f"{n // 1000}k"
        t0 = time.perf_counter()
        for head in ("urgency", "viability"):  # the path before: LightGBM reads the frame
            model.boosters[head].predict(f.X, raw_score=True, num_threads=model.num_threads)
        frame_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        M = model.matrix(f.X)
        pred = model.predict(f, matrix=M)
        heads_s = time.perf_counter() - t0
        rows.append(
            Row("both heads: matrix vs frame", size, n / heads_s, n / frame_s, "referrals/s")
        )
        plain = n / (build_s[n] + heads_s)
        met = "met" if plain >= TARGET_PLAIN else f"missed by {TARGET_PLAIN / plain:.1f}x"
        rows.append(
            Row(
                "features+heads, no reasons",
                size,
                plain,
                float(TARGET_PLAIN),
                "referrals/s",
                f"baseline = target; {met}",
            )
        )
        t0 = time.perf_counter()
        model.explain(f, pred, matrix=M)
        ours = n / (heads_s + time.perf_counter() - t0)
        note = "baseline measured"
        if n <= shap_max:
            shap_rate = _shap_rate(model, f)
        else:  # shap on an evenly spaced sample of these rows (its cost is linear in rows)
            take = np.linspace(0, n - 1, shap_max).astype(int)
            shap_rate = _shap_rate(model, Features(f.X.iloc[take], f.meta.iloc[take], f.events))
            note = f"baseline: shap on {shap_max // 1000}k of these rows, evenly spaced"
        ratio = ours / shap_rate if shap_rate else 0.0
        met = "met" if ratio >= TARGET_REASONS else f"missed by {TARGET_REASONS / ratio:.1f}x"
        rows.append(
            Row(
                "reasons: ours vs shap.TreeExplainer",
                size,
                ours,
                shap_rate,
                "referrals/s",
                f"{note}; target 5x {met}",
            )
        )
        say(
            f"scoring {n:,}: plain {plain:,.0f}/s, reasons {ours:,.0f}/s vs shap {shap_rate or 0:,.0f}/s"
        )
    return rows


def tree_count(model: TriageModel) -> int:
    return int(np.sum([b.num_trees() for b in model.boosters.values()]))
