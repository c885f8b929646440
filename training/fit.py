"""Fit a ``TriageModel`` on a time split: heads on the training window (early stopping on
its last slice), calibration and the tier policy on the later calibration window.

The urgency head is **monotone** in the signals that make a referral urgent
(:data:`MONOTONE_URGENCY`): raising one never lowers P(immediate) + P(high). A plain
multiclass booster cannot promise that (LightGBM applies one constraint to every class's
trees, routine included), so the urgency head is a softmax with ``routine`` as the
reference class: its margin is held at 0 by a custom objective that gives it no gradient,
and the constrained immediate and high margins can then only rise with those signals.
This is the same shape as the synthetic oracle (and loses nothing: softmax is invariant
to shifting all margins). Vector scaling keeps the direction while its scales stay
positive, which :func:`fit` checks.

Threads: LightGBM's OpenMP threads spin while they wait for each other; on a busy
machine (a shared 2-core host) a descheduled thread makes the others burn their time
slices, and a fit with two threads took 5-9x longer than with one. The commands set
``OMP_WAIT_POLICY=PASSIVE`` before LightGBM loads, which removes that penalty.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES
from features.labels import Provenance
from models import safety
from models.calibration import VectorScaling, fit_vector_scaling, softmax
from models.heads import DEFAULT_PARAMS, train_head
from models.manifest import Manifest, git_commit
from models.policy import fit_policy
from models.triage_model import CLASSES, TriageModel
from training.data import Dataset, class_index
from training.metrics import head_metrics
from training.splits import Split

# +1: more of it never lowers urgency; -1: less of it (a younger victim) never lowers it.
MONOTONE_URGENCY: dict[str, int] = {
    "escalated": 1,
    "ann_sextortion": 1,
    "ann_sadistic_exploitation": 1,
    "fa_live_streaming": 1,
    "fa_physical_harm": 1,
    "fa_infant": 1,
    "files_new": 1,
    "victim_min_age": -1,
    "victim_min_band": -1,
    "link_prior_referrals": 1,
    "subject_prior_reports": 1,
    "subject_known_offender": 1,
    "subject_access_to_children": 1,
}
REFERENCE_CLASS = URGENCY_CLASSES.index("routine")
#: Reviews made with the model's output on screen are left out by default: a model that
#: learns from confirmations of its own tiers learns its policy, not the truth (issue 12).
DEFAULT_LABEL_WEIGHTS: dict[Provenance, float] = {
    "outcome": 1.0,
    "blind_review": 1.0,
    "history": 1.0,
    "shown_review": 0.0,
}


class TrainConfig(BaseModel):
    """Training settings (``triage train --config FILE`` takes these as JSON)."""

    model_config = ConfigDict(extra="forbid")

    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    recall_immediate: float = Field(default=0.95, gt=0, le=1)
    recall_high: float = Field(default=0.90, gt=0, le=1)
    num_threads: int = Field(default=2, ge=1)
    rounds: int = Field(default=800, ge=10)
    early_stopping: int = Field(default=50, ge=5)
    early_stopping_share: float = Field(default=0.15, gt=0, lt=0.5)
    backtests: int = Field(default=2, ge=0)
    monotone: bool = Field(default=True, description="monotone urgency head (see MONOTONE_URGENCY)")
    params: dict[str, Any] = Field(default_factory=dict)
    label_weights: dict[Provenance, float] = Field(
        default_factory=lambda: dict(DEFAULT_LABEL_WEIGHTS),
        description="weight of an urgency label by its provenance (0 leaves it out); "
        "a provenance not named weighs 0",
    )

    @field_validator("label_weights")
    @classmethod
    def _weights_in_range(cls, v: dict[str, float]) -> dict[str, float]:
        bad = sorted(k for k, w in v.items() if not 0.0 <= w <= 1.0)
        if bad:
            raise ValueError(f"label_weights: {', '.join(bad)} must be between 0 and 1")
        return v


def label_weights(ds: Dataset, cfg: TrainConfig) -> np.ndarray:
    """Each row's urgency-label weight from its provenance (``TrainConfig.label_weights``)."""
    prov = np.asarray(ds.provenance, dtype=object)
    w = np.zeros(len(prov))
    for p, weight in cfg.label_weights.items():
        w[prov == p] = weight
    return w


