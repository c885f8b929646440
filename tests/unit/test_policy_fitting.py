"""The tier policy on hand-built arrays whose answers are worked out by hand in the
comments (``docs/operating-policy.md``, ``models/policy.py``'s module doc): thresholds
reached at equality, the safety floor outside both caps, the high tier fitted after the
immediate one, UTC calendar days, the evaluation report's ``tier_shares`` block, urgency
bands and the workload-curve orderings. ``tests/unit/test_policy.py`` has the rest."""

from __future__ import annotations

import json

import numpy as np
import pytest

from models.policy import (
    FIT_WITHIN_DAYS,
    NOTHING,
    TierPolicy,
    band_edges,
    daily_shares,
    day_index,
    fit_policy,
    fit_threshold,
    share_of_days_within,
    tier_orderings,
    tier_share_check,
)


def _pu(p_imm, p_high) -> np.ndarray:
    p_imm, p_high = np.asarray(p_imm, float), np.asarray(p_high, float)
    return np.column_stack([p_imm, p_high, 1 - p_imm - p_high])


# --- tiers from probabilities -----------------------------------------------------------


def test_a_threshold_is_reached_at_equality_and_the_floor_only_lifts():
    pol = TierPolicy(t_immediate=0.5, t_high=0.75)
    pu = _pu(
        [0.5, 0.25, 0.25, 0.75, 0.0],  # P(immediate)
        [0.0, 0.5, 0.25, 0.0, 0.0],  # P(high): rows 1 and 2 sum to 0.75 and 0.5
    )
    assert pol.ranks(pu).tolist() == [2, 1, 0, 2, 0]
    floor = np.array([0, 0, 1, 1, 2])
    assert pol.ranks(pu, floor).tolist() == [2, 1, 1, 2, 2]
    assert pol.ranks(pu, np.array([1, 2, 0, 0, 0])).tolist() == [2, 2, 0, 2, 0]


def test_a_probability_on_a_band_edge_belongs_to_the_band_above():
    edges = tuple(k / 20 for k in range(1, 20))  # 0.05, 0.10, .., 0.95
    pol = TierPolicy(0.5, 0.5, band_edges=edges)
    p = np.array([0.0, 0.04, 0.05, 0.07, 0.10, 0.5, 0.949, 0.95, 1.0])
    assert pol.bands(p).tolist() == [1, 1, 2, 2, 3, 11, 19, 20, 20]  # type: ignore[union-attr]


def test_band_edges_of_an_empty_and_a_one_row_reference():
    assert band_edges(np.array([])) == ()
    assert band_edges(np.array([0.3])) == (0.3,) * 19


def test_the_policy_is_json_ready_and_reads_back_equal():
    pol = TierPolicy(0.25, 0.5, 0.05, 0.1, 0.95, "v3", "d1g", (0.1, 0.2))
    d = pol.as_dict()
    assert d == {
        "t_immediate": 0.25,
        "t_high": 0.5,
        "immediate_share": 0.05,
        "high_share": 0.1,
        "within_days": 0.95,
        "policy_version": "v3",
        "policy_digest": "d1g",
        "band_edges": [0.1, 0.2],
    }
    assert json.loads(json.dumps(d)) == d
    assert TierPolicy.from_dict(json.loads(json.dumps(d))) == pol


# --- days and daily shares --------------------------------------------------------------


def test_days_are_utc_calendar_days_whatever_the_offset():
    received = [
        "2026-01-05T23:30:00-02:00",  # 01:30 UTC on the 6th
        "2026-01-06T00:30:00+00:00",  # the 6th
        "2026-01-06T01:00:00+03:00",  # 22:00 UTC on the 5th
        "2026-01-09T00:00:00Z",  # the next day with arrivals: index 2, not 4
    ]
    assert day_index(received).tolist() == [1, 1, 0, 2]


def test_daily_shares_count_each_day_against_its_own_arrivals():
    added = np.array([True, False, True, True])
    assert daily_shares(added, np.array([0, 1, 1, 1])).tolist() == [1.0, 2 / 3]
    # a day with no arrivals (an index the caller skipped) adds nothing
    assert daily_shares(np.array([True]), np.array([1])).tolist() == [0.0, 1.0]
    assert share_of_days_within(added, np.array([0, 1, 1, 1]), 2 / 3) == 0.5


