"""Discrete-event simulation of the review queue: how long an urgent referral waits for a
first look with the staff available (domain brief §6.5).

Referrals arrive at their real ``received_at``; whenever a reviewer is free and on duty
they take the waiting referral that comes first in :func:`training.metrics.review_order`
(priority descending, then earlier arrival, then referral id). A review takes a fixed time
and is never interrupted. The queue starts empty at the first arrival and runs until every
referral has been looked at, so every referral gets a first-review time.

Default staffing (:func:`default_staffing`) is *contended*: capacity is the window's mean
arrival rate divided by a utilisation of 0.9 (about 11% headroom). Over the window staff
keep up, but arrivals are bursty (daytime, weekdays, surges), so queues build at peaks and
the order chosen by the priority decides who waits hours and who waits days.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.contract import URGENCY_CLASSES
from models.operating_policy import OperatingPolicy
from training.metrics import HOUR_NS, arrival_key, class_codes, id_ranks, queue_rank
from training.queue_order import AgeingQueue, Reprioritise, StaticQueue

DEFAULT_UTILISATION = 0.9
DEFAULT_REVIEW_MINUTES = 20.0
WITHIN_HOURS: tuple[float, ...] = (1.0, 4.0, 24.0)
REVIEW_SIGMA = 0.5  # lognormal shape of review times: most 10-30 min, a few over an hour
CENTRE_UTC = -5.0  # the centre's clock (Eastern Standard Time) for the policy's shifts
_EPS = 1e-9


class Staffing(BaseModel):
    """Who reviews: ``reviewers`` people, ``review_minutes`` per first review (the mean when
    review times vary, see :func:`review_hours`).

    ``roster`` (optional, 24 or 168 values) says how many of them are on duty in each hour
    of the day, or of the week from Monday 00:00 (hour = arrival clock +
    ``utc_offset_hours``; UTC for datetimes, and hour 0 = Monday 00:00 for plain numbers);
    ``None`` means all of them, 24/7. A review started before a shift ends is finished.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reviewers: int = Field(ge=1)
    review_minutes: float = Field(gt=0)
    roster: tuple[int, ...] | None = None
    utc_offset_hours: float = 0.0

    @model_validator(mode="after")
    def _check_roster(self) -> Staffing:
        if self.roster is not None:
            if len(self.roster) not in (24, 168):
                raise ValueError("roster needs 24 hourly values (a day) or 168 (a week)")
            if min(self.roster) < 0 or max(self.roster) > self.reviewers or max(self.roster) == 0:
                raise ValueError("roster values must be within 0..reviewers, not all 0")
        return self

    @property
    def reviews_per_hour(self) -> float:
        """Capacity averaged over the roster's period."""
        on_duty = self.reviewers if self.roster is None else sum(self.roster) / len(self.roster)
        return on_duty * 60.0 / self.review_minutes

    @classmethod
    def from_policy(
        cls, policy: OperatingPolicy, scale: float = 1.0, utc_offset_hours: float = CENTRE_UTC
    ) -> Staffing:
        """The operating policy's shifts as a weekly roster, every count times ``scale``.

        Scaled counts are rounded by carrying the remainder from hour to hour, so the
        week's reviewer-hours stay within one of ``scale`` x the policy's.
        """
        if scale <= 0:
            raise ValueError("scale must be positive")
        want = np.array(
            [policy.reviewers_on_duty(d, h) * scale for d in range(7) for h in range(24)]
        )
        roster = np.diff(np.floor(np.concatenate([[0.0], np.cumsum(want)]) + _EPS)).astype(int)
        return cls(
            reviewers=max(1, int(roster.max())),
            review_minutes=policy.review_minutes,
            roster=tuple(int(x) for x in roster),
            utc_offset_hours=utc_offset_hours,
        )


def arrival_rate(arrivals: Any) -> float:
    """Mean referrals per hour over the window (first to last arrival, at least one hour)."""
    key = arrival_key(arrivals)
    if len(key) == 0:
        raise ValueError("no arrivals")
    span = (key.max() - key.min()) / (1.0 if key.dtype.kind == "f" else HOUR_NS)
    return len(key) / max(float(span), 1.0)


def default_staffing(
    arrivals: Any,
    utilisation: float = DEFAULT_UTILISATION,
    review_minutes: float = DEFAULT_REVIEW_MINUTES,
) -> Staffing:
    """Contended 24/7 staffing for this window: capacity = mean arrival rate / utilisation.

    Reviewers are the nearest whole number for ``review_minutes`` per review; the review
    time is then adjusted so the capacity is exact. Tied to the window (not to a national
    volume) so a small test window is as contended as a full year.
    """
    if not 0 < utilisation <= 1.5:
        raise ValueError("utilisation must be in (0, 1.5]")
    capacity = arrival_rate(arrivals) / utilisation
    reviewers = max(1, round(capacity * review_minutes / 60.0))
    return Staffing(reviewers=reviewers, review_minutes=60.0 * reviewers / capacity)


