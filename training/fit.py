"""Fit a ``TriageModel`` on a time split: heads on the training window (early stopping on
its last slice), calibration and the tier thresholds on the later calibration window.

The tier thresholds hold the operating policy's caps (``models/operating_policy.toml``, or
``TrainConfig.policy_file``) day by day on the calibration window (:mod:`models.policy`);
:func:`fit_tiers` is also what ``triage policy set`` calls to refit them for new caps
from the scores the artefact keeps, without retraining the heads.

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
``OMP_WAIT_POLICY=PASSIVE`` before LightGBM loads (``features/process_env.py``, called by
the command line's entry point), which removes that penalty.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, field_validator

from features.contract import URGENCY_CLASSES, VIABILITY_CLASSES
from features.labels import Provenance
from models import safety
from models.calibration import VectorScaling, fit_vector_scaling, softmax
from models.conformal import fit_sets, split_in_time
from models.heads import DEFAULT_PARAMS, train_head
from models.manifest import Manifest, git_commit
from models.operating_policy import OperatingPolicy, load_policy
from models.policy import FIT_WITHIN_DAYS, TierPolicy, day_index, fit_policy
from models.triage_model import CLASSES, TriageModel
from training import top_of_queue as top
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
    # domain.md §3: never down-rank on these alone (a product rule, not a fitted sign)
    "fa_generative_ai": 1,
    "ann_minor_to_minor": 1,
    "fa_possible_self_production": 1,
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
    policy_file: str | None = Field(
        default=None, description="operating policy TOML (default: the packaged policy)"
    )
    within_days: float = Field(
        default=FIT_WITHIN_DAYS,
        gt=0,
        le=1,
        description="share of calibration days the fitted tiers must hold their caps on",
    )
    num_threads: int = Field(default=2, ge=1)
    rounds: int = Field(default=800, ge=10)
    early_stopping: int = Field(default=50, ge=5)
    early_stopping_share: float = Field(default=0.15, gt=0, lt=0.5)
    backtests: int = Field(default=2, ge=0)
    conformal_share: float = Field(
        default=0.5,
        gt=0,
        lt=1,
        description="later share of the calibration window for the urgency sets",
    )
    audition: tuple[str, ...] = Field(
        default=(),
        description="configurations refitted on every backtest fold beside the product's "
        "(training.backtests.CANDIDATES: logistic, shallow)",
    )
    monotone: bool = Field(default=True, description="monotone urgency head (see MONOTONE_URGENCY)")
    params: dict[str, Any] = Field(default_factory=dict)
    top_of_queue: bool = Field(
        default=False,
        description="choose the urgency head's rounds and immediate weight by recall of "
        "immediate at the policy's immediate_share on the validation slice "
        "(training/top_of_queue.py)",
    )
    immediate_weights: tuple[float, ...] = Field(
        default=(1.0, 3.0), min_length=1, description="candidate weights of immediate rows"
    )
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
    w = data.get_weight()
    if w is not None:  # a custom objective must apply row weights itself
        w = np.asarray(w, dtype=np.float64)[:, None]
        grad, hess = grad * w, np.where(np.arange(3) == REFERENCE_CLASS, 1.0, hess * w)
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
    *,
    weight: np.ndarray | None = None,
    extra_feval: Callable[[np.ndarray, Any], tuple[str, float, bool]] | None = None,
    record: dict[str, Any] | None = None,
    patience: int | None = None,
) -> lgb.Booster:
    """The urgency head with routine as the reference class and monotone constraints.

    Log loss on the validation rows stops training; ``extra_feval`` adds a metric to
    ``record`` (per round, as ``lgb.record_evaluation`` keeps it) without stopping on it;
    ``weight`` weights the training rows. With a ``record`` every tree trained is kept
    (``best_iteration`` still says where log loss was best) so the caller may choose
    another round."""
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
    callbacks: list[Any] = [
        lgb.early_stopping(patience or cfg.early_stopping, first_metric_only=True, verbose=False)
    ]
    if record is not None:
        callbacks.append(lgb.record_evaluation(record))
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
        feval=[_log_loss] if extra_feval is None else [_log_loss, extra_feval],
        callbacks=callbacks,
        keep_training_booster=record is not None,  # else trees after the best are dropped
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
    share: float | None = None,
    weight: np.ndarray | None = None,
) -> tuple[lgb.Booster, dict[str, Any]]:
    """The head's booster, and what was chosen for the top of the queue (if anything).
    ``weight``: every row's label weight (its provenance, ``TrainConfig.label_weights``)."""

    def rounds(it: int, v: float) -> None:
        progress(f"  {head}: round {it}, valid log loss {v:.4f}")

    w = None if weight is None else weight[fit_idx]
    if head == "urgency" and cfg.monotone and cfg.top_of_queue and share is not None:
        return _train_for_top(X, y, fit_idx, es_idx, cfg, share, progress, w)
    if head == "urgency" and cfg.monotone:
        return train_monotone_urgency(
            X.iloc[fit_idx], y[fit_idx], X.iloc[es_idx], y[es_idx], cfg, rounds, weight=w
        ), {}
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
    ), {}