def test_an_empty_window_has_no_days_and_breaks_no_cap():
    none = np.array([], dtype=bool)
    assert daily_shares(none, np.array([], dtype=int)).tolist() == []
    assert share_of_days_within(none, np.array([], dtype=int), 0.0) == 1.0


# --- fitting ----------------------------------------------------------------------------


def test_when_only_the_top_score_fits_the_threshold_is_the_top_score():
    s = np.arange(1, 11) / 10  # one day of ten arrivals: 0.1 .. 1.0
    day = np.zeros(10, dtype=int)
    everyone = np.ones(10, dtype=bool)
    assert fit_threshold(s, everyone, day, cap=0.1) == 1.0  # one of ten
    assert fit_threshold(s, everyone, day, cap=0.35) == 0.8  # three of ten
    assert fit_threshold(s, everyone, day, cap=0.05) == NOTHING  # not even one
    assert fit_threshold(np.full(10, 0.4), everyone, day, cap=1.0) == 0.4  # one candidate


# One day, ten arrivals. P(immediate) 0.9 .. 0.0; P(high) 0.0625 everywhere, so
# P(immediate) + P(high) keeps the order. Row 0 is held in immediate by the floor, row 3 in
# high. Caps: two of ten in each tier, beyond the floor.
P_IMM = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]
FLOOR = np.array([2, 0, 0, 1, 0, 0, 0, 0, 0, 0])


def test_the_floor_is_outside_both_caps_and_high_follows_immediate():
    pu = _pu(P_IMM, [0.0625] * 10)
    pol = fit_policy(pu, FLOOR, ["2026-01-05T10:00:00Z"] * 10, immediate_share=0.2, high_share=0.2)
    # immediate: row 0 is the floor's; rows 1 and 2 are the two the model adds
    assert pol.t_immediate == 0.7
    # high: rows 0-2 are immediate and row 3 is the floor's; rows 4 and 5 are added
    assert pol.t_high == pytest.approx(0.4 + 0.0625)
    assert pol.ranks(pu, FLOOR).tolist() == [2, 2, 2, 1, 1, 1, 0, 0, 0, 0]
    # defaults of a fit that names no policy, and the bands of the same window
    assert (pol.policy_version, pol.policy_digest) == ("unversioned", "")
    assert (pol.immediate_share, pol.high_share, pol.within_days) == (0.2, 0.2, FIT_WITHIN_DAYS)
    assert pol.band_edges == band_edges(np.array(P_IMM))


def test_a_fit_on_a_kept_day_index_needs_no_times_and_keeps_the_policy_names():
    pu = _pu(P_IMM, [0.0625] * 10)
    pol = fit_policy(
        pu,
        FLOOR,
        None,
        day=np.zeros(10, dtype=int),
        immediate_share=0.2,
        high_share=0.2,
        within_days=0.9,
        policy_version="2026-11",
        policy_digest="abc123",
    )
    assert (pol.t_immediate, pol.policy_version, pol.policy_digest) == (0.7, "2026-11", "abc123")
    assert pol.within_days == 0.9


def test_the_high_tier_is_fitted_at_the_days_asked_for():
    # 20 days of ten: P(immediate) 0 (no room in immediate); P(high) ordinary on days 0-18
    # and a burst of four high scores on day 19. Cap: two a day.
    ordinary = [0.9, 0.8, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02, 0.01]
    burst = [0.99, 0.98, 0.97, 0.96, 0.7, 0.25, 0.15, 0.06, 0.035, 0.015]
    pu = _pu([0.0] * 200, ordinary * 19 + burst)
    day = np.repeat(np.arange(20), 10)
    floor = np.zeros(200, dtype=int)

    def fit(within: float) -> TierPolicy:
        return fit_policy(
            pu, floor, None, day=day, immediate_share=0.0, high_share=0.2, within_days=within
        )

    assert fit(0.95).t_immediate == NOTHING
    assert fit(0.95).t_high == 0.7  # the burst day may exceed: 19 of 20 days hold
    assert fit(1.0).t_high == 0.98  # every day must hold: two on the burst day


