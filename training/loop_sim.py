"""The learning loop, simulated: deploy -> review -> retrain, several times (issue 12).

A model whose labels come from reviewers shown its own tiers learns its policy, not the
truth, and the history features (``platform_urgent_rate``, ``link_prior_urgent``) it
reads drift with those labels. This runs the loop on a generated stream whose truth is
known and reports, per retraining cycle, how far the labels and the models drift.

The stream (``training.synthetic``) is cut by time into imported history (labelled with
the truth), ``cycles`` deployment segments and a final holdout. Model 0 is trained on the
history; model *c* is deployed on segment *c+1*, whose referrals simulated reviewers then
label; model *c+1* is retrained on everything known at the segment's end; every model is
measured on the same holdout, against the truth. Reviewers:

* **first review** (shown the tier): with probability ``anchoring`` they take the tier
  shown as their judgement, else their own, which is the truth except with probability
  ``noise`` (one class off); only the top ``capacity`` share by priority is reviewed
  within the segment; decided a few hours (immediate tier) to a week (routine) after
  arrival;
* **blind second review** (the keyed 3 % draw, ``features.blind_draw``): their own
  judgement, no anchoring, two days after arrival;
* **outcome reports**: the truth, for an ``outcome_share`` of referrals, weeks later.

With ``safeguards`` (this branch's training path): labels keep their provenance,
training weighs them by ``TrainConfig.label_weights`` (reviews made with the model shown
left out by default), windows end where labels are mature, and the history features use
the best label known (outcome, blind review, imported history, then the reviewer's own
assessment), never the tier. Without (the path before issue 12): the decision's tier is
the label, every label is used, and nothing waits for labels to mature.

Metrics against the truth use the oracle's probabilities as soft labels (the expected
ROC-AUC and recall over the truth's draws): at a 1 % immediate rate the drawn labels of a
small holdout would bury a 0.01 change in noise. Everything is computed by the code
training uses (``training.fit.fit``, ``training.splits``, ``features.pipeline``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from features.blind_draw import drawn_for_blind_review
from features.contract import URGENCY_CLASSES, Outcome
from features.pipeline import Features, build_features
from features.pseudonyms import Pseudonymiser
from features.tiers import IMMEDIATE as IMMEDIATE_RANK
from features.tiers import class_of_rank
from models import safety
from models.triage_model import TriageModel
from training.data import Dataset
from training.fit import TrainConfig, fit, label_weights
from training.loop_stream import SIM_KEY, Labels, Stream, stream
from training.splits import maturity, time_split

FRACTIONS = (0.75, 0.2, 0.05)
REVIEW_LAG_H = {2: 2.0, 1: 24.0, 0: 168.0}  # first review, hours after arrival, by tier rank
BLIND_LAG_H = 48.0
HISTORY_FEATURES = ("platform_urgent_rate", "link_prior_urgent")
IMMEDIATE = URGENCY_CLASSES.index("immediate")


class LoopConfig(BaseModel):
    """One simulated run (``triage loop`` takes these as options)."""

    model_config = ConfigDict(extra="forbid")

    n: int = Field(default=20_000, ge=1000)
    days: int = Field(default=360, ge=60)
    seed: int = 7
    cycles: int = Field(default=3, ge=1)
    history_share: float = Field(default=0.4, gt=0, lt=1)
    holdout_share: float = Field(default=0.2, gt=0, lt=1)
    anchoring: float = Field(default=0.5, ge=0, le=1)
    noise: float = Field(default=0.1, ge=0, le=1)
    capacity: float = Field(default=0.8, gt=0, le=1)
    blind_share: float = Field(default=0.03, ge=0, le=1)
    outcome_share: float = Field(default=0.7, ge=0, le=1)
    outcome_median_days: float = Field(default=14.0, gt=0)
    safeguards: bool = True
    rounds: int = Field(default=200, ge=10)
    num_threads: int = Field(default=1, ge=1)


def _features(s: Stream, cls: np.ndarray, at: pd.Series) -> Features:
    outs: list[Outcome | None] = [
        Outcome(viability=it.outcome.viability, urgency=URGENCY_CLASSES[c], decided_at=t)  # type: ignore[union-attr]
        if c >= 0
        else None
        for it, c, t in zip(s.items, cls, at, strict=True)
    ]
    return build_features([it.referral for it in s.items], outs)


def expected_auc(score: np.ndarray, p_true: np.ndarray) -> float:
    """ROC-AUC expected over labels drawn from ``p_true`` (each row is positive with weight
    p and negative with weight 1 - p; ties count half)."""
    _, inv = np.unique(score, return_inverse=True)
    pos = np.bincount(inv, weights=p_true)
    neg = np.bincount(inv, weights=1.0 - p_true)
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))


Progress = Callable[[str], None]


def _quiet(_m: str) -> None:
    return None


def run_loop(cfg: LoopConfig, progress: Progress = _quiet) -> pd.DataFrame:
    """The loop; one row per model (0 = trained on the imported history alone)."""
    progress(f"generating and reading {cfg.n:,} referrals")
    s = stream(cfg.n, cfg.seed, cfg.days, cfg.history_share, cfg.holdout_share, cfg.cycles)
    rng = np.random.default_rng(cfg.seed + 1)
    labels = Labels(len(s.items))
    hist = s.segment == 0
    labels.add("history", np.flatnonzero(hist), s.truth[hist], s.truth_decided[hist])
    order: tuple[str, ...] = ("outcome", "blind_review", "history", "shown_review")
    tcfg = TrainConfig(
        rounds=cfg.rounds, num_threads=cfg.num_threads, backtests=0, fractions=FRACTIONS
    )
    if not cfg.safeguards:  # before issue 12: every label counts, whoever made it
        order = ("history", "shown_review")
        tcfg = tcfg.model_copy(update={"label_weights": dict.fromkeys(order, 1.0)})
    holdout = s.segment == cfg.cycles + 1
    rows = []
    for c in range(cfg.cycles + 1):
        now = s.ends[c]
        cls, at, prov = labels.known(order, now)
        feats = _features(s, cls, at)
        try:
            model, used = _retrain(s, feats, cls, at, prov, now, tcfg, cfg.safeguards)
            failed = 0.0
        except RuntimeError as e:  # the echo can break the fit itself: keep the last model
            if c == 0:
                raise
            progress(f"model {c}: retraining failed ({e}); model {c - 1} stays deployed")
            failed = 1.0
        progress(f"model {c}: trained on {int(used.sum()):,} labels up to {now:%Y-%m-%d}")
        row = _measure(model, s, feats, holdout, cls, used, now)
        rows.append({"model": c, **row, "retrain_failed": failed})
        if c < cfg.cycles:
            _review(cfg, s, labels, model, feats, s.segment == c + 1, rng)
    return pd.DataFrame(rows).set_index("model")


def _retrain(
    s: Stream,
    feats: Features,
    cls: np.ndarray,
    at: pd.Series,
    prov: np.ndarray,
    now: pd.Timestamp,
    tcfg: TrainConfig,
    safeguards: bool,
) -> tuple[TriageModel, np.ndarray]:
    """Fit on every referral received before ``now`` with a label known by then; returns
    the model and which referrals' labels training used (weight above 0)."""
    rows = (cls >= 0) & (s.received < now).to_numpy()
    meta = feats.meta[rows].reset_index(drop=True)
    ds = Dataset(
        feats=Features(feats.X[rows].reset_index(drop=True), meta, feats.events),
        referrals=[],
        y_urgency=np.array([URGENCY_CLASSES[c] for c in cls[rows]], dtype=object),
        y_viability=s.viability[rows],
        decided_at=at[rows].reset_index(drop=True),
        oracle_urgency=None,
        oracle_viability=None,
        digest="loop-simulation",
        provenance=prov[rows],
    )
    received = meta["received_at"]
    mature = maturity(received, ds.decided_at, ds.y_urgency, as_of=now) if safeguards else None
    split = time_split(received, ds.decided_at, FRACTIONS, end=now, mature=mature)
    model, _ = fit(ds, split, tcfg, progress=_quiet)
    used = np.zeros(len(rows), dtype=bool)
    used[np.flatnonzero(rows)[(label_weights(ds, tcfg) > 0) & split.train]] = True
    return model, used