def review_hours(ids: Any, mean_minutes: float, sigma: float = REVIEW_SIGMA, seed: int = 0):  # type: ignore[no-untyped-def]
    """Review time of each referral (hours): lognormal with mean ``mean_minutes``.

    Drawn in referral-id order from ``seed``, so a referral takes as long whichever
    ordering queues it and whatever the row order (common random numbers: orderings are
    compared on the same work, not on luck).
    """
    ranks = id_ranks(ids)
    draws = np.random.default_rng(seed).lognormal(-0.5 * sigma**2, sigma, size=len(ranks))
    return draws[ranks] * mean_minutes / 60.0


def _duty_delays(staffing: Staffing) -> list[list[int]]:
    """For each reviewer and hour of the roster's period: whole hours until their next
    on-duty hour."""
    if staffing.roster is None:
        return [[0] * 24 for _ in range(staffing.reviewers)]
    roster, period = staffing.roster, len(staffing.roster)
    delays = []
    for r in range(max(roster)):
        on = [roster[h] > r for h in range(period)]
        delays.append(
            [next(d for d in range(period) if on[(h + d) % period]) for h in range(period)]
        )
    return delays


def _simulate(
    arr: np.ndarray,
    queue: StaticQueue | AgeingQueue,
    staffing: Staffing,
    clock0: float,
    service: np.ndarray,
) -> np.ndarray:
    """Start time of each referral's first review (same units and order as ``arr``)."""
    n = len(arr)
    by_time = np.argsort(arr, kind="stable")
    times, items = arr[by_time].tolist(), by_time.tolist()
    delays = _duty_delays(staffing)
    period = len(delays[0])
    shift = clock0 + staffing.utc_offset_hours
    always = staffing.roster is None
    serve = service.tolist()

    def on_duty_from(r: int, t: float) -> float:
        if always:
            return t
        in_period = (t + shift) % period
        hour = int(in_period + _EPS) % period
        d = delays[r][hour]
        return t if d == 0 else t - (in_period - hour) + d

    t0 = times[0]
    free = [(on_duty_from(r, t0), r) for r in range(len(delays))]
    heapq.heapify(free)
    start = np.full(n, np.nan)
    j = done = 0
    now = t0  # the clock only moves forward; a reviewer freed earlier has been idle
    while done < n:
        t, r = heapq.heappop(free)
        t = max(t, now)
        if not len(queue) and times[j] > t:
            t = times[j]
        t_on = on_duty_from(r, t)
        if t_on > t:
            heapq.heappush(free, (t_on, r))
            continue
        now = t
        j0 = j
        while j < n and times[j] <= t:
            j += 1
        queue.add(items[j0:j], t)
        i = queue.pop(t)
        start[i] = t
        done += 1
        heapq.heappush(free, (on_duty_from(r, t + serve[i]), r))
    return start


def simulate_queue(
    arrivals: Any,
    priority: Any,
    *,
    ids: Any,
    staffing: Staffing,
    service_hours: Any = None,
    reprioritise: Reprioritise | None = None,
    recompute_every_hours: float = 0.0,
) -> pd.DataFrame:
    """Per referral (input order): ``referral_id``, ``arrival``, ``first_review`` (datetimes
    in UTC if arrivals are datetimes, hours if numbers) and ``wait_hours``.

    ``priority`` orders the queue (ties: earlier arrival, then referral id). With
    ``reprioritise(rows, waited_hours) -> priority`` the order is recomputed when a
    reviewer takes the next referral (at most every ``recompute_every_hours``; 0 = at
    every dequeue). ``service_hours`` (per referral) defaults to ``staffing.review_minutes``.
    """
    key = arrival_key(arrivals)
    if len(key) == 0:
        raise ValueError("no referrals to simulate")
    rank = queue_rank(priority, arrivals, ids)
    is_time = key.dtype.kind != "f"
    base = key.min()
    rel = np.asarray((key - base) / HOUR_NS if is_time else key - base, dtype=np.float64)
    # datetimes: epoch hours + 72 puts hour 0 of the roster week on a Monday (1970-01-01 was
    # a Thursday); numbers: hour 0 is Monday 00:00
    clock0 = float(base) / HOUR_NS + 72.0 if is_time else float(base)
    if service_hours is None:
        service = np.full(len(key), staffing.review_minutes / 60.0)
    else:
        service = np.asarray(service_hours, dtype=np.float64)
        if service.shape != key.shape or not (service > 0).all():
            raise ValueError("service_hours: one positive value per referral")
    if reprioritise is None:
        queue: StaticQueue | AgeingQueue = StaticQueue(rank)
    else:
        width = 16 + 4 * staffing.reviewers
        queue = AgeingQueue(rel, id_ranks(ids), reprioritise, recompute_every_hours, width)
    start = _simulate(rel, queue, staffing, clock0, service)
    wait = start - rel
    if is_time:
        arrival = pd.to_datetime(key, utc=True)
        first = pd.to_datetime(np.round(start * HOUR_NS).astype(np.int64) + base, utc=True)
    else:
        arrival, first = key, start + base
    return pd.DataFrame(
        {
            "referral_id": np.asarray(ids),
            "arrival": arrival,
            "first_review": first,
            "wait_hours": wait,
        }
    )


