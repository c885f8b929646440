"""The tier policy: capped shares of arrivals, held day after day (``docs/operating-policy.md``).

Tier is a workload band, not a finding. The unit lead's operating policy
(:mod:`models.operating_policy`) caps the share of arrivals the model may put in each tier
*beyond the safety floor* (which always lifts). The model fills each tier from the top of
its calibrated ranking:

* ``immediate`` if P(immediate) >= ``t_immediate``;
* else ``high`` if P(immediate) + P(high) >= ``t_high`` (the chance a child needs action
  within days at the latest);
* else ``routine``; then the safety floor may lift any of them.

**The fitting rule.** Arrivals are not uniform, so a threshold fitted to a window's mean
share exceeds the cap on about half of the days. A threshold is instead the *smallest
score* at which the share the model adds stays within the cap on at least
``within_days`` (95 %) of the calibration window's days: one candidate lower and more than
5 % of days would exceed it. Candidates are the scores of the rows the floor does not
already hold; rows with equal scores go in together. Days are UTC calendar days. The high
tier is fitted the same way after the immediate tier, counting neither the floor nor the
referrals already in ``immediate``.

Training fits at ``FIT_WITHIN_DAYS`` (97.5 %), not at the 95 % the policy and the gate
require: a threshold that puts the calibration window exactly at 95 % leaves the next
window, whose days have their own noise, below 95 % about half of the time.

The fitted thresholds, the caps and the ventile edges of P(immediate) among the calibration
arrivals (``urgency_band`` 1–20) live in the model artefact; callers never hard-code them.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.tiers import HIGH, IMMEDIATE
from features.tiers import RANK as TIERS_RANK

WITHIN_DAYS = 0.95  # the policy's requirement: the share of days a tier holds its cap
FIT_WITHIN_DAYS = 0.975  # what the fit asks of the calibration window: a margin (below)
N_BANDS = 20
DAY_NS = 86_400 * 10**9
NOTHING = float(np.nextafter(1.0, 2.0))  # a threshold no probability reaches


@dataclass(frozen=True)
class TierPolicy:
    t_immediate: float
    t_high: float
    immediate_share: float = 0.03
    high_share: float = 0.12
    within_days: float = FIT_WITHIN_DAYS
    policy_version: str = "unversioned"
    policy_digest: str = ""
    band_edges: tuple[float, ...] = field(default=())

    def ranks(self, p_urgency: np.ndarray, floor: np.ndarray | None = None) -> np.ndarray:
        """Tier rank per row (2 immediate, 1 high, 0 routine) from (n, 3) probabilities
        in ``URGENCY_CLASSES`` order, lifted to ``floor`` where given."""
        r = np.where(
            p_urgency[:, 0] >= self.t_immediate,
            2,
            np.where(p_urgency[:, 0] + p_urgency[:, 1] >= self.t_high, 1, 0),
        )
        return r if floor is None else np.maximum(r, floor)

    def bands(self, p_immediate: np.ndarray) -> np.ndarray | None:
        """``urgency_band`` 1–20: the ventile of P(immediate) among the calibration arrivals
        (20 = above the top 5 %); None for a model fitted before bands existed."""
        if not self.band_edges:
            return None
        edges = np.asarray(self.band_edges)
        return 1 + np.searchsorted(edges, np.asarray(p_immediate), side="right")

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["band_edges"] = list(self.band_edges)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TierPolicy:
        """Read a manifest's ``policy``; a recall-target policy of an older artefact keeps
        its thresholds (its extra keys are ignored) and says it is unversioned."""
        known = {k: v for k, v in d.items() if k in cls.__dataclass_fields__}
        known["band_edges"] = tuple(known.get("band_edges", ()))
        return cls(**known)


def day_index(received_at: Any) -> np.ndarray:
    """Dense index 0..D-1 of each row's UTC calendar day."""
    idx = pd.DatetimeIndex(pd.to_datetime(np.asarray(received_at), utc=True))
    days = idx.as_unit("ns").asi8 // DAY_NS
    return np.unique(days, return_inverse=True)[1].reshape(-1)


def daily_shares(added: np.ndarray, day: np.ndarray) -> np.ndarray:
    """Per day: rows ``added`` to a tier / all arrivals that day."""
    n_days = int(day.max()) + 1 if len(day) else 0
    arrivals = np.bincount(day, minlength=n_days)
    return np.bincount(day, weights=added.astype(np.float64), minlength=n_days) / np.maximum(
        arrivals, 1
    )


