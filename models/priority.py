"""Priority 0-100: the order of the queue.

Tier first: ``immediate`` occupies [66.7, 100], ``high`` [33.3, 66.7), ``routine``
[0, 33.3). Within a tier the position is a weighted score in [0, 1):

* 0.70 x urgency   = P(immediate) + 0.5 x P(high)
* 0.20 x viability = P(package) + 0.5 x P(lead)
* 0.10 x retention pressure = 1 - days left / 21, clipped to [0, 1]
  (0 when no deadline is known; 1 when it has passed)

so a referral can never jump tiers by its within-tier score, and among equals the one
whose evidence expires soonest comes first.
"""

from __future__ import annotations

import numpy as np

W_URGENCY, W_VIABILITY, W_RETENTION = 0.70, 0.20, 0.10
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