def summarise_waits(
    wait_hours: Any, urgency_labels: Any, within: Sequence[float] = WITHIN_HOURS
) -> dict[str, dict[str, Any]]:
    """Per urgency class: count, median / 95th percentile / mean / max hours from arrival to
    first review, and the share first reviewed within each of ``within`` hours.

    Percentiles are numpy's linear interpolation. A class with no referrals gets ``None``s.
    """
    wait = np.asarray(wait_hours, dtype=np.float64)
    codes = class_codes(urgency_labels, URGENCY_CLASSES)
    out: dict[str, dict[str, Any]] = {}
    for j, name in enumerate(URGENCY_CLASSES):
        w = wait[codes == j]
        row: dict[str, Any] = {"n": int(len(w))}
        for stat, fn in (
            ("p50_h", lambda a: np.percentile(a, 50)),
            ("p95_h", lambda a: np.percentile(a, 95)),
            ("mean_h", np.mean),
            ("max_h", np.max),
        ):
            row[stat] = float(fn(w)) if len(w) else None
        for h in within:
            row[f"within_{h:g}h"] = float(np.mean(w <= h + _EPS)) if len(w) else None
        out[name] = row
    return out


def fifo_priority(received_at: Any) -> np.ndarray:
    """First come, first served: earlier arrival = higher priority."""
    key = arrival_key(received_at)
    return -(key - key.min()).astype(np.float64) if len(key) else key.astype(np.float64)


_SOURCE_LEVELS = {"E": 3.0, "1": 2.0, "2": 1.0, "3": 0.0}


def source_priority(codes: Any) -> np.ndarray:
    """The source's own code (NCMEC style): ``E`` (exigent) > ``1`` > ``2`` > ``3`` >
    missing or anything else; ties fall to arrival order via the queue's tie-break."""
    raw = pd.Series(np.asarray(codes, dtype=object))
    norm = raw.where(raw.notna(), "").astype(str).str.strip().str.upper()
    return norm.map(_SOURCE_LEVELS).fillna(-1.0).to_numpy(dtype=np.float64)


def compare_policies(
    arrivals: Any,
    urgency_labels: Any,
    policies: Mapping[str, Any],
    capacity: Staffing | None = None,
    *,
    ids: Any,
    within: Sequence[float] = WITHIN_HOURS,
) -> pd.DataFrame:
    """Run the same arrivals and staff through each priority policy.

    Returns one row per policy, columns ``{class}_{stat}`` from :func:`summarise_waits`
    (e.g. ``immediate_p95_h``, ``immediate_within_4h``). The staffing used is recorded in
    ``DataFrame.attrs["staffing"]`` (``capacity=None`` means :func:`default_staffing`).
    """
    staffing = capacity or default_staffing(arrivals)
    rows = {}
    for name, prio in policies.items():
        sim = simulate_queue(arrivals, prio, ids=ids, staffing=staffing)
        summary = summarise_waits(sim["wait_hours"].to_numpy(), urgency_labels, within)
        rows[name] = {f"{c}_{s}": v for c, stats in summary.items() for s, v in stats.items()}
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "policy"
    rate = arrival_rate(arrivals)
    table.attrs["staffing"] = {
        **staffing.model_dump(),
        "reviews_per_hour": staffing.reviews_per_hour,
        "arrivals_per_hour": rate,
        "utilisation": rate / staffing.reviews_per_hour,
    }
    return table


def poisson_arrivals(
    n: int, days: float, seed: int = 0, daily_peak: float = 0.6, weekend_dip: float = 0.5
) -> np.ndarray:
    """Synthetic arrival hours with a daytime peak and quieter weekends (for tests, benches).

    Thinning of a Poisson process: intensity ∝ (1 + daily_peak·sin(day phase)) times
    ``weekend_dip`` on days 5-6 of each week. Sorted, ``n`` values in [0, days·24).
    """
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    got = 0
    while got < n:
        t = rng.uniform(0.0, days * 24.0, size=2 * n)
        shape = 1 + daily_peak * np.sin(2 * math.pi * (t % 24.0 - 6.0) / 24.0)
        shape *= np.where((t // 24.0) % 7 >= 5, weekend_dip, 1.0)
        keep = t[rng.uniform(0.0, 1 + daily_peak, size=t.size) < shape]
        out.append(keep)
        got += keep.size
    return np.sort(np.concatenate(out)[:n])