# --- the evaluation report's tier_shares ------------------------------------------------


def test_tier_shares_of_a_hand_built_window():
    # two days of four. t_immediate 0.5, t_high 0.75; caps a quarter each.
    #          P(imm) P(high) floor  model  rank  added to
    rows = [
        (0.5, 0.25, 2),  # 2      2     nothing: the floor holds it
        (0.25, 0.5, 1),  # 1      1     nothing: the floor holds it
        (0.5, 0.0, 0),  # 2      2     immediate
        (0.0, 0.0, 0),  # 0      0
        (0.25, 0.5, 0),  # 1      1     high           (day 1 from here)
        (0.25, 0.5, 0),  # 1      1     high
        (0.0, 0.0, 1),  # 0      1     nothing: the floor holds it
        (0.75, 0.0, 0),  # 2      2     immediate
    ]
    pu = _pu([r[0] for r in rows], [r[1] for r in rows])
    floor = np.array([r[2] for r in rows])
    received = ["2026-01-05T09:00:00Z"] * 4 + ["2026-01-06T09:00:00Z"] * 4
    pol = TierPolicy(0.5, 0.75, immediate_share=0.25, high_share=0.25)
    check = tier_share_check(pol, pu, floor, received)
    assert check["days"] == 2
    assert check["immediate"] == {
        "cap": 0.25,
        "share_of_days_within_cap": 1.0,  # one of four each day: at the cap, not over
        "days_over_cap": 0,
        "mean_daily_share_added": 0.25,
        "p95_daily_share_added": 0.25,
        "share_added": 0.25,  # rows 2 and 7
        "share_with_floor": 0.375,  # rows 0, 2 and 7
    }
    assert check["high"] == {
        "cap": 0.25,
        "share_of_days_within_cap": 0.5,  # day 1 adds two of four
        "days_over_cap": 1,
        "mean_daily_share_added": 0.25,
        "p95_daily_share_added": pytest.approx(0.475),  # between 0 and 0.5, numpy's default
        "share_added": 0.25,  # rows 4 and 5
        "share_with_floor": 0.5,  # rows 1, 4, 5 and 6
    }
    assert check["floor_share"] == {"immediate": 0.125, "high": 0.25}


def test_tier_shares_of_an_empty_window():
    check = tier_share_check(
        TierPolicy(0.5, 0.75), np.zeros((0, 3)), np.zeros(0, dtype=int), np.array([], dtype=str)
    )
    assert check["days"] == 0
    for tier in ("immediate", "high"):
        assert check[tier]["share_of_days_within_cap"] == 1.0
        assert check[tier]["days_over_cap"] == 0
        for key in (
            "mean_daily_share_added",
            "p95_daily_share_added",
            "share_added",
            "share_with_floor",
        ):
            assert check[tier][key] is None, (tier, key)
    assert check["floor_share"] == {"immediate": None, "high": None}


# --- the workload-recall curve's orderings ----------------------------------------------


def test_orderings_put_the_floor_first_then_the_tiers_own_ranking():
    pu = np.array(
        [
            [1.0, 0.0, 0.0],  # a: certain by the model, no floor
            [0.0, 0.0, 1.0],  # b: routine by the model, floor immediate
            [0.2, 0.7, 0.1],  # c: floor high
            [0.3, 0.1, 0.6],  # d: no floor
        ]
    )
    floor = np.array([0, 2, 1, 0])
    orders = tier_orderings(pu, floor)
    assert set(orders) == {"immediate", "immediate_or_high"}

    def order(x: np.ndarray) -> list[str]:
        i = np.argsort(-x, kind="stable")
        assert np.all(np.diff(x[i]) < 0), "no ties in this example"
        return ["abcd"[k] for k in i]

    # immediate: the floor's immediate (b), then P(immediate): a 1.0, d 0.3, c 0.2
    assert order(orders["immediate"]) == ["b", "a", "d", "c"]
    # immediate or high: the floor's high or above (c 0.9, b 0.0), then P(imm) + P(high)
    assert order(orders["immediate_or_high"]) == ["c", "b", "a", "d"]