def _train_for_top(
    X: pd.DataFrame,
    y: np.ndarray,
    fit_idx: np.ndarray,
    es_idx: np.ndarray,
    cfg: TrainConfig,
    share: float,
    progress: Callable[[str], None],
    label_weight: np.ndarray | None = None,
) -> tuple[lgb.Booster, dict[str, Any]]:
    """The urgency head chosen for the top of the queue (:mod:`training.top_of_queue`),
    and the candidates with the choice (kept in the manifest)."""
    found: list[tuple[top.Candidate, lgb.Booster]] = []
    for w in cfg.immediate_weights:
        record: dict[str, Any] = {}
        b = train_monotone_urgency(
            X.iloc[fit_idx],
            y[fit_idx],
            X.iloc[es_idx],
            y[es_idx],
            cfg,
            weight=top.class_weights(y[fit_idx], w)
            * (1.0 if label_weight is None else label_weight),
            extra_feval=top.recall_feval(share),
            record=record,
            patience=2 * cfg.early_stopping,
        )
        c = top.candidate(w, record["valid_0"])
        progress(
            f"  urgency, immediate weight {w:g}: round {c.rounds} of {b.current_iteration()}, "
            f"valid recall of immediate at {share:.0%} {c.recall:.4f}"
        )
        found.append((c, b))
    best = top.choose([c for c, _ in found])
    booster = next(b for c, b in found if c is best)
    booster.best_iteration = best.rounds
    chosen = {
        "share": share,
        "candidates": [c.as_dict() for c, _ in found],
        "chosen": best.as_dict(),
    }
    return booster, {"top_of_queue": chosen}


