"""The queue simulation as the unit would live it (issue 11, item 5): the evaluation's
``queue_sim`` block.

The same referrals (the test window, arriving at their real ``received_at``) go through
:func:`training.queue_sim.simulate_queue` under each ordering, staffed by the operating
policy's shifts, with review times that vary (:func:`training.queue_sim.review_hours`) and,
for every ordering but ``model_static``, the order recomputed as referrals wait
(:func:`models.ageing.priority_now`, the function the service queue and the reviewer page
use). Three scenarios:

* ``normal``: the policy's staffing as written;
* ``surge``: the same staffing while three months carry +36 % more referrals (spring 2020,
  ``domain.md`` §7): the surge months' referrals are repeated at a random 36 %, each copy
  arriving up to a day after its original (same features, scores and labels);
* ``understaffed``: the policy's shifts scaled to 80 % of the reviewer-hours the mean load
  needs (arrivals per hour x mean review time): the queue cannot keep up, so order decides
  who waits for weeks — and whose preservation deadline passes.

Orderings compared (all with the same safety floor and the same ageing): ``model`` (its tier
and priority), ``model_static`` (the same priority, never recomputed: the queue before
issue 11), ``oracle`` (the true probabilities, with tiers of the model's sizes),
``source_priority`` (the source's code: E immediate, 1 high), ``fifo`` (the floor, then
arrival order), ``rules_only`` (the degraded path), and ``fifo_plain``: arrival order with
no floor and no ageing, the unit without any tool.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.tiers import HIGH, IMMEDIATE
from models.operating_policy import OperatingPolicy
from models.priority import BAND
from training.metrics import HOUR_NS, arrival_key
from training.queue_sim import (
    CENTRE_UTC,
    REVIEW_SIGMA,
    Reprioritise,
    Staffing,
    arrival_rate,
    review_hours,
    simulate_queue,
    summarise_waits,
)

SURGE_EXTRA, SURGE_DAYS = 0.36, 91
UNDERSTAFFED_SHARE = 0.8
RECOMPUTE_EVERY_HOURS = 0.5
DONE_WHEN = {"immediate_p95_vs_oracle_max": 1.25, "industry_missed_vs_fifo_max": 0.1}
_SOURCE_TIER = {"E": 2, "1": 1}


@dataclass(frozen=True)
class Ordering:
    """How one ordering ranks the window: priority 0-100 at receipt, tier rank (2 =
    immediate), and whether the order ages while referrals wait."""

    priority: np.ndarray
    tier_rank: np.ndarray
    ageing: bool = True


def _priority(tier_rank: np.ndarray, within: np.ndarray) -> np.ndarray:
    return np.round(tier_rank * BAND + np.clip(within, 0.0, 0.999) * BAND, 3)


def tiers_like(
    p_urgency: np.ndarray, floor: np.ndarray, n_immediate: int, n_high: int
) -> np.ndarray:
    """Tier ranks holding ``n_immediate`` and ``n_high`` referrals (floor first, then the
    highest P(immediate), then the highest P(immediate) + P(high)): the oracle given the
    model's workload, so waits compare rankings, not tier sizes."""
    rank = np.asarray(floor, dtype=np.int64).copy()
    for level, score in ((2, p_urgency[:, 0]), (1, p_urgency[:, 0] + p_urgency[:, 1])):
        need = max(0, (n_immediate if level == 2 else n_high) - int((rank == level).sum()))
        cand = np.flatnonzero(rank < level)
        rank[cand[np.argsort(-score[cand], kind="stable")[:need]]] = level
    return rank


