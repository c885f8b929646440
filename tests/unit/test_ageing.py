"""Queue ageing: the exact order of a hand-built queue as time passes, and the rule's
guarantees (bands kept, never below the priority at scoring, fresh = unchanged)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.ageing import aged_because, priority_now
from models.operating_policy import load_policy

POLICY = load_policy()  # targets: immediate 4 h, high 72 h, routine 336 h
NONE = float("nan")

# id: (tier rank, priority at scoring, arrival hour, preservation deadline hour or NaN)
QUEUE = {
    "G": (2, 66.7, -1, NONE),  # lifted to immediate by a safety rule, lowest immediate priority
    "A": (2, 90.0, 0, NONE),
    "B": (1, 60.0, 0, NONE),
    "C": (1, 40.0, -60, NONE),  # a less urgent high that has waited 60 h already
    "D": (0, 32.0, 0, NONE),
    "E": (0, 5.0, -300, 204.0),  # industry: 21 days (504 h) from arrival
    "F": (0, 15.0, 0, NONE),
    "H": (1, 62.0, 80, NONE),  # a fresh high arriving at hour 80
    "J": (0, 32.5, 150, NONE),  # a fresh routine arriving at hour 150
}


def _read(at: float) -> tuple[list[str], dict[str, float], dict[str, str | None]]:
    """The queue as GET /queue orders it at hour ``at``: priority now, then arrival, id."""
    ids = [k for k, v in QUEUE.items() if v[2] <= at]
    rank = np.array([QUEUE[k][0] for k in ids])
    prio = np.array([QUEUE[k][1] for k in ids])
    waited = np.array([at - QUEUE[k][2] for k in ids], dtype=float)
    left = np.array([QUEUE[k][3] - at for k in ids], dtype=float)
    now = priority_now(prio, rank, waited, left, POLICY)
    why = aged_because(rank, waited, left, POLICY)
    order = sorted(range(len(ids)), key=lambda i: (-now[i], QUEUE[ids[i]][2], ids[i]))
    return (
        [ids[i] for i in order],
        dict(zip(ids, now, strict=True)),
        dict(zip(ids, why, strict=True)),
    )


def test_order_of_a_hand_built_queue_at_three_moments() -> None:
    # hour 0: C has waited 60 of its 72 h (distance to the top of the high band 26.7 ->
    # 26.7 x 10^-0.83 = 3.9), so it is above the fresh B (distance 6.7); the safety-floor
    # G has waited 1 of 4 h but stays below A; nothing leaves its band.
    order, now, why = _read(0)
    assert order == ["A", "G", "C", "B", "D", "E", "F"]
    assert now["A"] == 90.0 and now["B"] == 60.0  # fresh: priority now = priority
    assert why["B"] is None and why["C"] == "waited 60 h against a 72 h target"

    # hour 80: C is overdue (140 h of 72) and stays above the fresh H, whose priority at
    # scoring (62) was far above C's (40): an overdue high rises past fresh highs.
    order, now, _ = _read(80)
    assert order == ["A", "G", "C", "B", "H", "D", "E", "F"]
    assert now["H"] == 62.0 and now["C"] > now["H"]

    # hour 150: B and C are both past twice their target, where waiting adds no more, so
    # urgency leads again (B above C); E's preservation deadline is 54 h away, which lifts
    # it from below D and the fresh J to the top of routine.
    order, now, why = _read(150)
    assert order == ["A", "G", "B", "C", "H", "E", "D", "J", "F"]
    assert why["E"] == "waited 450 h against a 336 h target; preservation deadline in 54 h"
    # the safety floor is never demoted: G (scored at the bottom of immediate) stays above
    # every high, at every moment
    assert all(now["G"] > now[k] for k in ("B", "C", "H"))


def test_deadline_within_a_day_beats_every_routine_without_one() -> None:
    """An industry referral with 20 h left overtakes fresh and long-overdue routine ones,
    whatever their priority at scoring."""
    prio = np.array([0.5, 33.0, 33.0])
    rank = np.zeros(3, dtype=int)
    waited = np.array([484.0, 0.0, 5000.0])
    left = np.array([20.0, NONE, NONE])
    now = priority_now(prio, rank, waited, left, POLICY)
    assert now[0] > now[1] and now[0] > now[2]
    assert aged_because(rank, waited, left, POLICY)[0] == (
        "waited 484 h against a 336 h target; preservation deadline in 20 h"
    )


def test_words_for_short_waits_and_passed_deadlines() -> None:
    rank = np.array([2, 0, 1])
    waited = np.array([5.2, 600.0, 0.01])
    left = np.array([NONE, -3.0, 100.0])
    assert aged_because(rank, waited, left, POLICY) == [
        "waited 5.2 h against a 4 h target",
        "waited 600 h against a 336 h target; preservation deadline passed 3 h ago",
        None,
    ]


band_rows = st.tuples(
    st.integers(0, 2),
    st.floats(0, 0.999),
    st.floats(-5, 20_000),
    st.one_of(st.just(NONE), st.floats(-1_000, 20_000)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(band_rows, min_size=1, max_size=30))
def test_never_below_priority_and_never_out_of_band(rows: list) -> None:
    rank = np.array([r[0] for r in rows])
    band = 100 / 3
    prio = np.round(rank * band + np.array([r[1] for r in rows]) * band, 3)
    waited = np.array([r[2] for r in rows])
    left = np.array([r[3] for r in rows])
    now = priority_now(prio, rank, waited, left, POLICY)
    assert np.all(now >= prio)
    # (a priority at scoring is rounded to 3 decimals: 33.333 is the bottom of high)
    assert np.all(now >= rank * band - 0.001) and np.all(now < (rank + 1) * band)
    # more waiting never lowers it
    later = priority_now(prio, rank, waited + 1.0, left - 1.0, POLICY)
    assert np.all(later >= now)