def _measure(
    model: TriageModel,
    s: Stream,
    feats: Features,
    holdout: np.ndarray,
    cls: np.ndarray,
    used: np.ndarray,
    now: pd.Timestamp,
) -> dict[str, float]:
    """Labels against the truth on the training rows; the model against the truth on the
    holdout; the history features as the loop's labels make them against the truth's."""
    h = Features(feats.X[holdout], feats.meta[holdout].reset_index(drop=True), feats.events)
    pred = model.predict(h)
    p_true = s.oracle[holdout, IMMEDIATE]
    auc, oracle_auc = (
        expected_auc(pred.p_urgency[:, IMMEDIATE], p_true),
        expected_auc(p_true, p_true),
    )
    tier_immediate = pred.rank == IMMEDIATE_RANK
    known = (s.truth_decided < now).to_numpy()
    true_feats = _features(s, np.where(known, s.truth, -1), s.truth_decided)
    label_prev = float((cls[used] == IMMEDIATE).mean())
    true_prev = float((s.truth[used] == IMMEDIATE).mean())
    out = {
        "labels_used": float(used.sum()),
        "label_immediate_prevalence": label_prev,
        "true_immediate_prevalence": true_prev,
        "prevalence_vs_truth": label_prev / true_prev if true_prev else float("nan"),
        "roc_auc_immediate": auc,
        "oracle_roc_auc_immediate": oracle_auc,
        "oracle_ratio": auc / oracle_auc,
        "tier_immediate_share": float(tier_immediate.mean()),
        "recall_at_operating_point": float(p_true[tier_immediate].sum() / p_true.sum()),
    }
    for name in HISTORY_FEATURES:
        loop_mean = float(feats.X.loc[holdout, name].mean())
        true_mean = float(true_feats.X.loc[holdout, name].mean())
        out[f"{name}_vs_truth"] = loop_mean / true_mean if true_mean else float("nan")
    return out


