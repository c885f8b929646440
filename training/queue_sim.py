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
from training.metrics import HOUR_NS, arrival_key, class_codes, queue_rank

DEFAULT_UTILISATION = 0.9
DEFAULT_REVIEW_MINUTES = 20.0
WITHIN_HOURS: tuple[float, ...] = (1.0, 4.0, 24.0)
_EPS = 1e-9


class Staffing(BaseModel):
    """Who reviews: ``reviewers`` people, ``review_minutes`` per first review.

    ``roster`` (optional, 24 values) says how many of them are on duty in each hour of the
    day (hour = arrival clock + ``utc_offset_hours``, UTC for datetimes); ``None`` means all
    of them, 24/7 — the centre's triage unit works around the clock.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    reviewers: int = Field(ge=1)
    review_minutes: float = Field(gt=0)
    roster: tuple[int, ...] | None = None
    utc_offset_hours: float = 0.0

    @model_validator(mode="after")
    def _check_roster(self) -> Staffing:
        if self.roster is not None:
            if len(self.roster) != 24:
                raise ValueError("roster needs 24 hourly values")
            if min(self.roster) < 0 or max(self.roster) > self.reviewers or max(self.roster) == 0:
                raise ValueError("roster values must be within 0..reviewers, not all 0")
        return self

    @property
    def reviews_per_hour(self) -> float:
        """Capacity averaged over the day."""
        on_duty = self.reviewers if self.roster is None else sum(self.roster) / 24
        return on_duty * 60.0 / self.review_minutes


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


def _duty_delays(staffing: Staffing) -> list[list[int]]:
    """For each reviewer and hour of day: whole hours until their next on-duty hour."""
    if staffing.roster is None:
        return [[0] * 24 for _ in range(staffing.reviewers)]
    delays = []
    for r in range(max(staffing.roster)):
        on = [staffing.roster[h] > r for h in range(24)]
        delays.append([next(d for d in range(24) if on[(h + d) % 24]) for h in range(24)])
    return delays


def _simulate(arr: np.ndarray, rank: np.ndarray, staffing: Staffing, clock0: float) -> np.ndarray:
    """Start time of each referral's first review (same units and order as ``arr``)."""
    n = len(arr)
    by_time = np.lexsort((rank, arr))
    times, ranks = arr[by_time].tolist(), rank[by_time].tolist()
    item_of_rank = np.empty(n, dtype=np.int64)
    item_of_rank[rank] = np.arange(n)
    service = staffing.review_minutes / 60.0
    delays = _duty_delays(staffing)
    shift = clock0 + staffing.utc_offset_hours
    always = staffing.roster is None

    def on_duty_from(r: int, t: float) -> float:
        if always:
            return t
        in_day = (t + shift) % 24.0
        hour = int(in_day + _EPS) % 24
        d = delays[r][hour]
        return t if d == 0 else t - (in_day - hour) + d

    t0 = times[0]
    free = [(on_duty_from(r, t0), r) for r in range(len(delays))]
    heapq.heapify(free)
    waiting: list[int] = []
    start = np.full(n, np.nan)
    j = done = 0
    now = t0  # the clock only moves forward; a reviewer freed earlier has been idle
    while done < n:
        t, r = heapq.heappop(free)
        t = max(t, now)
        if not waiting and times[j] > t:
            t = times[j]
        t_on = on_duty_from(r, t)
        if t_on > t:
            heapq.heappush(free, (t_on, r))
            continue
        now = t
        while j < n and times[j] <= t:
            heapq.heappush(waiting, ranks[j])
            j += 1
        start[item_of_rank[heapq.heappop(waiting)]] = t
        done += 1
        heapq.heappush(free, (on_duty_from(r, t + service), r))
    return start


def simulate_queue(arrivals: Any, priority: Any, *, ids: Any, staffing: Staffing) -> pd.DataFrame:
    """Per referral (input order): ``referral_id``, ``arrival``, ``first_review`` (datetimes
    in UTC if arrivals are datetimes, hours if numbers) and ``wait_hours``."""
    key = arrival_key(arrivals)
    if len(key) == 0:
        raise ValueError("no referrals to simulate")
    rank = queue_rank(priority, arrivals, ids)
    is_time = key.dtype.kind != "f"
    base = key.min()
    rel = (key - base) / HOUR_NS if is_time else key - base
    clock0 = float(base) / HOUR_NS if is_time else float(base)
    start = _simulate(np.asarray(rel, dtype=np.float64), rank, staffing, clock0)
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