def say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def _reference_softmax(preds: np.ndarray, data: lgb.Dataset) -> tuple[np.ndarray, np.ndarray]:
    """Softmax cross-entropy gradients with the reference class's margin fixed at 0."""
    y = np.asarray(data.get_label(), dtype=np.int64)
    z = np.array(preds, dtype=np.float64, copy=True)
    z[:, REFERENCE_CLASS] = 0.0
    p = softmax(z)
    hess = np.maximum(1.5 * p * (1.0 - p), 1e-6)  # LightGBM's multiclass factor k/(k-1)
    grad = p
    grad[np.arange(len(y)), y] -= 1.0
    grad[:, REFERENCE_CLASS] = 0.0
    hess[:, REFERENCE_CLASS] = 1.0
    return grad, hess


def _log_loss(preds: np.ndarray, data: lgb.Dataset) -> tuple[str, float, bool]:
    y = np.asarray(data.get_label(), dtype=np.int64)
    p = softmax(np.asarray(preds, dtype=np.float64))
    return (
        "multi_logloss",
        float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-15, 1)))),
        False,
    )


def train_monotone_urgency(
    X: pd.DataFrame,
    y: np.ndarray,
    X_valid: pd.DataFrame,
    y_valid: np.ndarray,
    cfg: TrainConfig,
    progress: Callable[[int, float], None] | None = None,
    weight: np.ndarray | None = None,
) -> lgb.Booster:
    """The urgency head with routine as the reference class and monotone constraints."""
    params = {
        **DEFAULT_PARAMS,
        **cfg.params,
        "objective": _reference_softmax,
        "metric": "None",
        "num_threads": cfg.num_threads,
        "monotone_constraints": [MONOTONE_URGENCY.get(c, 0) for c in X.columns],
    }
    init = _prior_margins(y)
    train = lgb.Dataset(
        X, y, weight=weight, init_score=np.tile(init, (len(y), 1)), free_raw_data=True
    )
    valid = lgb.Dataset(
        X_valid, y_valid, init_score=np.tile(init, (len(y_valid), 1)), reference=train
    )
    callbacks: list[Any] = [lgb.early_stopping(cfg.early_stopping, verbose=False)]
    if progress is not None:

        def _cb(env: Any) -> None:
            if env.iteration % 25 == 0 and env.evaluation_result_list:
                progress(env.iteration, float(env.evaluation_result_list[0][2]))

        callbacks.append(_cb)
    booster = lgb.train(
        params,
        train,
        num_boost_round=cfg.rounds,
        valid_sets=[valid],
        feval=_log_loss,
        callbacks=callbacks,
    )
    return _fold_in(booster, init)


def _prior_margins(y: np.ndarray) -> np.ndarray:
    """Log-odds of each class against the reference in the training labels (smoothed):
    the start LightGBM's own multiclass objective takes ("boost from average")."""
    counts = np.bincount(y, minlength=len(URGENCY_CLASSES)) + 1.0
    return np.log(counts / counts[REFERENCE_CLASS])


def _fold_in(booster: lgb.Booster, init: np.ndarray) -> lgb.Booster:
    """Add the starting margins to the first iteration's leaves, as LightGBM does for its
    built-in objectives: ``init_score`` is not saved with a model, the leaves are."""
    for tree in booster.dump_model(num_iteration=1)["tree_info"]:
        k = tree["tree_index"]
        for leaf in range(tree["num_leaves"]):
            booster.set_leaf_output(k, leaf, booster.get_leaf_output(k, leaf) + init[k])
    return booster


