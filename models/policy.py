"""The tier policy: thresholds on calibrated urgency probabilities, fitted on validation data.

Tier ``immediate`` if P(immediate) >= ``t_immediate``; else ``high`` if P(immediate) +
P(high) >= ``t_high``; else ``routine``; then the safety floor may lift it. Thresholds are
chosen to meet a stated recall (default: 95% of immediate referrals land in ``immediate``,
90% of immediate-or-high land in ``high`` or above) at the smallest tier size, counting the
referrals the safety floor already lifts. The fitted thresholds live in the model artefact;
callers never hard-code them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from features.contract import TIERS, Tier

TIER_BY_RANK: dict[int, Tier] = dict(enumerate(reversed(TIERS)))  # 0 routine .. 2 immediate


@dataclass(frozen=True)
class TierPolicy:
    t_immediate: float
    t_high: float
    recall_immediate: float = 0.95
    recall_high: float = 0.90

    def ranks(self, p_urgency: np.ndarray, floor: np.ndarray | None = None) -> np.ndarray:
        """Tier rank per row (2 immediate, 1 high, 0 routine) from (n, 3) probabilities
        in ``URGENCY_CLASSES`` order, lifted to ``floor`` where given."""
        r = np.where(
            p_urgency[:, 0] >= self.t_immediate,
            2,
            np.where(p_urgency[:, 0] + p_urgency[:, 1] >= self.t_high, 1, 0),
        )
        return r if floor is None else np.maximum(r, floor)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def _threshold_for_recall(
    score: np.ndarray, positive: np.ndarray, covered: np.ndarray, target: float
) -> float:
    """Largest threshold t with recall(score >= t or covered) >= target."""
    n_pos = int(positive.sum())
    if n_pos == 0:
        return 1.0
    need = int(np.ceil(target * n_pos)) - int((positive & covered).sum())
    if need <= 0:
        return float(np.nextafter(1.0, 2.0))  # nothing beyond the floor is needed
    cand = np.sort(score[positive & ~covered])[::-1]
    return float(cand[min(need, len(cand)) - 1])


def fit_policy(
    p_urgency: np.ndarray,
    y_urgency: np.ndarray,
    floor: np.ndarray,
    recall_immediate: float = 0.95,
    recall_high: float = 0.90,
) -> TierPolicy:
    """Fit thresholds on validation data (``y_urgency`` holds class names)."""
    imm = y_urgency == "immediate"
    urgent = imm | (y_urgency == "high")
    t_imm = _threshold_for_recall(p_urgency[:, 0], imm, floor >= 2, recall_immediate)
    in_imm = (p_urgency[:, 0] >= t_imm) | (floor >= 2)
    t_high = _threshold_for_recall(
        p_urgency[:, 0] + p_urgency[:, 1], urgent, in_imm | (floor >= 1), recall_high
    )
    return TierPolicy(t_imm, t_high, recall_immediate, recall_high)