def share_of_days_within(added: np.ndarray, day: np.ndarray, cap: float) -> float:
    """Fraction of days on which the share ``added`` stays within ``cap``."""
    s = daily_shares(added, day)
    return float((s <= cap + 1e-12).mean()) if len(s) else 1.0


def fit_threshold(
    score: np.ndarray,
    eligible: np.ndarray,
    day: np.ndarray,
    cap: float,
    within_days: float = WITHIN_DAYS,
) -> float:
    """Smallest candidate score ``t`` with the share of ``eligible & (score >= t)`` within
    ``cap`` on at least ``within_days`` of the days (see the module doc)."""
    cand = np.unique(score[eligible])[::-1]  # highest first
    if len(cand) == 0:
        return NOTHING

    def ok(i: int) -> bool:
        return share_of_days_within(eligible & (score >= cand[i]), day, cap) >= within_days

    if not ok(0):
        return NOTHING
    lo, hi = 0, len(cand) - 1  # ok(lo) holds; the share only grows as i grows
    if ok(hi):
        return float(cand[hi])
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if ok(mid) else (lo, mid)
    return float(cand[lo])


def band_edges(p_immediate: np.ndarray) -> tuple[float, ...]:
    """The 19 inner ventile edges of P(immediate) among the reference arrivals."""
    if len(p_immediate) == 0:
        return ()
    q = np.quantile(np.asarray(p_immediate, dtype=np.float64), np.arange(1, N_BANDS) / N_BANDS)
    return tuple(float(x) for x in q)


def fit_policy(
    p_urgency: np.ndarray,
    floor: np.ndarray,
    received_at: Any,
    *,
    day: np.ndarray | None = None,
    immediate_share: float,
    high_share: float,
    within_days: float = FIT_WITHIN_DAYS,
    policy_version: str = "unversioned",
    policy_digest: str = "",
) -> TierPolicy:
    """Fit both thresholds on the calibration window's probabilities, safety floor ranks
    and arrival times (or their ``day`` index, when kept instead) for the caps of an
    operating policy."""
    day = day_index(received_at) if day is None else day
    p_imm = p_urgency[:, 0]
    t_imm = fit_threshold(p_imm, floor < 2, day, immediate_share, within_days)
    in_imm = (p_imm >= t_imm) | (floor >= IMMEDIATE)
    urgent = p_urgency[:, 0] + p_urgency[:, 1]
    t_high = fit_threshold(urgent, ~in_imm & (floor < 1), day, high_share, within_days)
    return TierPolicy(
        t_imm,
        t_high,
        immediate_share,
        high_share,
        within_days,
        policy_version,
        policy_digest,
        band_edges(p_imm),
    )


def tier_share_check(
    policy: TierPolicy, p_urgency: np.ndarray, floor: np.ndarray, received_at: Any
) -> dict[str, Any]:
    """How a window's days sit against the caps: the evaluation report's ``tier_shares``."""
    day = day_index(received_at)
    model = policy.ranks(p_urgency)
    ranks = np.maximum(model, floor)
    added_imm = (model == 2) & (floor < 2)
    added_high = (ranks == 1) & (floor < 1)
    out: dict[str, Any] = {"days": int(day.max()) + 1 if len(day) else 0}
    for tier, added, cap in (
        ("immediate", added_imm, policy.immediate_share),
        ("high", added_high, policy.high_share),
    ):
        s = daily_shares(added, day)
        out[tier] = {
            "cap": cap,
            "share_of_days_within_cap": share_of_days_within(added, day, cap),
            "days_over_cap": int((s > cap + 1e-12).sum()),
            "mean_daily_share_added": float(s.mean()) if len(s) else None,
            "p95_daily_share_added": float(np.quantile(s, 0.95)) if len(s) else None,
            "share_added": float(added.mean()) if len(added) else None,
            "share_with_floor": float((ranks == TIERS_RANK[tier]).mean()) if len(ranks) else None,
        }
    out["floor_share"] = {
        "immediate": float((floor >= IMMEDIATE).mean()) if len(floor) else None,
        "high": float((floor == HIGH).mean()) if len(floor) else None,
    }
    return out


def tier_orderings(p_urgency: np.ndarray, floor: np.ndarray) -> dict[str, np.ndarray]:
    """How a tier of any size would be filled, per target of the workload–recall curve: the
    safety floor first, then the calibrated ranking the tier uses (P(immediate) for
    ``immediate``; P(immediate) + P(high) for ``immediate_or_high``)."""
    return {
        "immediate": (floor >= IMMEDIATE) * 2.0 + p_urgency[:, 0],
        "immediate_or_high": (floor >= HIGH) * 2.0 + p_urgency[:, 0] + p_urgency[:, 1],
    }
