"""The scenarios of the queue simulation (training/queue_runs.py): hand-built windows with
known outcomes, and directional checks (a surge and fewer staff only make queues longer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.operating_policy import load_policy
from training.queue_runs import (
    Ordering,
    Window,
    done_when,
    run_ordering,
    run_scenarios,
    sim_orderings,
    surge,
    tiers_like,
)
from training.queue_sim import Staffing


def _window(n: int, days: int, seed: int) -> Window:
    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2024-03-04T00:00Z")
    hours = np.sort(rng.uniform(0, 24 * days, n))
    received = t0 + pd.to_timedelta(hours, unit="h")
    source = rng.choice(["ncmec", "industry", "public"], n, p=[0.6, 0.3, 0.1])
    deadline = pd.Series(received).where(source != "public") + pd.to_timedelta(
        np.where(source == "industry", 21, 365), unit="D"
    )
    urgency = rng.choice(["immediate", "high", "routine"], n, p=[0.03, 0.12, 0.85])
    return Window.of(received, [f"r{i:05d}" for i in range(n)], urgency, source, deadline)


def _no_ageing(o: Ordering, deadline_hours: np.ndarray):
    return lambda rows, waited: o.priority[rows]


def test_tiers_like_keeps_the_floor_and_fills_to_the_given_sizes():
    p = np.array(
        [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.5, 0.1, 0.4], [0.0, 0.1, 0.9], [0.2, 0.0, 0.8]]
    )
    floor = np.array([0, 0, 0, 2, 0])
    # two immediate: the floor's row 3, then the highest P(immediate) (row 0);
    # one high: the highest P(immediate) + P(high) among the rest (row 1: 0.9)
    assert tiers_like(p, floor, 2, 1).tolist() == [2, 1, 0, 2, 0]
    assert tiers_like(p, floor, 0, 0).tolist() == floor.tolist()  # never below the floor


def test_orderings_share_the_floor():
    n = 6
    floor = np.array([0, 2, 0, 1, 0, 0])
    ords = sim_orderings(
        (np.linspace(10, 60, n), np.maximum(floor, [1, 0, 0, 0, 0, 2])),
        (np.zeros(n), floor),
        ["E", None, "1", "3", "2", " e "],
        np.full((n, 3), 1 / 3),
    )
    for name in ("oracle", "source_priority", "fifo", "rules_only"):
        assert (ords[name].tier_rank >= floor).all(), name
    assert ords["source_priority"].tier_rank.tolist() == [2, 2, 1, 1, 0, 2]
    assert not ords["model_static"].ageing and ords["model"].ageing
    assert not ords["fifo_plain"].ageing and (ords["fifo_plain"].tier_rank == 0).all()


def test_deadlines_missed_counted_by_source_exactly():
    # one reviewer, one-hour reviews, three referrals at once: waits 0, 1 and 2 hours
    t = pd.to_datetime(["2024-03-04T10:00Z"] * 3)
    deadline = t + pd.to_timedelta([0.5, 0.5, 5.0], unit="h")
    win = Window.of(t, ["a", "b", "c"], ["routine"] * 3, ["industry"] * 2 + ["ncmec"], deadline)
    one = Staffing(reviewers=1, review_minutes=60)
    out = run_ordering(
        win, Ordering(np.array([3.0, 2.0, 1.0]), np.zeros(3, int)), one, np.ones(3), _no_ageing
    )
    assert out["deadlines_missed"] == {
        "industry": {"with_deadline": 2, "missed": 1},
        "ncmec": {"with_deadline": 1, "missed": 0},
    }
    assert out["backlog"]["max"] == 2  # c waits until 12:00, b until 11:00


def test_surge_adds_the_share_inside_its_months_only():
    win = _window(3_000, 200, seed=1)
    s, rows, (lo, hi) = surge(win, extra=0.36, days=91)
    added = rows[len(win.ids) :]
    t = pd.DatetimeIndex(win.arrival)
    inside = ((t >= lo.tz_localize(None)) & (t < hi.tz_localize(None))).sum()
    assert len(added) == round(0.36 * inside)
    assert len(set(s.ids)) == len(s.ids)
    delay = (s.arrival[len(win.ids) :] - win.arrival[added]) / np.timedelta64(1, "h")
    assert (delay >= 0).all() and (delay <= 24).all()
    assert (s.urgency[len(win.ids) :] == win.urgency[added]).all()


def test_surge_and_fewer_staff_raise_the_backlog():
    win = _window(4_000, 120, seed=2)
    rng = np.random.default_rng(2)
    prio = rng.uniform(0, 33, len(win.ids))
    ords = {
        "fifo": Ordering(np.zeros(len(prio)), np.zeros(len(prio), int)),
        "model": Ordering(prio, np.zeros(len(prio), int)),
    }
    # the policy scaled to this small window: shifts as written, 4,000 referrals in 120 days
    out = run_scenarios(win, ords, load_policy(), ageing=_no_ageing)
    sc = out["scenarios"]
    assert sc["surge"]["n"] > sc["normal"]["n"]
    for o in ords:
        assert (
            sc["surge"]["policies"][o]["backlog"]["mean"]
            > sc["normal"]["policies"][o]["backlog"]["mean"]
        )
        assert (
            sc["understaffed"]["policies"][o]["backlog"]["max"]
            > sc["normal"]["policies"][o]["backlog"]["max"]
        )
    assert sc["understaffed"]["staffing"]["utilisation"] == pytest.approx(1 / 0.8, rel=0.02)


def test_done_when_compares_with_the_named_orderings():
    def rec(p95: float, missed: int):
        return {
            "waits": {"immediate": {"p95_h": p95}},
            "deadlines_missed": {"industry": {"missed": missed}},
        }

    pol = {
        "model": rec(5.0, 3),
        "oracle": rec(4.0, 0),
        "fifo": rec(50.0, 40),
        "fifo_plain": rec(50.0, 20),
        "model_static": rec(1.0, 4),
    }
    d = done_when(pol)
    assert d["immediate_p95_vs_oracle"] == 1.25 and d["met"]["immediate_p95_vs_oracle"]
    assert d["industry_missed_vs_fifo"] == pytest.approx(3 / 40)
    assert d["met"]["industry_missed_vs_fifo"] and not d["met"]["industry_missed_vs_fifo_plain"]
    assert d["met"]["industry_missed_below_static"]
    pol["model"] = rec(5.01, 4)
    d = done_when(pol)
    assert not d["met"]["immediate_p95_vs_oracle"] and not d["met"]["industry_missed_below_static"]
