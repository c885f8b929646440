"""What every benchmark shares: one synthetic corpus, one fixed-size model, the table.

Every figure is measured side by side with its baseline in the same process and the same
minute, because this machine is shared and noisy: the ratio is the number to trust, the
absolute rates beside it say how busy the machine was.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES
from features.ingest import LABEL_KEYS, Labelled, parse_documents
from features.pipeline import Features, build_features
from features.pseudonyms import Pseudonymiser
from models import safety
from models.calibration import fit_vector_scaling
from models.heads import DEFAULT_PARAMS
from models.manifest import Manifest
from models.operating_policy import load_policy
from models.triage_model import TriageModel
from training.fit import TrainConfig, calibration_scores, fit_tiers, train_monotone_urgency

KEY = b"bench-key-0123456789"


@dataclass
class Row:
    """One line of the table: ours vs the baseline, measured in the same run."""

    bench: str
    size: str
    ours: float
    baseline: float | None
    unit: str
    note: str = ""
    higher_is_better: bool = True

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0 or self.ours == 0:
            return None
        return self.ours / self.baseline if self.higher_is_better else self.baseline / self.ours


@dataclass
class Corpus:
    """Raw documents (for the validate step), and the same referrals parsed, in time order."""

    raw: list[dict[str, Any]]
    labelled: list[Labelled]
    parse_seconds: float
    generate_seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def referrals(self) -> list[Any]:
        return [g.referral for g in self.labelled]


def corpus(n: int, seed: int = 5) -> Corpus:
    """``n`` synthetic referrals over a span that keeps a national centre's daily rate."""
    from training.synthetic import generate

    t0 = time.perf_counter()
    docs = generate(n, seed, date(2023, 1, 1), max(30, n * 365 // 100_000), labels=True)
    generate_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    batch = parse_documents(docs, Pseudonymiser(KEY), labels=True)
    parse_s = time.perf_counter() - t0
    good = sorted(batch.good, key=lambda g: g.referral.received_at)
    by_id = {d["referral_id"]: d for d in docs}
    raw = [
        {k: v for k, v in by_id[g.referral.referral_id].items() if k not in LABEL_KEYS}
        for g in good
    ]
    return Corpus(raw, good, parse_s, generate_s)


def labels(items: list[Labelled], head: str) -> np.ndarray:
    classes = URGENCY_CLASSES if head == "urgency" else VIABILITY_CLASSES
    idx = {c: i for i, c in enumerate(classes)}
    return np.array([idx[getattr(g.outcome, head)] for g in items], dtype=np.int32)


def train_fixed(
    head: str,
    X: pd.DataFrame,
    y: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    iterations: int,
    threads: int,
) -> lgb.Booster:
    """One head for ``iterations`` rounds, trained as ``triage train`` trains it: the
    urgency head monotone with routine held at zero (a Python objective; its validation
    set is only for the objective's bookkeeping, every tree is kept), viability plain."""
    if head == "urgency":
        cfg = TrainConfig(rounds=iterations, early_stopping=iterations + 1, num_threads=threads)
        b = train_monotone_urgency(X, y, X_valid, y_valid, cfg)
        b.best_iteration = 0  # every tree, not the best validation round: a fixed size
        return b
    p = {**DEFAULT_PARAMS, "num_threads": threads}
    return lgb.train(p, lgb.Dataset(X, y), num_boost_round=iterations)


def fixed_model(
    feats: Features, items: list[Labelled], iterations: int, threads: int
) -> TriageModel:
    """A model of a known size (``iterations`` x 3 trees per head, no early stopping), so
    explanation costs compare across runs; calibrated and with a policy like a real one.
    The urgency head is trained as ``triage train`` trains it (monotone, routine held at
    zero: its trees are single leaves), so explaining it costs what the product's does."""
    boosters, cal = {}, {}
    n_fit = int(len(items) * 0.8)
    for head in ("urgency", "viability"):
        y = labels(items, head)
        X_fit, y_fit = feats.X.iloc[:n_fit], y[:n_fit]
        b = train_fixed(head, X_fit, y_fit, feats.X.iloc[n_fit:], y[n_fit:], iterations, threads)
        boosters[head] = b
        m = b.predict(feats.X.iloc[n_fit:], raw_score=True, num_threads=threads)
        cal[head] = fit_vector_scaling(np.asarray(m), y[n_fit:])
    tail = feats.X.iloc[n_fit:]
    pu = cal["urgency"](
        np.asarray(boosters["urgency"].predict(tail, raw_score=True, num_threads=threads))
    )
    received = [g.referral.received_at for g in items[n_fit:]]
    floor = safety.floor_rank(safety.fired(tail))
    policy = fit_tiers(calibration_scores(pu, floor, received), load_policy())
    manifest = Manifest(created_at=datetime.now(UTC).isoformat(), git_commit="bench", training={})
    return TriageModel(boosters, cal, policy, manifest, "bench", num_threads=threads)


@contextmanager
def timer() -> Iterator[list[float]]:
    out: list[float] = []
    t0 = time.perf_counter()
    yield out
    out.append(time.perf_counter() - t0)


def rate(fn: Callable[[], Any], n: int) -> float:
    with timer() as t:
        fn()
    return n / t[0]


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", flush=True)


def build(items: list[Labelled]) -> Features:
    return build_features([g.referral for g in items], [g.outcome for g in items])


def fmt(v: float | None, unit: str) -> str:
    if v is None:
        return "-"
    if unit.endswith("/s"):
        return f"{v:,.0f}"
    return f"{v:,.2f}" if v < 100 else f"{v:,.0f}"


def print_table(rows: list[Row]) -> str:
    head = (
        f"{'benchmark':<34}{'size':>10}{'ours':>12}{'baseline':>12}  {'unit':<12}{'ratio':>8}  note"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = f"{r.ratio:,.1f}x" if r.ratio is not None else "-"
        lines.append(
            f"{r.bench:<34}{r.size:>10}{fmt(r.ours, r.unit):>12}{fmt(r.baseline, r.unit):>12}"
            f"  {r.unit:<12}{ratio:>8}  {r.note}"
        )
    text = "\n".join(lines)
    print(text, flush=True)
    return text