def _review(
    cfg: LoopConfig,
    s: Stream,
    labels: Labels,
    model: TriageModel,
    feats: Features,
    seg: np.ndarray,
    rng: np.random.Generator,
) -> None:
    """Simulated reviewers on one deployment segment (see the module doc)."""
    rows = np.flatnonzero(seg)
    pred = model.predict(
        Features(feats.X[seg], feats.meta[seg].reset_index(drop=True), feats.events)
    )
    truth, received = s.truth[rows], s.received[rows].reset_index(drop=True)
    reached = np.zeros(len(rows), dtype=bool)
    reached[np.argsort(-pred.priority, kind="stable")[: int(round(cfg.capacity * len(rows)))]] = (
        True
    )
    shown = np.where(
        rng.random(len(rows)) < cfg.anchoring,
        class_of_rank(pred.rank),
        _judge(truth, cfg.noise, rng),
    )
    lag = pd.to_timedelta(np.vectorize(REVIEW_LAG_H.__getitem__)(pred.rank), unit="h")
    labels.add("shown_review", rows[reached], shown[reached], (received + lag)[reached])
    if not cfg.safeguards:
        return
    ids = [s.items[i].referral.referral_id for i in rows]
    key = Pseudonymiser(SIM_KEY)
    blind = np.array([drawn_for_blind_review(i, key, cfg.blind_share) for i in ids])
    blind &= safety.floor_rank(pred.fired) == 0  # never a safety-floor referral
    own = _judge(truth, cfg.noise, rng)
    labels.add(
        "blind_review", rows[blind], own[blind], (received + pd.Timedelta(hours=BLIND_LAG_H))[blind]
    )
    back = rng.random(len(rows)) < cfg.outcome_share
    delay = pd.to_timedelta(
        np.exp(rng.normal(np.log(cfg.outcome_median_days), 0.5, len(rows))), unit="D"
    )
    labels.add("outcome", rows[back], truth[back], (received + delay)[back])


def _judge(truth: np.ndarray, noise: float, rng: np.random.Generator) -> np.ndarray:
    """A reviewer's own judgement: the truth, or one class off with probability ``noise``."""
    off = rng.random(len(truth)) < noise
    step = np.where(truth == 0, 1, np.where(truth == 2, -1, rng.choice([-1, 1], len(truth))))
    return np.where(off, truth + step, truth)
