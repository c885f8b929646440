"""Queue simulation: checked against hand-worked cases, textbook recursions and a naive
reference simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from training.queue_sim import (
    Staffing,
    compare_policies,
    default_staffing,
    fifo_priority,
    poisson_arrivals,
    review_hours,
    simulate_queue,
    source_priority,
    summarise_waits,
)


def _ids(n: int) -> np.ndarray:
    return np.array([f"r{i:06d}" for i in range(n)])


def _naive(arr, prio, ids, reviewers: int, service: float) -> np.ndarray:
    """Reference: at each decision scan everything that has arrived (no heaps, no ranks)."""
    free = [float(min(arr))] * reviewers
    remaining = set(range(len(arr)))
    start = np.full(len(arr), np.nan)
    while remaining:
        r = int(np.argmin(free))
        t = free[r]
        ready = [i for i in remaining if arr[i] <= t]
        if not ready:
            t = min(arr[i] for i in remaining)
            ready = [i for i in remaining if arr[i] <= t]
        pick = min(ready, key=lambda i: (-prio[i], arr[i], ids[i]))
        start[pick], free[r] = t, t + service
        remaining.remove(pick)
    return start


def test_unlimited_staff_means_no_wait():
    arr = poisson_arrivals(500, 3, seed=1)
    out = simulate_queue(
        arr, np.zeros(500), ids=_ids(500), staffing=Staffing(reviewers=500, review_minutes=30)
    )
    assert np.all(out["wait_hours"] == 0)


def test_one_reviewer_and_simultaneous_arrivals_wait_in_service_multiples():
    out = simulate_queue(
        np.zeros(5), np.zeros(5), ids=_ids(5), staffing=Staffing(reviewers=1, review_minutes=30)
    )
    assert sorted(out["wait_hours"]) == pytest.approx([0, 0.5, 1.0, 1.5, 2.0])
    assert out["wait_hours"].tolist() == pytest.approx([0, 0.5, 1.0, 1.5, 2.0])  # by id


def test_later_high_priority_referral_jumps_ahead_of_waiting_low_ones():
    arr = np.array([0.0, 0.1, 0.2, 0.5])
    prio = np.array([0.0, 0.0, 0.0, 9.0])
    out = simulate_queue(arr, prio, ids=_ids(4), staffing=Staffing(reviewers=1, review_minutes=60))
    assert out["first_review"].tolist() == pytest.approx([0.0, 2.0, 3.0, 1.0])


def test_fifo_reviews_in_arrival_order_and_matches_lindley_recursion():
    arr = poisson_arrivals(5_000, 30, seed=2)
    service = 0.98 * 30 * 24 / 5_000  # one reviewer at ~98% utilisation: long queues
    out = simulate_queue(
        arr,
        fifo_priority(arr),
        ids=_ids(5_000),
        staffing=Staffing(reviewers=1, review_minutes=60 * service),
    )
    start = out["first_review"].to_numpy()
    assert np.all(np.diff(start) > 0)
    expected = np.empty_like(arr)
    expected[0] = arr[0]
    for i in range(1, len(arr)):
        expected[i] = max(arr[i], expected[i - 1] + service)
    assert start == pytest.approx(expected)
    assert out["wait_hours"].max() > 5 * service  # the queue really built up


def test_fifo_with_several_reviewers_matches_kiefer_wolfowitz_recursion():
    arr = poisson_arrivals(3_000, 10, seed=3)
    staffing = default_staffing(arr, utilisation=0.97)
    service = staffing.review_minutes / 60
    out = simulate_queue(arr, fifo_priority(arr), ids=_ids(3_000), staffing=staffing)
    free = np.full(staffing.reviewers, arr[0])
    expected = np.empty_like(arr)
    for i, a in enumerate(arr):
        expected[i] = max(a, free[0])
        free[0] = expected[i] + service
        free.sort()
    assert out["first_review"].to_numpy() == pytest.approx(expected)


@settings(max_examples=60, deadline=None)
@given(
    arr=st.lists(st.integers(0, 40), min_size=1, max_size=40),
    prio_seed=st.integers(0, 2**16),
    reviewers=st.integers(1, 3),
    service=st.integers(1, 6),
)
def test_matches_naive_simulator_and_never_reviews_before_arrival(
    arr, prio_seed, reviewers, service
):
    arrivals = np.asarray(arr, dtype=float)
    prio = np.random.default_rng(prio_seed).integers(0, 3, size=len(arr)).astype(float)
    ids = _ids(len(arr))
    out = simulate_queue(
        arrivals, prio, ids=ids, staffing=Staffing(reviewers=reviewers, review_minutes=60 * service)
    )
    start = out["first_review"].to_numpy()
    assert not np.isnan(start).any() and len(start) == len(arr)
    assert np.all(start >= arrivals)
    busy = [np.sum((start <= t) & (t < start + service)) for t in start]
    assert max(busy) <= reviewers
    assert start == pytest.approx(_naive(arrivals, prio, ids, reviewers, service))


def test_row_order_does_not_change_anyones_wait():
    arr = np.round(poisson_arrivals(2_000, 5, seed=4), 1)  # many exact ties in time
    prio = np.random.default_rng(4).integers(0, 3, size=2_000).astype(float)
    ids, staffing = _ids(2_000), default_staffing(arr)
    base = simulate_queue(arr, prio, ids=ids, staffing=staffing).set_index("referral_id")
    perm = np.random.default_rng(5).permutation(2_000)
    moved = simulate_queue(arr[perm], prio[perm], ids=ids[perm], staffing=staffing)
    assert_equal = moved.set_index("referral_id").loc[base.index, "wait_hours"]
    assert assert_equal.to_numpy() == pytest.approx(base["wait_hours"].to_numpy())


def test_roster_holds_work_until_the_shift_starts():
    day = [0] * 9 + [1] * 8 + [0] * 7  # one reviewer, 09:00-17:00 UTC
    t = pd.to_datetime(["2024-03-04T20:00Z", "2024-03-05T10:00Z"])
    out = simulate_queue(
        t,
        [0, 0],
        ids=["a", "b"],
        staffing=Staffing(reviewers=1, review_minutes=30, roster=tuple(day)),
    )
    assert out["first_review"].tolist() == [
        pd.Timestamp("2024-03-05T09:00Z"),
        pd.Timestamp("2024-03-05T10:00Z"),
    ]
    with pytest.raises(ValueError):
        Staffing(reviewers=1, review_minutes=30, roster=(2,) * 24)


def test_datetimes_and_hours_give_the_same_waits():
    hours = np.round(poisson_arrivals(300, 4, seed=6), 3)
    times = pd.Timestamp("2024-06-01", tz="UTC") + pd.to_timedelta(hours, unit="h")
    prio, ids, staffing = np.zeros(300), _ids(300), default_staffing(hours, utilisation=1.2)
    a = simulate_queue(hours, prio, ids=ids, staffing=staffing)["wait_hours"]
    b = simulate_queue(times, prio, ids=ids, staffing=staffing)["wait_hours"]
    assert a.to_numpy() == pytest.approx(b.to_numpy(), abs=1e-6)


def test_source_priority_orders_codes_and_compare_policies_is_tidy():
    assert source_priority(["3", "E", None, "1", " e ", "x", "2"]).tolist() == [
        0.0,
        3.0,
        -1.0,
        2.0,
        3.0,
        -1.0,
        1.0,
    ]
    arr = poisson_arrivals(4_000, 14, seed=7)
    rng = np.random.default_rng(7)
    y = rng.choice(["immediate", "high", "routine"], size=4_000, p=[0.05, 0.15, 0.8])
    oracle = np.select([y == "immediate", y == "high"], [2.0, 1.0], 0.0)
    table = compare_policies(
        arr,
        y,
        {"fifo": fifo_priority(arr), "oracle": oracle},
        default_staffing(arr, utilisation=0.95),
        ids=_ids(4_000),
    )
    assert list(table.index) == ["fifo", "oracle"]
    assert table.loc["oracle", "immediate_p95_h"] <= table.loc["fifo", "immediate_p95_h"]
    assert table.loc["oracle", "routine_mean_h"] >= table.loc["fifo", "routine_mean_h"]
    assert table.attrs["staffing"]["reviewers"] >= 1


def test_summarise_waits_counts_and_shares():
    s = summarise_waits([0.5, 2.0, 30.0, 1.0], ["immediate", "immediate", "immediate", "high"])
    assert s["immediate"]["n"] == 3 and s["immediate"]["p50_h"] == 2.0
    assert s["immediate"]["within_1h"] == pytest.approx(1 / 3)
    assert s["immediate"]["within_24h"] == pytest.approx(2 / 3)
    assert s["routine"]["n"] == 0 and s["routine"]["p95_h"] is None


@settings(max_examples=40, deadline=None)
@given(
    arr=st.lists(st.integers(0, 24 * 4), min_size=1, max_size=30),
    roster=st.lists(st.integers(0, 2), min_size=24, max_size=24).filter(lambda r: max(r) > 0),
    service=st.sampled_from([0.5, 1.0, 2.5]),
)
def test_rostered_reviews_start_on_duty_and_respect_headcount(arr, roster, service):
    arrivals = np.asarray(arr, dtype=float)
    staffing = Staffing(reviewers=2, review_minutes=60 * service, roster=tuple(roster))
    out = simulate_queue(arrivals, np.zeros(len(arr)), ids=_ids(len(arr)), staffing=staffing)
    start = out["first_review"].to_numpy()
    assert np.all(start >= arrivals)
    on_duty = np.asarray(roster)[np.floor(start % 24 + 1e-9).astype(int) % 24]
    assert np.all(on_duty >= 1)
    starting_together = [np.sum(start == t) for t in start]
    assert all(c <= on_duty[i] for i, c in enumerate(starting_together))


# -- issue 11: varying review times, weekly shifts from the policy, ageing at dequeue -----


def test_two_reviewers_five_arrivals_known_review_times():
    arr = np.array([0.0, 0.0, 0.5, 1.0, 1.2])
    service = np.array([1.0, 2.0, 0.5, 1.0, 0.25])
    staffing = Staffing(reviewers=2, review_minutes=60)
    fifo = simulate_queue(arr, np.zeros(5), ids=_ids(5), staffing=staffing, service_hours=service)
    # r0: item0 0-1, item2 1-1.5, item3 1.5-2.5; r1: item1 0-2, item4 2-2.25
    assert fifo["first_review"].tolist() == pytest.approx([0.0, 0.0, 1.0, 1.5, 2.0])
    prio = np.array([0.0, 0.0, 0.0, 0.0, 5.0])
    jump = simulate_queue(arr, prio, ids=_ids(5), staffing=staffing, service_hours=service)
    # item4 (arrived 1.2) goes before item3 when r0 frees at 1.5; item3 then at 1.75
    assert jump["first_review"].tolist() == pytest.approx([0.0, 0.0, 1.0, 1.75, 1.5])


def _ages(rate: np.ndarray):
    """Hand-built ageing: priority now = priority + rate x hours waited."""

    def now(prio):
        return lambda rows, waited: prio[rows] + rate[rows] * waited

    return now


def test_ageing_reorders_the_queue_at_each_dequeue():
    arr = np.array([0.0, 0.0, 0.0, 0.5])
    prio = np.array([9.0, 0.0, 5.0, 8.0])
    rate = np.array([0.0, 10.0, 0.0, 0.0])  # item1's deadline nears: +10 an hour
    one = Staffing(reviewers=1, review_minutes=60)
    static = simulate_queue(arr, prio, ids=_ids(4), staffing=one)
    assert static["first_review"].tolist() == pytest.approx([0.0, 3.0, 2.0, 1.0])
    for every in (0.0, 0.25):
        aged = simulate_queue(
            arr,
            prio,
            ids=_ids(4),
            staffing=one,
            reprioritise=_ages(rate)(prio),
            recompute_every_hours=every,
        )
        # at t=1 item1 stands at 10 > 8 > 5: it is taken next, then item3, then item2
        assert aged["first_review"].tolist() == pytest.approx([0.0, 1.0, 3.0, 2.0])


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    every=st.sampled_from([0.0, 0.3, 2.0]),
    reviewers=st.integers(1, 3),
)
def test_ageing_queue_with_a_priority_that_never_changes_is_the_static_queue(
    seed, every, reviewers
):
    rng = np.random.default_rng(seed)
    n = 300
    arr = np.round(np.sort(rng.uniform(0, 40, n)), 1)  # ties in time
    prio = rng.integers(0, 6, n).astype(float)  # ties in priority
    ids = _ids(n)[rng.permutation(n)]
    staffing = Staffing(reviewers=reviewers, review_minutes=60 * 40 * reviewers / n * 1.2)
    service = review_hours(ids, staffing.review_minutes, seed=seed)
    base = simulate_queue(arr, prio, ids=ids, staffing=staffing, service_hours=service)
    same = simulate_queue(
        arr,
        prio,
        ids=ids,
        staffing=staffing,
        service_hours=service,
        reprioritise=lambda rows, waited: prio[rows],
        recompute_every_hours=every,
    )
    assert same["first_review"].to_numpy() == pytest.approx(base["first_review"].to_numpy())


def test_review_hours_follow_the_referral_not_the_row():
    ids = _ids(1_000)
    a = review_hours(ids, 20.0, seed=3)
    perm = np.random.default_rng(0).permutation(1_000)
    assert review_hours(ids[perm], 20.0, seed=3) == pytest.approx(a[perm])
    assert (a > 0).all() and len(np.unique(a)) == 1_000
    assert not np.allclose(review_hours(ids, 20.0, seed=4), a)


def _policy(shifts: list[dict]):
    from models.operating_policy import OperatingPolicy

    return OperatingPolicy(version="test", review_minutes=30.0, staffing=shifts)


def test_staffing_from_policy_follows_its_shifts_by_weekday_and_scales():
    policy = _policy(
        [
            {
                "days": ["mon", "tue", "wed", "thu", "fri"],
                "start_hour": 8,
                "end_hour": 16,
                "reviewers": 5,
            },
            {"days": ["sat"], "start_hour": 0, "end_hour": 24, "reviewers": 1},
        ]
    )
    full = Staffing.from_policy(policy, utc_offset_hours=0.0)
    assert full.roster is not None and len(full.roster) == 168
    assert [
        full.roster[d * 24 + h] for d, h in ((0, 7), (0, 8), (4, 15), (4, 16), (5, 3), (6, 12))
    ] == [
        0,
        5,
        5,
        0,
        1,
        0,
    ]
    assert full.review_minutes == 30.0 and full.reviewers == 5
    half = Staffing.from_policy(policy, scale=0.5)
    assert sum(half.roster) == pytest.approx(policy.reviewer_hours_per_week() * 0.5, abs=1)
    assert max(half.roster) <= 3


def test_weekly_roster_holds_work_until_the_right_weekday_in_centre_time():
    policy = _policy([{"days": ["mon"], "start_hour": 9, "end_hour": 10, "reviewers": 1}])
    staffing = Staffing.from_policy(policy, utc_offset_hours=-5.0)
    # Saturday 2024-03-02 12:00 UTC and Monday 2024-03-04 14:30 UTC (09:30 in the centre)
    t = pd.to_datetime(["2024-03-02T12:00Z", "2024-03-04T14:30Z"])
    out = simulate_queue(t, [0, 0], ids=["a", "b"], staffing=staffing)
    # Monday 09:00 centre time = 14:00 UTC; b waits for a's 30 minutes
    assert out["first_review"].tolist() == [
        pd.Timestamp("2024-03-04T14:00Z"),
        pd.Timestamp("2024-03-04T14:30Z"),
    ]
