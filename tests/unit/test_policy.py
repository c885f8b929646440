"""Cap-based tier thresholds on hand-built arrays: the exact threshold, one step either
side, the floor outside the cap, and the caps day by day."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.policy import (
    NOTHING,
    TierPolicy,
    band_edges,
    fit_policy,
    fit_threshold,
    share_of_days_within,
    tier_share_check,
)

# 20 days x 10 arrivals. Days 0-18 hold the same scores; day 19 is a burst of four
# high-scoring referrals. Cap 0.2 = 2 a day; 95 % of 20 days = 19 days within the cap.
ORDINARY = [0.9, 0.8, 0.3, 0.2, 0.1, 0.05, 0.04, 0.03, 0.02, 0.01]
BURST = [0.99, 0.98, 0.97, 0.96, 0.7, 0.25, 0.15, 0.06, 0.035, 0.015]


def _days(n_days: int = 20, per_day: int = 10) -> pd.Series:
    t0 = pd.Timestamp("2026-01-05T00:00:00Z")
    return pd.Series(
        [t0 + pd.Timedelta(days=d, hours=1 + j) for d in range(n_days) for j in range(per_day)]
    )


def _scores() -> np.ndarray:
    return np.array(ORDINARY * 19 + BURST)


def _day_index() -> np.ndarray:
    return np.repeat(np.arange(20), 10)


def test_threshold_is_the_smallest_score_that_holds_the_cap_on_95_percent_of_days():
    s, day = _scores(), _day_index()
    everyone = np.ones(len(s), dtype=bool)
    t = fit_threshold(s, everyone, day, cap=0.2)
    # 0.7: two a day on days 0-18, five on the burst day (19 of 20 days within the cap)
    assert t == 0.7
    assert share_of_days_within(s >= 0.7, day, 0.2) == 0.95
    # one candidate lower (0.3) puts three a day on every ordinary day: the cap breaks
    assert share_of_days_within(s >= 0.3, day, 0.2) < 0.95
    # one candidate higher (0.8) holds the cap too but fills the tier less: not the fit
    assert (s >= 0.8).sum() < (s >= 0.7).sum()


def test_the_lowest_positive_score_would_break_the_cap():
    s, day = _scores(), _day_index()
    lowest = s[s > 0].min()
    assert share_of_days_within(s >= lowest, day, 0.2) == 0.0
    assert fit_threshold(s, s > 0, day, cap=0.2) != lowest


def test_the_floor_is_outside_the_cap():
    s, day = _scores(), _day_index()
    eligible = np.ones(len(s), dtype=bool)
    eligible[(day < 19) & (s == 0.9)] = False  # the floor already holds these
    # without them, 0.25 (a burst-day score) adds two a day on ordinary days (0.8, 0.3);
    # the next candidate, 0.2, would add three
    assert fit_threshold(s, eligible, day, cap=0.2) == 0.25
    assert share_of_days_within(eligible & (s >= 0.2), day, 0.2) < 0.95


def test_no_room_and_all_room():
    s, day = _scores(), _day_index()
    everyone = np.ones(len(s), dtype=bool)
    # cap 0: only the burst day's top score may go over (one day in 20 may exceed)
    assert fit_threshold(s, everyone, day, cap=0.0) == 0.96
    assert fit_threshold(s, everyone, day, cap=0.0, within_days=1.0) == NOTHING
    assert fit_threshold(s, everyone, day, cap=1.0) == s.min()
    assert fit_threshold(s, np.zeros(len(s), bool), day, cap=0.5) == NOTHING


def test_fit_policy_fills_immediate_then_high_within_their_caps():
    n = len(_scores())
    p_imm = _scores() / 10  # 0.099 .. 0.001
    p_high = np.tile(np.linspace(0.5, 0.05, 10), 20)
    pu = np.column_stack([p_imm, p_high, 1 - p_imm - p_high])
    floor = np.zeros(n, dtype=int)
    floor[5] = 2  # a safety rule lifts one routine-looking referral on day 0
    pol = fit_policy(pu, floor, _days(), immediate_share=0.2, high_share=0.3, within_days=0.95)
    assert pol.t_immediate == pytest.approx(0.07)
    check = tier_share_check(pol, pu, floor, _days())
    assert check["immediate"]["share_of_days_within_cap"] >= 0.95
    assert check["high"]["share_of_days_within_cap"] >= 0.95
    ranks = pol.ranks(pu, floor)
    assert ranks[5] == 2  # the floor lifts whatever the cap
    # high holds, per ordinary day, the three most urgent referrals not already immediate
    day0 = ranks[:10]
    assert list(day0) == [2, 2, 1, 1, 1, 2, 0, 0, 0, 0]


def test_caps_bind_per_day_on_a_new_window():
    pol = TierPolicy(t_immediate=0.5, t_high=0.9, immediate_share=0.1, high_share=0.0)
    rng = np.random.default_rng(0)
    n = 300  # 30 days x 10
    p_imm = rng.random(n) * 0.4
    p_imm[::10] = 0.6  # one a day over the threshold: 10 % a day, exactly the cap
    pu = np.column_stack([p_imm, np.zeros(n), 1 - p_imm])
    check = tier_share_check(pol, pu, np.zeros(n, int), _days(30))
    assert check["immediate"]["share_of_days_within_cap"] == 1.0
    p_imm[1] = 0.6  # a second one on day 0
    pu = np.column_stack([p_imm, np.zeros(n), 1 - p_imm])
    check = tier_share_check(pol, pu, np.zeros(n, int), _days(30))
    assert check["immediate"]["days_over_cap"] == 1


def test_urgency_bands_are_ventiles_of_the_reference():
    ref = np.arange(1, 101) / 100  # 0.01 .. 1.00
    pol = TierPolicy(0.5, 0.5, band_edges=band_edges(ref))
    bands = pol.bands(ref)
    assert bands is not None
    assert bands.min() == 1 and bands.max() == 20
    assert np.bincount(bands)[1:].tolist() == [5] * 20  # each band holds 5 % of arrivals
    assert pol.bands(np.array([0.0, 2.0])).tolist() == [1, 20]
    assert TierPolicy(0.5, 0.5).bands(ref) is None


def test_policy_round_trips_and_reads_an_old_recall_policy():
    pol = TierPolicy(0.1, 0.2, 0.03, 0.12, 0.95, "v1", "abc", (0.1, 0.2))
    assert TierPolicy.from_dict(pol.as_dict()) == pol
    old = TierPolicy.from_dict(
        {"t_immediate": 0.002, "t_high": 0.1, "recall_immediate": 0.95, "recall_high": 0.9}
    )
    assert old.t_immediate == 0.002 and old.policy_version == "unversioned"


def test_training_fits_with_a_margin_over_the_95_percent_rule():
    # fitted at 97.5 %, no day of 20 may exceed: 0.98 keeps the burst day at two (0.99,
    # 0.98); the next candidate, 0.97, would put three there
    n = len(_scores())
    pu = np.column_stack([_scores(), np.zeros(n), 1 - _scores()])
    pol = fit_policy(pu, np.zeros(n, int), _days(), immediate_share=0.2, high_share=0.0)
    assert pol.within_days == 0.975
    assert pol.t_immediate == 0.98
