"""Rank for the top of the queue (issue 11, item 6): choose the urgency head's rounds and
the weight of ``immediate`` referrals by what the unit uses, not by log loss alone.

The unit works the top ``immediate_share`` of arrivals (3 % by default, from the operating
policy) as "act within hours". What matters is how many truly immediate referrals land
there: recall of immediate at that share (:func:`training.workload.recall_at_share`). Log
loss rewards every probability equally, and most referrals are routine, so the round
where log loss is best is not the round where the top of the ranking is best.

With ``TrainConfig.top_of_queue`` the urgency head is trained once per candidate weight
of the immediate class (``immediate_weights``), each time recording recall at the share on
the validation slice (the training window's last ``early_stopping_share``, later than
everything fitted on) at every round; log loss still stops training (with twice the
patience) so it never runs away. The round kept is the best of a centred moving average of
recall (one round's recall moves with a handful of referrals), and the candidate kept is
the one with the best recall there, ties to the lower log loss. The monotone constraints
and the calibration step on the later calibration window are unchanged: reweighting shifts
the raw margins, and vector scaling puts the probabilities back.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from models.calibration import softmax
from training.workload import recall_at_share

METRIC = "recall_immediate_at_share"
SMOOTH_ROUNDS = 25
IMMEDIATE = 0  # class index of immediate in URGENCY_CLASSES


def recall_feval(share: float) -> Callable[[np.ndarray, Any], tuple[str, float, bool]]:
    """A LightGBM ``feval``: recall of immediate in the top ``share`` of the validation rows
    by P(immediate) (rows in arrival order, so ties go to the earlier arrival)."""

    def feval(preds: np.ndarray, data: Any) -> tuple[str, float, bool]:
        y = np.asarray(data.get_label(), dtype=np.int64)
        p = softmax(np.asarray(preds, dtype=np.float64))[:, IMMEDIATE]
        r = recall_at_share(p, y == IMMEDIATE, share)
        return METRIC, 0.0 if np.isnan(r) else float(r), True

    return feval


def best_round(recalls: Sequence[float], window: int = SMOOTH_ROUNDS) -> int:
    """1-based round with the best centred moving average of ``recalls`` (the window
    shrinks at the ends); among equal averages the best single round, then the earliest."""
    r = np.asarray(recalls, dtype=np.float64)
    if len(r) == 0:
        raise ValueError("no rounds recorded")
    half = max(0, window // 2)
    c = np.concatenate([[0.0], np.cumsum(r)])
    lo = np.clip(np.arange(len(r)) - half, 0, len(r))
    hi = np.clip(np.arange(len(r)) + half + 1, 0, len(r))
    smooth = np.round((c[hi] - c[lo]) / (hi - lo), 12)
    return int(np.lexsort((np.arange(len(r)), -r, -smooth))[0]) + 1


@dataclass(frozen=True)
class Candidate:
    """One trained candidate: the immediate weight, the round kept, and the validation
    recall (smoothed) and log loss at that round."""

    weight: float
    rounds: int
    recall: float
    log_loss: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def candidate(weight: float, record: dict[str, list[float]]) -> Candidate:
    """The candidate from one training's per-round record (``METRIC`` and log loss)."""
    recalls = record[METRIC]
    k = best_round(recalls)
    half = SMOOTH_ROUNDS // 2
    window = recalls[max(0, k - 1 - half) : k + half]
    return Candidate(
        float(weight), k, float(np.mean(window)), float(record["multi_logloss"][k - 1])
    )


def choose(cands: Sequence[Candidate]) -> Candidate:
    """The best validation recall; ties to the lower log loss, then the smaller weight."""
    if not cands:
        raise ValueError("no candidates")
    return min(cands, key=lambda c: (-round(c.recall, 9), c.log_loss, c.weight))


def class_weights(y: np.ndarray, weight: float) -> np.ndarray:
    """Per-row training weights: ``weight`` for immediate rows, 1 for the others."""
    return np.where(np.asarray(y) == IMMEDIATE, float(weight), 1.0)
