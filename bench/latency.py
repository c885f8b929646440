"""One referral end to end, in process: validate -> features -> score -> reasons.

Ours is the product's path (``parse_referral``, ``build_features`` against an indexed
history, ``TriageModel.score``). The baseline is the straightforward composition of the
same public pieces as a first integration would write it: LightGBM reading the pandas
frame for each head, ``pred_contrib`` for every class, reasons from ``X.iloc[0]``.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from bench.common import KEY, Corpus, Row, say
from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES, Score
from features.history import History
from features.ingest import parse_referral
from features.pipeline import Features, build_features
from features.pseudonyms import Pseudonymiser
from features.tiers import class_of_rank
from models import safety
from models.explain import contributions, top_reasons
from models.priority import priority
from models.triage_model import Predictions, TriageModel, days_left, to_scores

TARGET_P50_MS = 5.0


def straightforward(model: TriageModel, feats: Features) -> list[Score]:
    X = feats.X
    p = {
        h: model.calibrators[h](np.asarray(model.boosters[h].predict(X, raw_score=True)))
        for h in ("urgency", "viability")
    }
    fired = safety.fired(X)
    model_rank = model.policy.ranks(p["urgency"])
    rank = np.maximum(model_rank, safety.floor_rank(fired))
    prio = priority(rank, p["urgency"], p["viability"], days_left(feats, None))
    members = model.urgency_members(p["urgency"])
    pred = Predictions(
        p["urgency"],
        p["viability"],
        model_rank,
        rank,
        fired,
        prio,
        band=model.policy.bands(p["urgency"][:, 0]),
        urgency_members=members,
    )
    cu = contributions(model.boosters["urgency"], X)
    cv = contributions(model.boosters["viability"], X)
    u, v = int(class_of_rank(model_rank[0])), int(p["viability"][0].argmax())
    row = X.iloc[0]
    cu_row, against = cu[0, u, :-1], None
    if URGENCY_CLASSES[u] == "routine":  # routine against high, as models.explain does
        cu_row, against = cu_row - cu[0, URGENCY_CLASSES.index("high"), :-1], "high"
    reasons = top_reasons(cu_row, row, "urgency", URGENCY_CLASSES[u], 5, against)
    reasons += top_reasons(cv[0, v, :-1], row, "viability", VIABILITY_CLASSES[v], 2)
    return to_scores(feats, pred, [reasons], model.version, degraded=False)


def _time(fn: Any, docs: list[dict[str, Any]], ps: Pseudonymiser, hist: History) -> np.ndarray:
    out = []
    for d in docs:
        t0 = time.perf_counter()
        fn(build_features([parse_referral(d, ps)], history=hist))
        out.append(time.perf_counter() - t0)
    return np.array(out) * 1e3


def run(model: TriageModel, data: Corpus, m: int = 1_000) -> list[Row]:
    ps = Pseudonymiser(KEY)
    hist = History.of(data.referrals[:-m])
    docs = data.raw[-m:]
    ours_fn, base_fn = model.score, lambda f: straightforward(model, f)
    for fn in (ours_fn, base_fn):  # warm-up: numba kernels, TreeSHAP tables, caches
        _time(fn, docs[:20], ps, hist)
    ours, base = _time(ours_fn, docs, ps, hist), _time(base_fn, docs, ps, hist)
    size = f"{m:,} refs"
    p50 = float(np.percentile(ours, 50))
    met = "met" if p50 <= TARGET_P50_MS else f"missed by {p50 / TARGET_P50_MS:.1f}x"
    note = f"history {len(hist):,} events; target p50 <= 5 ms {met}"
    say(f"latency p50 {p50:.2f} ms vs {np.percentile(base, 50):.2f} ms")
    return [
        Row("one referral e2e p50", size, p50, float(np.percentile(base, 50)), "ms", note, False),
        Row(
            "one referral e2e p99",
            size,
            float(np.percentile(ours, 99)),
            float(np.percentile(base, 99)),
            "ms",
            "",
            False,
        ),
    ]