def sim_orderings(
    model: tuple[np.ndarray, np.ndarray],
    rules: tuple[np.ndarray, np.ndarray],
    source_codes: Any,
    oracle_urgency: np.ndarray | None = None,
) -> dict[str, Ordering]:
    """The orderings compared, from (priority, tier rank) of the model and of the rules
    alone (whose tier is the safety floor)."""
    m_prio, m_rank = (np.asarray(a) for a in model)
    r_prio, floor = (np.asarray(a) for a in rules)
    codes = pd.Series(np.asarray(source_codes, dtype=object)).fillna("").astype(str)
    codes = codes.str.strip().str.upper()
    src_rank = np.maximum(floor, codes.map(_SOURCE_TIER).fillna(0).to_numpy(dtype=np.int64))
    src_level = codes.map({"E": 0.75, "1": 0.5, "2": 0.25}).fillna(0.0).to_numpy()
    out = {
        "model": Ordering(m_prio, m_rank),
        "model_static": Ordering(m_prio, m_rank, ageing=False),
    }
    if oracle_urgency is not None:
        o_rank = tiers_like(
            oracle_urgency, floor, int((m_rank == IMMEDIATE).sum()), int((m_rank == HIGH).sum())
        )
        o_within = oracle_urgency[:, 0] + 0.5 * oracle_urgency[:, 1]
        out["oracle"] = Ordering(_priority(o_rank, o_within), o_rank)
    out["source_priority"] = Ordering(_priority(src_rank, src_level), src_rank)
    out["fifo"] = Ordering(_priority(floor, np.zeros(len(floor))), floor)
    zero = np.zeros(len(floor), dtype=np.int64)
    out["fifo_plain"] = Ordering(zero.astype(np.float64), zero, ageing=False)
    out["rules_only"] = Ordering(r_prio, floor)
    return out


def aged(ordering: Ordering, deadline_hours: np.ndarray, policy: OperatingPolicy) -> Reprioritise:
    """``reprioritise`` for the simulation: priority now, from the hours waited and the
    hours left to the preservation deadline (``deadline_hours``: from arrival, NaN = none)."""
    from models.ageing import priority_now

    def now(rows: np.ndarray, waited: np.ndarray) -> np.ndarray:
        return priority_now(
            ordering.priority[rows],
            ordering.tier_rank[rows],
            waited,
            deadline_hours[rows] - waited,
            policy,
        )

    return now


@dataclass(frozen=True)
class Window:
    """The referrals simulated: arrival (``datetime64[ns]``, UTC), ids, true urgency,
    source and hours from arrival to the preservation deadline (NaN = none known)."""

    arrival: np.ndarray
    ids: np.ndarray
    urgency: np.ndarray
    source: np.ndarray
    deadline_hours: np.ndarray

    @classmethod
    def of(cls, received_at: Any, ids: Any, urgency: Any, source: Any, deadline: Any) -> Window:
        """From columns as the feature pipeline holds them (``deadline``: datetimes or NaT)."""
        t = pd.DatetimeIndex(pd.to_datetime(received_at, utc=True)).tz_localize(None)
        d = pd.DatetimeIndex(pd.to_datetime(deadline, utc=True)).tz_localize(None)
        hours = (d - t).total_seconds().to_numpy() / 3600.0
        return cls(
            t.as_unit("ns").to_numpy(),
            np.asarray(ids),
            np.asarray(urgency, dtype=object),
            np.asarray(source, dtype=object).astype(str),
            np.asarray(hours, dtype=np.float64),
        )

    def take(self, rows: np.ndarray, arrival: np.ndarray, ids: np.ndarray) -> Window:
        return Window(
            arrival, ids, self.urgency[rows], self.source[rows], self.deadline_hours[rows]
        )


