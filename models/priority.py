"""Priority 0-100: the order of the queue.

Tier first: ``immediate`` occupies [66.7, 100], ``high`` [33.3, 66.7), ``routine``
[0, 33.3). Within a tier the position is a weighted score in [0, 1), **led by urgency**:

* 0.96 x urgency   = P(immediate) + 0.5 x P(high)
* 0.02 x viability = P(package) + 0.5 x P(lead)
* 0.02 x retention pressure = 1 - days left / 21, clipped to [0, 1]
  (0 when no deadline is known; 1 when it has passed)

Why these weights: P(immediate) is small (about 1 % of arrivals are immediate), so urgency
differences between referrals are often a few hundredths. The earlier 0.70 / 0.20 / 0.10
let viability, which is not about a child at risk now, outweigh them: on the oracle's
probabilities, ordering by urgency alone caught more immediate referrals in the top 20 %
(0.912 against 0.886, issue 11). With 0.02 each, viability and retention only break
near-ties (urgency within about 0.02). The Score's ``priority`` is this value at scoring
time; the queue ages it when it is read (``models/ageing.py``: time waited against the
tier's target, hours to the preservation deadline). A referral never jumps tiers by its
within-tier score.
"""

from __future__ import annotations

import numpy as np

W_URGENCY, W_VIABILITY, W_RETENTION = 0.96, 0.02, 0.02
PRESSURE_DAYS = 21.0
BAND = 100.0 / 3.0


def retention_pressure(days_left: np.ndarray) -> np.ndarray:
    d = np.asarray(days_left, dtype=float)
    p = 1.0 - np.clip(d, 0.0, PRESSURE_DAYS) / PRESSURE_DAYS
    return np.where(np.isnan(d), 0.0, p)


def priority(
    tier_rank: np.ndarray, p_urgency: np.ndarray, p_viability: np.ndarray, days_left: np.ndarray
) -> np.ndarray:
    within = (
        W_URGENCY * (p_urgency[:, 0] + 0.5 * p_urgency[:, 1])
        + W_VIABILITY * (p_viability[:, 0] + 0.5 * p_viability[:, 1])
        + W_RETENTION * retention_pressure(days_left)
    )
    within = np.clip(within, 0.0, 0.999)
    return np.round(tier_rank * BAND + within * BAND, 3)