def _train(
    head: str,
    X: pd.DataFrame,
    y: np.ndarray,
    fit_idx: np.ndarray,
    es_idx: np.ndarray,
    cfg: TrainConfig,
    progress: Callable[[str], None],
    weight: np.ndarray | None = None,
) -> lgb.Booster:
    def rounds(it: int, v: float) -> None:
        progress(f"  {head}: round {it}, valid log loss {v:.4f}")

    w = None if weight is None else weight[fit_idx]
    if head == "urgency" and cfg.monotone:
        return train_monotone_urgency(
            X.iloc[fit_idx], y[fit_idx], X.iloc[es_idx], y[es_idx], cfg, rounds, w
        )
    return train_head(
        X.iloc[fit_idx],
        y[fit_idx],
        X.iloc[es_idx],
        y[es_idx],
        num_threads=cfg.num_threads,
        rounds=cfg.rounds,
        early_stopping=cfg.early_stopping,
        params=cfg.params,
        progress=rounds,
        weight=w,
    )


def fit(
    ds: Dataset, split: Split, cfg: TrainConfig, progress: Callable[[str], None] = say
) -> tuple[TriageModel, dict[str, Any]]:
    X = ds.feats.X
    tr = np.flatnonzero(split.train)
    n_es = max(1, int(len(tr) * cfg.early_stopping_share))
    fit_idx, es_idx = tr[:-n_es], tr[-n_es:]  # rows are in time order
    weights = label_weights(ds, cfg)
    labelled = weights > 0  # urgency rows whose provenance training uses
    boosters, calibrators, info = {}, {}, {}
    for head in ("urgency", "viability"):
        classes = CLASSES[head]
        y = class_index(getattr(ds, f"y_{head}"), classes)
        # viability labels come from the disposition, whoever made it (contract §5)
        use = labelled if head == "urgency" else np.ones(len(ds), dtype=bool)
        f_idx, e_idx, cal = fit_idx[use[fit_idx]], es_idx[use[es_idx]], split.calibrate & use
        if len(f_idx) == 0 or len(e_idx) == 0 or not cal.any():
            raise ValueError(f"label_weights: no {head} labels left in a training window")
        progress(
            f"training {head} head on {len(f_idx):,} referrals (early stopping on {len(e_idx):,})"
        )
        b = _train(head, X, y, f_idx, e_idx, cfg, progress, weights if head == "urgency" else None)
        boosters[head] = b
        m = np.asarray(b.predict(X[cal], raw_score=True, num_threads=cfg.num_threads))
        before = head_metrics(getattr(ds, f"y_{head}")[cal], VectorScaling.identity(3)(m), classes)
        c = fit_vector_scaling(m, y[cal])
        if head == "urgency" and cfg.monotone and min(c.w[:REFERENCE_CLASS]) <= 0:
            raise RuntimeError("calibration: a non-positive scale would undo the monotone head")
        after = head_metrics(getattr(ds, f"y_{head}")[cal], c(m), classes)
        calibrators[head] = c
        info[head] = {
            "best_iteration": b.best_iteration,
            "monotone": head == "urgency" and cfg.monotone,
            "ece_before": before["top_label_ece"],
            "ece_after": after["top_label_ece"],
            "log_loss_before": before["log_loss"],
            "log_loss_after": after["log_loss"],
        }
        progress(
            f"  {head}: {b.best_iteration} trees; calibration ECE "
            f"{before['top_label_ece']:.4f} -> {after['top_label_ece']:.4f}"
        )
    cal = split.calibrate & labelled
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
            "monotone_urgency": MONOTONE_URGENCY if cfg.monotone else {},
            "classes": {"urgency": list(URGENCY_CLASSES), "viability": list(VIABILITY_CLASSES)},
        },
    )
    model = TriageModel(boosters, calibrators, policy, manifest, num_threads=cfg.num_threads)
    return model, info
