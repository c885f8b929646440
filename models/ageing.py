"""Priority now: the queue order as it stands when the queue is read.

A Score's ``priority`` is fixed at scoring time; waiting changes what should be worked
next (``domain.md`` §7). :func:`priority_now` recomputes the order from three things the
queue knows at any moment: the priority at scoring, the hours the referral has waited
against its tier's target (``OperatingPolicy.targets_hours``) and the hours left to its
data-preservation deadline (``features.retention``: 21 days for industry referrals).
The service's GET /queue, the reviewer page and the queue simulation all call it, so
there is one ageing rule.

The rule, in decades. A priority lies in its tier's band: ``routine`` [0, 33.3),
``high`` [33.3, 66.7), ``immediate`` [66.7, 100) (``models.priority``). Ageing shrinks
the distance from a referral to the top of its band, never moving it past the top::

    wait      = min(hours waited / tier target hours, 2)      (0 fresh, 1 when due)
    deadline  = min(max(72 - hours to deadline, 0) / 8, 9)    (0 until 72 h before the
                preservation deadline, 6 at 24 h before it, 9 at it and after;
                0 when no deadline is known)
    priority_now = band top - (band top - priority) x 10 ** -(wait + deadline)

So the distance to the top shrinks tenfold for each target period waited (a hundredfold
at most, from twice the target on: beyond that, the priority at scoring leads among the
long-overdue) and tenfold for every 8 hours inside the last 72 before the deadline. A
referral that is due sits above every fresh one of its tier that was below 90 % of the
band; one at twice its target above every fresh one below 99 %; an industry referral
whose deadline closes within a day (a millionfold) above every referral of its tier with
no deadline inside 72 h, overdue or not, because lost evidence cannot be recovered while
a late review can still happen. At the moment of scoring (nothing waited, no deadline
within 72 h) ``priority_now`` equals ``priority``; it never falls below it, and it is not
rounded (a millionfold is below the third decimal), so order by the value itself.

**A referral never rises past its tier band.** The tier is a workload band the unit
lead staffs (the operating policy's caps) and the safety floor lifts referrals into it;
if ageing could carry routine work into ``immediate``, the cap would stop meaning
anything and aged routine referrals could be worked before a referral a safety rule put
in ``immediate``. So nothing ever demotes the safety floor: every ``immediate`` referral
stays above every ``high`` one, and every ``high`` above every ``routine`` one. A
referral that needs more than its band gives (a routine one whose evidence expires
tomorrow while the high queue is long) needs a reviewer to change its tier; the
``aged_because`` words say why it moved so the reviewer can see it.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from models.operating_policy import OperatingPolicy
from models.priority import BAND

TOP = 0.999  # the highest position a Score's priority takes in its band (models.priority)
WAIT_CAP = 2.0  # waiting beyond twice the target adds nothing more
DEADLINE_START_HOURS = 72.0  # deadline pressure starts this long before the deadline
DEADLINE_HOURS_PER_DECADE = 8.0
DEADLINE_CAP = 9.0  # reached at the deadline; held after it


def target_hours(tier_rank: npt.ArrayLike, policy: OperatingPolicy) -> np.ndarray:
    """The policy's hours-to-first-review target for each row's tier rank (0 routine..2)."""
    t = policy.targets_hours
    table = np.array([t.routine, t.high, t.immediate], dtype=float)
    return table[np.clip(np.asarray(tier_rank, dtype=int), 0, 2)]


def _waited(waited_hours: npt.ArrayLike) -> np.ndarray:
    """Hours waited; NaN or negative (a clock ahead of the server's) count as 0."""
    return np.clip(np.nan_to_num(np.asarray(waited_hours, dtype=float), nan=0.0), 0.0, None)


def wait_pressure(
    tier_rank: npt.ArrayLike, waited_hours: npt.ArrayLike, policy: OperatingPolicy
) -> np.ndarray:
    """Decades from waiting: hours waited over the tier's target, at most ``WAIT_CAP``."""
    return np.minimum(_waited(waited_hours) / target_hours(tier_rank, policy), WAIT_CAP)


def deadline_pressure(hours_to_deadline: npt.ArrayLike) -> np.ndarray:
    """Decades from the preservation deadline: 0 until 72 h before it, +1 every 8 h,
    ``DEADLINE_CAP`` at and after it; 0 where no deadline is known (NaN)."""
    h = np.asarray(hours_to_deadline, dtype=float)
    p = np.clip((DEADLINE_START_HOURS - h) / DEADLINE_HOURS_PER_DECADE, 0.0, DEADLINE_CAP)
    return np.where(np.isnan(h), 0.0, p)


def priority_now(
    priority: npt.ArrayLike,
    tier_rank: npt.ArrayLike,
    waited_hours: npt.ArrayLike,
    hours_to_deadline: npt.ArrayLike,
    policy: OperatingPolicy,
) -> np.ndarray:
    """Priority (0-100) at the moment of reading, for arrays of equal length.

    ``tier_rank`` is the Score's tier after the safety floor (2 immediate, 1 high,
    0 routine); ``hours_to_deadline`` is NaN where no deadline is known and negative once
    it has passed. The result stays inside the tier's band (see the module docstring).
    """
    rank = np.clip(np.asarray(tier_rank, dtype=int), 0, 2)
    p = np.asarray(priority, dtype=float)
    top = (rank + 1) * BAND
    distance = BAND * (1.0 - np.clip((p - rank * BAND) / BAND, 0.0, TOP))
    decades = wait_pressure(rank, waited_hours, policy) + deadline_pressure(hours_to_deadline)
    aged = np.maximum(top - distance * 10.0**-decades, p)  # float error near 0 decades
    return np.where(decades > 0, aged, p)


def _hours(x: float) -> str:
    return f"{x:.0f} h" if x >= 10 or float(x).is_integer() else f"{x:.1f} h"


def aged_because(
    tier_rank: npt.ArrayLike,
    waited_hours: npt.ArrayLike,
    hours_to_deadline: npt.ArrayLike,
    policy: OperatingPolicy,
) -> list[str | None]:
    """Why each referral's priority now differs from its priority at scoring, in words
    ("waited 5.2 h against a 4 h target; preservation deadline in 18 h"); ``None`` when
    it has barely moved (waited under 3 minutes, and no deadline within 72 h)."""
    rank = np.clip(np.asarray(tier_rank, dtype=int), 0, 2)
    waited = _waited(waited_hours)
    targets = target_hours(rank, policy)
    hours = np.asarray(hours_to_deadline, dtype=float)
    dp = deadline_pressure(hours)
    out: list[str | None] = []
    for w, t, h, d in zip(waited, targets, hours, dp, strict=True):
        parts = []
        if w >= 0.05:
            parts.append(f"waited {_hours(float(w))} against a {_hours(float(t))} target")
        if d > 0 and not math.isnan(h):
            if h >= 0:
                parts.append(f"preservation deadline in {_hours(float(h))}")
            else:
                parts.append(f"preservation deadline passed {_hours(float(-h))} ago")
        out.append("; ".join(parts) or None)
    return out


def read_order(
    priority: npt.ArrayLike,
    tier_rank: npt.ArrayLike,
    waited_hours: npt.ArrayLike,
    hours_to_deadline: npt.ArrayLike,
    ids: npt.ArrayLike,
    policy: OperatingPolicy,
) -> tuple[np.ndarray, np.ndarray]:
    """``(order, priority_now)``: row indices in queue order at the moment of reading,
    highest priority now first; ties by longer wait (earlier arrival), then id."""
    now = priority_now(priority, tier_rank, waited_hours, hours_to_deadline, policy)
    waited = np.nan_to_num(np.asarray(waited_hours, dtype=float), nan=0.0)
    return np.lexsort((np.asarray(ids), -waited, -now)), now
