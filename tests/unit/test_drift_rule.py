"""The drift rule (reports/drift_rule.py) on hand-built numbers: flagged only when both
significant (p < alpha) and large (effect at or above its floor); history never alarms.

The floors are written here from docs/drift.md, not read from ``FLOORS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd
import pytest
from scipy import stats

from reports import drift_rule as dr

ALPHA = 0.01


def test_the_documented_floors_and_alpha() -> None:
    assert dr.ALPHA == 0.01
    assert dr.FLOORS == {
        "wasserstein": 0.1,
        "jensenshannon": 0.05,
        "rate_ratio": 1.15,
        "unseen_share": 0.01,
        "override_increase": 0.10,
    }
    assert dr.MIN_ROWS == 30


@pytest.mark.parametrize(
    ("p", "effect", "significant", "large"),
    [
        (0.0099, 0.1, True, True),  # both, exactly at the floor
        (0.01, 0.5, False, True),  # p equal to alpha is not significant
        (0.001, 0.0999, True, False),  # just under the floor
        (float("nan"), 0.9, False, True),  # an undefined test is no evidence
        (0.001, float("nan"), True, False),  # an undefined effect is no effect
    ],
)
def test_judge_needs_both_significance_and_size(p, effect, significant, large) -> None:
    c = dr.judge("data", "x", "ks", p, "wasserstein", effect, ALPHA)
    assert (c.significant, c.large, c.flagged) == (significant, large, significant and large)
    assert c.floor == 0.1 and c.signal == "data" and c.name == "x" and c.test == "ks"
    assert c.p_value == (p if math.isfinite(p) else 1.0)
    assert c.effect == (effect if not math.isnan(effect) else 0.0)


def test_history_is_shown_but_never_flagged() -> None:
    c = dr.judge("history", "link_prior_referrals", "ks", 1e-12, "wasserstein", 5.0, ALPHA)
    assert c.significant and c.large and not c.flagged
    d = dr.judge("data", "link_prior_referrals", "ks", 1e-12, "wasserstein", 5.0, ALPHA)
    assert d.flagged


@pytest.mark.parametrize(
    ("ratio", "large"),
    [(1.15, True), (1.149, False), (1 / 1.15, True), (0.9, False), (math.inf, True), (1.0, False)],
)
def test_a_rate_ratio_is_large_both_ways(ratio: float, large: bool) -> None:
    c = dr.judge("volume", "all", "t", 0.0, "rate_ratio", ratio, ALPHA, note="n")
    assert c.large is large and c.flagged is large
    assert c.effect == (ratio if math.isfinite(ratio) else 1e9) and c.note == "n"


def test_volume_checks_overall_and_per_source() -> None:
    ref = pd.Series(["a"] * 100 + ["b"] * 100)  # 200 over 10 days: 20 a day
    cur = pd.Series(["a"] * 95 + ["b"] * 10 + ["c"] * 5)  # 110 over 5 days: 22 a day
    checks = {c.name: c for c in dr.volume_checks(ref, 10.0, cur, 5.0, ALPHA)}
    assert list(checks) == ["all", "source=a", "source=b", "source=c"]
    a = checks["source=a"]
    assert (a.reference, a.current, a.n_reference, a.n_current) == (10.0, 19.0, 100, 95)
    assert a.effect == pytest.approx(1.9)
    assert a.p_value == pytest.approx(stats.binomtest(95, 195, 5 / 15).pvalue)
    assert a.flagged
    assert checks["source=b"].effect == pytest.approx(0.2) and checks["source=b"].flagged
    assert checks["source=c"].effect == 1e9 and checks["source=c"].large  # new source
    overall = checks["all"]
    assert overall.effect == pytest.approx(22 / 20) and overall.large is False
    assert overall.test == "poisson_rate_binomial" and overall.note == "referrals per day"


def test_volume_checks_edges() -> None:
    ref = pd.Series([1.5, "a", "a", "d"] + ["e"] * 5)  # mixed labels, a source gone, 0.5 a day
    cur = pd.Series(["a", "n", "n", "n"])
    checks = {c.name: c for c in dr.volume_checks(ref, 10.0, cur, 3.0, ALPHA)}
    assert list(checks) == ["all", "source=1.5", "source=a", "source=d", "source=e", "source=n"]
    assert all(c.signal == "volume" for c in checks.values())
    d = checks["source=d"]
    assert (d.n_reference, d.n_current, d.current) == (1, 0, 0.0)
    assert d.p_value == pytest.approx(stats.binomtest(0, 1, 3 / 13).pvalue)
    e = checks["source=e"]
    assert e.reference == 0.5 and e.effect == 0.0
    a = checks["source=a"]
    assert (a.reference, a.current) == (0.2, 0.333)  # rounded to 3 places
    assert a.effect == pytest.approx((1 / 3) / 0.2)
    n = checks["source=n"]  # more now than before: still tested
    assert n.p_value == pytest.approx(stats.binomtest(3, 3, 3 / 13).pvalue)
    (empty,) = dr.volume_checks(
        pd.Series([], dtype=object), 5.0, pd.Series([], dtype=object), 1.0, ALPHA
    )
    assert empty.p_value == 1.0 and empty.n_reference == 0


def test_volume_checks_scale_a_thinned_reference() -> None:
    ref = pd.Series(["a"] * 50)  # a 50 % sample of 100 referrals over 10 days
    cur = pd.Series(["a"] * 10)  # 10 a day
    (all_, _a) = dr.volume_checks(ref, 10.0, cur, 1.0, ALPHA, sample_fraction=0.5)
    assert all_.reference == 10.0 and all_.effect == pytest.approx(1.0)
    assert all_.p_value == pytest.approx(stats.binomtest(10, 60, 1 / 6).pvalue)
    assert not all_.flagged


def test_unseen_platforms_share_and_absence_probability() -> None:
    ref = pd.Series(["A", "B", None] * 100)  # 200 known platform values
    cur = pd.Series(["A"] * 90 + ["New"] * 8 + [None] * 2)
    c = dr.unseen_check(ref, cur, ALPHA)
    assert c.current == 0.08 and c.n_current == 8 and c.n_reference == 200
    assert c.p_value == pytest.approx((1 - 0.08) ** 200)
    assert c.flagged and c.note == "New (8)"
    assert (c.signal, c.name, c.test) == (
        "unseen_platforms",
        "platforms not in the reference",
        "absence_probability",
    )
    assert c.reference == 0.0
    two = dr.unseen_check(ref, pd.Series(["X"] * 2 + ["Y"] + ["A"] * 3), ALPHA)
    assert two.note == "X (2); Y (1)" and two.current == 0.5
    third = dr.unseen_check(ref, pd.Series(["X", "A", "A"]), ALPHA)
    assert third.current == 0.3333  # rounded to 4 places
    many = dr.unseen_check(ref, pd.Series([f"N{i:02d}" for i in range(12)]), ALPHA)
    assert many.note.count("(1)") == 10, "the ten most frequent names only"
    none = dr.unseen_check(ref, pd.Series(["A", "B"]), ALPHA)
    assert none.effect == 0.0 and none.p_value == 1.0 and not none.flagged
    assert dr.unseen_check(ref, pd.Series([], dtype=object), ALPHA).effect == 0.0


def test_a_long_platform_name_is_shortened_in_the_note() -> None:
    long = "P" * 80
    c = dr.unseen_check(pd.Series(["A"] * 10), pd.Series([long]), ALPHA)
    assert c.note == "P" * 59 + "… (1)"
    sixty = "Q" * 60
    assert dr.unseen_check(pd.Series(["A"] * 10), pd.Series([sixty]), ALPHA).note == sixty + " (1)"


@dataclass
class Rate:
    start: int
    tier: str
    decisions: int
    overrides: int


def test_override_checks_compare_the_latest_window_with_the_earlier_ones() -> None:
    rates = [
        Rate(3, "immediate", 4, 4),  # no earlier window: not tested (the others still are)
        Rate(1, "high", 200, 60),
        Rate(2, "high", 100, 40),  # earlier: 100 of 300
        Rate(3, "high", 1, 1),  # latest: a single decision is still tested
        Rate(1, "routine", 100, 5),
        Rate(2, "routine", 100, 5),
        Rate(3, "routine", 100, 30),  # latest: 30 % against 5 % before
    ]
    checks = {c.name: c for c in dr.override_checks(rates, ALPHA)}
    assert list(checks) == ["tier=high", "tier=routine"]
    high = checks["tier=high"]
    assert (high.reference, high.current, high.n_reference, high.n_current) == (0.3333, 1.0, 300, 1)
    assert high.effect == pytest.approx(2 / 3) and high.large and not high.flagged
    expected = stats.fisher_exact([[1, 0], [100, 200]], alternative="greater").pvalue
    assert high.p_value == pytest.approx(expected)
    routine = checks["tier=routine"]
    assert (routine.reference, routine.current) == (0.05, 0.3)
    assert (routine.n_reference, routine.n_current) == (200, 100)
    expected = stats.fisher_exact([[30, 70], [10, 190]], alternative="greater").pvalue
    assert routine.p_value == pytest.approx(expected) and routine.effect == pytest.approx(0.25)
    assert routine.flagged and routine.signal == "overrides"
    assert routine.test == "fisher_exact_greater" and routine.effect_name == "override_increase"
    assert routine.note == "override rate: earlier windows vs the latest"
    assert dr.override_checks([], ALPHA) == []


def test_override_checks_cover_the_immediate_tier_and_ask_only_for_an_increase() -> None:
    rates = [
        Rate(1, "immediate", 100, 50),  # earlier: half overridden
        Rate(2, "immediate", 100, 0),  # latest: none: fewer overrides are no drift
        Rate(1, "routine", 100, 5),
        Rate(2, "routine", 100, 5),  # latest: the same rate
    ]
    checks = {c.name: c for c in dr.override_checks(rates, ALPHA)}
    assert list(checks) == ["tier=immediate", "tier=routine"]
    fewer = checks["tier=immediate"]
    assert (fewer.reference, fewer.current, fewer.n_reference, fewer.n_current) == (
        0.5,
        0.0,
        100,
        100,
    )
    assert fewer.effect == pytest.approx(-0.5)
    assert fewer.p_value == pytest.approx(1.0), "one-sided: is the latest rate higher?"
    assert not fewer.flagged
    assert not checks["tier=routine"].flagged


def test_a_single_referral_of_a_source_is_tested_and_rates_are_shown_rounded() -> None:
    # reference: 3 over 9 days (1/3 a day); current: "a" twice and "z", new, once over 3
    # days. If the rates had not changed, a referral falls in the current window with
    # probability p0 = 3 / (3 + 9) = 1/4, so z's one of one has p-value 1/4 exactly.
    ref = pd.Series(["a", "a", "a"])
    cur = pd.Series(["a", "a", "z"])
    checks = {c.name: c for c in dr.volume_checks(ref, 9.0, cur, 3.0, ALPHA)}
    z = checks["source=z"]
    assert (z.n_reference, z.n_current) == (0, 1)
    assert z.p_value == pytest.approx(0.25)
    assert checks["source=a"].reference == 0.333  # referrals per day, three places


def test_override_rates_are_shown_to_four_places() -> None:
    rates = [Rate(1, "routine", 3, 1), Rate(2, "routine", 3, 2)]
    (check,) = dr.override_checks(rates, ALPHA)
    assert (check.reference, check.current) == (0.3333, 0.6667)