def surge(win: Window, extra: float = SURGE_EXTRA, days: int = SURGE_DAYS, seed: int = 0):  # type: ignore[no-untyped-def]
    """``win`` with ``extra`` more referrals over ``days`` days in the middle of the window.

    Returns ``(window, rows, (start, end))``: ``rows`` maps each referral of the new window
    to its original row (copies repeat a row), so per-referral arrays follow with
    ``array[rows]``."""
    t = win.arrival
    span = t.max() - t.min()
    length = min(np.timedelta64(days, "D").astype(span.dtype), span)
    lo = t.min() + (span - length) // 2
    hi = lo + length
    inside = np.flatnonzero((t >= lo) & (t < hi))
    rng = np.random.default_rng(seed)
    copies = np.sort(rng.choice(inside, size=int(round(extra * len(inside))), replace=False))
    delay = (rng.uniform(0, 24, len(copies)) * HOUR_NS).astype("m8[ns]")
    rows = np.concatenate([np.arange(len(t)), copies])
    arrival = np.concatenate([t, t[copies] + delay])
    ids = np.concatenate([win.ids.astype(str), np.char.add(win.ids[copies].astype(str), "~surge")])
    when = (pd.Timestamp(lo, tz="UTC"), pd.Timestamp(hi, tz="UTC"))
    return win.take(rows, arrival, ids), rows, when


def _backlog(arrival_h: np.ndarray, start_h: np.ndarray) -> dict[str, Any]:
    """Referrals waiting for a first review, hour by hour from the first arrival."""
    grid = np.arange(np.floor(arrival_h.min()), np.ceil(start_h.max()) + 1.0)
    waiting = np.searchsorted(np.sort(arrival_h), grid, side="right") - np.searchsorted(
        np.sort(start_h), grid, side="right"
    )
    days = len(grid) // 24
    daily = waiting[: days * 24].reshape(days, 24).max(axis=1) if days else waiting[:1]
    return {
        "max": int(waiting.max()),
        "mean": float(waiting.mean()),
        "daily_max": [int(x) for x in daily],
    }


def _missed(wait_h: np.ndarray, win: Window) -> dict[str, dict[str, int]]:
    """Per source: referrals with a known preservation deadline, and how many were first
    reviewed after it."""
    known = ~np.isnan(win.deadline_hours)
    late = known & (wait_h > np.nan_to_num(win.deadline_hours, nan=np.inf))
    out = {}
    for s in sorted({str(x) for x in win.source}):
        m = win.source == s
        out[s] = {"with_deadline": int((m & known).sum()), "missed": int((m & late).sum())}
    return out


Ageing = Callable[[Ordering, np.ndarray], Reprioritise]


def run_ordering(
    win: Window, ordering: Ordering, staffing: Staffing, service: np.ndarray, ageing: Ageing
) -> dict[str, Any]:
    """One ordering through one staffing: waits by true urgency, deadlines missed, backlog."""
    sim = simulate_queue(
        win.arrival,
        ordering.priority,
        ids=win.ids,
        staffing=staffing,
        service_hours=service,
        reprioritise=ageing(ordering, win.deadline_hours) if ordering.ageing else None,
        recompute_every_hours=RECOMPUTE_EVERY_HOURS,
    )
    wait = sim["wait_hours"].to_numpy()
    arrival_h = arrival_key(win.arrival) / HOUR_NS
    start_h = arrival_h + wait
    missed = _missed(wait, win)
    return {
        "waits": summarise_waits(wait, win.urgency),
        "deadlines_missed": missed,
        "deadlines_missed_total": sum(v["missed"] for v in missed.values()),
        "backlog": _backlog(arrival_h, start_h),
    }


def _staffing_record(staffing: Staffing, win: Window, mean_review_h: float) -> dict[str, Any]:
    on_duty = staffing.reviews_per_hour * staffing.review_minutes / 60.0  # mean reviewers
    rate = arrival_rate(win.arrival)
    return {
        "reviewer_hours_per_week": round(on_duty * 168),
        "mean_review_minutes": mean_review_h * 60.0,
        "arrivals_per_hour": rate,
        "utilisation": rate * mean_review_h / on_duty,
    }


