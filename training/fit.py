"""Fit a ``TriageModel`` on a time split: heads on the training window (early stopping on
its last slice), calibration and the tier policy on the later calibration window."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import numpy as np
from pydantic import BaseModel, Field

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES
from models import safety
from models.calibration import VectorScaling, fit_vector_scaling
from models.heads import train_head
from models.manifest import Manifest, git_commit
from models.policy import fit_policy
from models.triage_model import CLASSES, TriageModel
from training.data import Dataset, class_index
from training.metrics import head_metrics
from training.splits import Split


class TrainConfig(BaseModel):
    """Training settings (``triage train --config FILE`` takes these as JSON)."""

    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    recall_immediate: float = Field(0.95, gt=0, le=1)
    recall_high: float = Field(0.90, gt=0, le=1)
    num_threads: int = Field(2, ge=1)
    rounds: int = Field(600, ge=10)
    early_stopping: int = Field(50, ge=5)
    early_stopping_share: float = Field(0.15, gt=0, lt=0.5)
    backtests: int = Field(2, ge=0)
    params: dict[str, Any] = Field(default_factory=dict)


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def fit(
    ds: Dataset, split: Split, cfg: TrainConfig, progress: Callable[[str], None] = say
) -> tuple[TriageModel, dict[str, Any]]:
    X = ds.feats.X
    tr = np.flatnonzero(split.train)
    n_es = max(1, int(len(tr) * cfg.early_stopping_share))
    fit_idx, es_idx = tr[:-n_es], tr[-n_es:]  # rows are in time order
    cal = split.calibrate
    boosters, calibrators, info = {}, {}, {}
    for head in ("urgency", "viability"):
        classes = CLASSES[head]
        y = class_index(getattr(ds, f"y_{head}"), classes)
        progress(
            f"training {head} head on {len(fit_idx):,} referrals "
            f"(early stopping on {len(es_idx):,})"
        )
        b = train_head(
            X.iloc[fit_idx],
            y[fit_idx],
            X.iloc[es_idx],
            y[es_idx],
            num_threads=cfg.num_threads,
            rounds=cfg.rounds,
            early_stopping=cfg.early_stopping,
            params=cfg.params,
            progress=lambda it, v, h=head: progress(f"  {h}: round {it}, valid log loss {v:.4f}"),
        )
        boosters[head] = b
        m = np.asarray(b.predict(X[cal], raw_score=True, num_threads=cfg.num_threads))
        before = head_metrics(getattr(ds, f"y_{head}")[cal], VectorScaling.identity(3)(m), classes)
        c = fit_vector_scaling(m, y[cal])
        after = head_metrics(getattr(ds, f"y_{head}")[cal], c(m), classes)
        calibrators[head] = c
        info[head] = {
            "best_iteration": b.best_iteration,
            "ece_before": before["top_label_ece"],
            "ece_after": after["top_label_ece"],
            "log_loss_before": before["log_loss"],
            "log_loss_after": after["log_loss"],
        }
        progress(
            f"  {head}: {b.best_iteration} trees; calibration ECE "
            f"{before['top_label_ece']:.4f} -> {after['top_label_ece']:.4f}"
        )
    pu = calibrators["urgency"](
        np.asarray(boosters["urgency"].predict(X[cal], raw_score=True, num_threads=cfg.num_threads))
    )
    floor = safety.floor_rank(safety.fired(X[cal]))
    policy = fit_policy(pu, ds.y_urgency[cal], floor, cfg.recall_immediate, cfg.recall_high)
    manifest = Manifest(
        created_at=datetime.now(UTC).isoformat(),
        git_commit=git_commit(),
        training={
            "data_digest": ds.digest,
            "split": split.describe(),
            "rows": len(ds),
            "config": cfg.model_dump(),
            "heads": info,
            "classes": {"urgency": list(URGENCY_CLASSES), "viability": list(VIABILITY_CLASSES)},
        },
    )
    model = TriageModel(boosters, calibrators, policy, manifest, num_threads=cfg.num_threads)
    return model, info