def fit(
    ds: Dataset,
    split: Split,
    cfg: TrainConfig,
    progress: Callable[[str], None] = say,
    engine: str = "local",
) -> tuple[TriageModel, dict[str, Any]]:
    """The one training assembly (local and Dask engines alike; ``engine`` says which one
    computed ``ds``'s features, and is the only thing their manifests differ in)."""
    X = ds.feats.X
    tr = np.flatnonzero(split.train)
    n_es = max(1, int(len(tr) * cfg.early_stopping_share))
    fit_idx, es_idx = tr[:-n_es], tr[-n_es:]  # rows are in time order
    operating = load_policy(Path(cfg.policy_file) if cfg.policy_file else None)
    # probability calibration on the calibration window's earlier part, the conformal
    # urgency sets on its later part (models.conformal: data the calibration never saw)
    cal_fit, cal_sets = split_in_time(split.calibrate, cfg.conformal_share)
    weights = label_weights(ds, cfg)
    labelled = weights > 0  # urgency rows whose provenance training uses
    boosters, calibrators, info = {}, {}, {}
    for head in ("urgency", "viability"):
        classes = CLASSES[head]
        y = class_index(getattr(ds, f"y_{head}"), classes)
        # viability labels come from the disposition, whoever made it (contract §5)
        use = labelled if head == "urgency" else np.ones(len(ds), dtype=bool)
        f_idx, e_idx, c_fit = fit_idx[use[fit_idx]], es_idx[use[es_idx]], cal_fit & use
        if len(f_idx) == 0 or len(e_idx) == 0 or not c_fit.any():
            raise ValueError(f"label_weights: no {head} labels left in a training window")
        progress(
            f"training {head} head on {len(f_idx):,} referrals (early stopping on {len(e_idx):,})"
        )
        b, chosen = _train(
            head,
            X,
            y,
            f_idx,
            e_idx,
            cfg,
            progress,
            operating.immediate_share,
            weights if head == "urgency" else None,
        )
        boosters[head] = b
        m = np.asarray(b.predict(X[c_fit], raw_score=True, num_threads=cfg.num_threads))
        y_cal = getattr(ds, f"y_{head}")[c_fit]
        before = head_metrics(y_cal, VectorScaling.identity(3)(m), classes)
        c = fit_vector_scaling(m, y[c_fit])
        if head == "urgency" and cfg.monotone and min(c.w[:REFERENCE_CLASS]) <= 0:
            raise RuntimeError("calibration: a non-positive scale would undo the monotone head")
        after = head_metrics(y_cal, c(m), classes)
        calibrators[head] = c
        info[head] = {
            "best_iteration": b.best_iteration,
            "monotone": head == "urgency" and cfg.monotone,
            "ece_before": before["top_label_ece"],
            "ece_after": after["top_label_ece"],
            "log_loss_before": before["log_loss"],
            "log_loss_after": after["log_loss"],
            **chosen,
        }
        progress(
            f"  {head}: {b.best_iteration} trees; calibration ECE "
            f"{before['top_label_ece']:.4f} -> {after['top_label_ece']:.4f}"
        )
    cal = split.calibrate  # tiers are shares of all arrivals, labelled or not
    pu = calibrators["urgency"](
        np.asarray(boosters["urgency"].predict(X[cal], raw_score=True, num_threads=cfg.num_threads))
    )
    scores = calibration_scores(
        pu, safety.floor_rank(safety.fired(X[cal])), ds.feats.meta["received_at"][cal]
    )
    policy = fit_tiers(scores, operating, cfg.within_days)
    progress(
        f"  tiers for policy {operating.version}: P(immediate) >= {policy.t_immediate:.4f}, "
        f"P(immediate)+P(high) >= {policy.t_high:.4f}"
    )
    # the later part, among the calibration rows of ``pu``, with a label training uses
    in_sets = (cal_sets & labelled)[cal]
    sets = fit_sets(pu[in_sets], class_index(ds.y_urgency[cal_sets & labelled], URGENCY_CLASSES))
    progress(
        f"  urgency sets: fitted on the calibration window's last {in_sets.sum():,} referrals "
        f"({sets.calibration_counts[0]:,} immediate)"
    )
    manifest = Manifest(
        created_at=datetime.now(UTC).isoformat(),
        git_commit=git_commit(),
        training={
            "engine": engine,
            "data_digest": ds.digest,
            "split": split.describe(),
            "rows": len(ds),
            "config": cfg.model_dump(),
            "heads": info,
            "monotone_urgency": MONOTONE_URGENCY if cfg.monotone else {},
            "classes": {"urgency": list(URGENCY_CLASSES), "viability": list(VIABILITY_CLASSES)},
        },
    )
    model = TriageModel(
        boosters,
        calibrators,
        policy,
        manifest,
        num_threads=cfg.num_threads,
        operating=operating,
        calibration_scores=scores,
        sets=sets,
    )
    return model, info


def calibration_scores(
    p_urgency: np.ndarray, floor: np.ndarray, received_at: Any
) -> dict[str, np.ndarray]:
    """What refitting the tiers needs from the calibration window, and nothing more: the
    two ranking scores, the safety floor's rank and the UTC day of arrival (no ids)."""
    return {
        "p_immediate": p_urgency[:, 0].astype(np.float64),
        "p_high": p_urgency[:, 1].astype(np.float64),
        "floor": np.asarray(floor, dtype=np.int8),
        "day": day_index(received_at).astype(np.int32),
    }


def fit_tiers(
    scores: dict[str, np.ndarray],
    operating: OperatingPolicy,
    within_days: float = FIT_WITHIN_DAYS,
) -> TierPolicy:
    """Thresholds for ``operating``'s caps on kept calibration scores (the one fitting path
    for ``triage train`` and ``triage policy set``)."""
    pu = np.column_stack(
        [scores["p_immediate"], scores["p_high"], 1 - scores["p_immediate"] - scores["p_high"]]
    )
    return fit_policy(
        pu,
        scores["floor"].astype(np.int64),
        None,
        day=scores["day"].astype(np.int64),
        immediate_share=operating.immediate_share,
        high_share=operating.high_share,
        within_days=within_days,
        policy_version=operating.version,
        policy_digest=operating.digest(),
    )