def run_scenarios(
    win: Window,
    orderings: Mapping[str, Ordering],
    policy: OperatingPolicy,
    *,
    understaffed_share: float = UNDERSTAFFED_SHARE,
    seed: int = 0,
    ageing: Ageing | None = None,
) -> dict[str, Any]:
    """The ``queue_sim`` block of the evaluation report (see docs/evaluation.md).

    ``ageing`` (tests) replaces :func:`aged` with the policy."""
    age = ageing or (lambda o, d: aged(o, d, policy))
    scenarios: dict[str, Any] = {}
    surged, rows, (lo, hi) = surge(win, seed=seed)
    needed_per_week = arrival_rate(win.arrival) * policy.review_minutes / 60.0 * 168
    scale = understaffed_share * needed_per_week / policy.reviewer_hours_per_week()
    runs = {
        "normal": (win, None, Staffing.from_policy(policy)),
        "surge": (surged, rows, Staffing.from_policy(policy)),
        "understaffed": (win, None, Staffing.from_policy(policy, scale)),
    }
    for name, (w, take, staffing) in runs.items():
        service = review_hours(w.ids, policy.review_minutes, seed=seed)
        policies = {}
        for o_name, o in orderings.items():
            if take is not None:
                o = Ordering(o.priority[take], o.tier_rank[take], o.ageing)
            policies[o_name] = run_ordering(w, o, staffing, service, age)
        scenarios[name] = {
            "n": len(w.ids),
            "staffing": _staffing_record(staffing, w, float(service.mean())),
            "policies": policies,
        }
    return {
        "settings": {
            "policy_version": policy.version,
            "centre_utc_offset_hours": CENTRE_UTC,
            "review_minutes_mean": policy.review_minutes,
            "review_lognormal_sigma": REVIEW_SIGMA,
            "recompute_every_hours": RECOMPUTE_EVERY_HOURS,
            "surge": {"extra": SURGE_EXTRA, "from": lo.isoformat(), "to": hi.isoformat()},
            "understaffed_share_of_need": understaffed_share,
        },
        "scenarios": scenarios,
        "done_when": done_when(scenarios["understaffed"]["policies"]),
    }


def done_when(policies: Mapping[str, Any]) -> dict[str, Any]:
    """Issue 11's figures at 80 % of the staffing the load needs: immediate p95 against the
    oracle's, industry deadlines missed against FIFO's and against the static queue's."""

    def p95(name: str) -> float | None:
        return policies[name]["waits"]["immediate"]["p95_h"] if name in policies else None

    def industry(name: str) -> int | None:
        rec = policies.get(name, {}).get("deadlines_missed", {}).get("industry")
        return None if rec is None else int(rec["missed"])

    me, oracle = p95("model"), p95("oracle")
    ratio = None if me is None or not oracle else me / oracle
    mine, fifo, static = industry("model"), industry("fifo"), industry("model_static")
    plain = industry("fifo_plain")
    vs_fifo = None if mine is None or not fifo else mine / fifo
    vs_plain = None if mine is None or not plain else mine / plain
    out: dict[str, Any] = {
        "immediate_p95_h_model": me,
        "immediate_p95_h_oracle": oracle,
        "immediate_p95_vs_oracle": ratio,
        "industry_missed_model": mine,
        "industry_missed_fifo": fifo,
        "industry_missed_model_static": static,
        "industry_missed_vs_fifo": vs_fifo,
        "industry_missed_fifo_plain": plain,
        "industry_missed_vs_fifo_plain": vs_plain,
    }
    out["met"] = {
        "immediate_p95_vs_oracle": me is not None
        and oracle is not None
        and me <= DONE_WHEN["immediate_p95_vs_oracle_max"] * oracle,
        "industry_missed_vs_fifo": mine is not None
        and fifo is not None
        and mine <= DONE_WHEN["industry_missed_vs_fifo_max"] * fifo,
        "industry_missed_vs_fifo_plain": mine is not None
        and plain is not None
        and mine <= DONE_WHEN["industry_missed_vs_fifo_max"] * plain,
        "industry_missed_below_static": mine is not None and static is not None and mine < static,
    }
    return out
