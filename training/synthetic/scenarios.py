"""Drift scenarios: how the referral stream changes, as multipliers over time.

Every scenario is a set of multipliers applied to the baseline's distributions, so the
same generator serves training (``history``: the real timeline, applied by date) and drift
tests (one shift at a time, all over the window). The multipliers are deliberately large
enough that a drift monitor comparing a scenario window with a baseline window can find
them in the columns named in each description. Sources are in ``shared/domain.md`` §4.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

BASELINE_PER_YEAR = 100_000  # 2019: "just over 100,000 referrals" (domain.md §1)
EPOCH = date(1970, 1, 1)


@dataclass(frozen=True)
class Scenario:
    """A named drift; the constants apply all over the window (except ``history``)."""

    name: str
    description: str
    volume: float = 1.0  # referral volume relative to baseline
    enticement: float = 1.0  # weight of the online_enticement incident type
    trafficking: float = 1.0  # weight of the trafficking incident type
    chat: float = 1.0  # weight of the chat channel
    sextortion: float = 1.0  # probability of the sextortion annotation
    genai: float = 1.0  # probability of the generative_ai file annotation
    e2ee: float = 0.0  # 1 = the largest platform encrypts by default (hash detection lost)
    new_platforms: int = 0  # never-seen platforms switched on
    new_platform_share: float = 0.0  # their combined share of platform referrals


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("baseline", "no drift: the 2019 stream"),
        Scenario(
            "covid_surge",
            "volume +36%; more online_enticement (incident.type) and chat (incident.channel)",
            volume=1.36,
            enticement=1.6,
            chat=1.35,
        ),
        Scenario(
            "e2ee",
            "largest platform encrypts: its share (incident.platform) and hash-detected files "
            "(files.hash_match) drop sharply; volume -19%",
            volume=0.81,
            e2ee=1.0,
        ),
        Scenario(
            "report_act",
            "REPORT Act: step up in online_enticement and trafficking (incident.type)",
            enticement=1.8,
            trafficking=6.0,
        ),
        Scenario(
            "sextortion_wave",
            "financial sextortion wave: incident.annotations 'sextortion' about 3.5x",
            sextortion=3.5,
            enticement=1.3,
        ),
        Scenario(
            "genai_spike",
            "generative-AI spike: files.annotations 'generative_ai' about 40x",
            genai=40.0,
        ),
        Scenario(
            "new_platform",
            "six never-seen platforms (incident.platform) take ~25% of platform referrals",
            new_platforms=6,
            new_platform_share=0.25,
        ),
        Scenario(
            "history",
            "the real timeline by date: covid Mar-May 2020, e2ee from Dec 2023, REPORT Act "
            "from May 2024, sextortion growth 2022-2025, generative AI 2025, new platforms "
            "every year",
        ),
    )
}

# --- the real timeline (history) --------------------------------------------------------

COVID = (date(2020, 3, 1), date(2020, 6, 1))
E2EE_FROM = date(2023, 12, 6)
REPORT_ACT_FROM = date(2024, 5, 7)
GROWTH_PER_YEAR = 1.037  # 100k (2019) -> 118k (FY2023-24)
# (date, multiplier) knots, linear in between and flat outside
SEXTORTION_KNOTS = (
    (date(2019, 1, 1), 1.0),
    (date(2021, 12, 31), 1.2),
    (date(2022, 12, 31), 1.7),
    (date(2023, 12, 31), 3.0),
    (date(2024, 12, 31), 3.6),
    (date(2025, 12, 31), 4.5),
)
GENAI_KNOTS = (
    (date(2023, 6, 30), 1.0),
    (date(2024, 6, 30), 2.0),
    (date(2025, 1, 31), 12.0),
    (date(2025, 6, 30), 40.0),
    (date(2025, 12, 31), 50.0),
)
NEW_PLATFORMS_PER_YEAR = 3
NEW_PLATFORMS_FIRST_YEAR = 2020
NEW_PLATFORM_RAMP_DAYS = 180.0


def day_number(d: date) -> int:
    """Days since 1970-01-01: the time axis all arrays here use."""
    return (d - EPOCH).days


def _knots(days: np.ndarray, knots: tuple[tuple[date, float], ...]) -> np.ndarray:
    xs = np.array([day_number(d) for d, _ in knots], dtype=float)
    ys = np.array([v for _, v in knots], dtype=float)
    return np.interp(days, xs, ys)


def _between(days: np.ndarray, lo: date, hi: date | None = None) -> np.ndarray:
    on = days >= day_number(lo)
    if hi is not None:
        on &= days < day_number(hi)
    return on


@dataclass
class Drift:
    """Per-referral (or per-day) multipliers; arrays aligned with the days they were built on."""

    volume: np.ndarray
    enticement: np.ndarray
    trafficking: np.ndarray
    chat: np.ndarray
    sextortion: np.ndarray
    genai: np.ndarray
    e2ee: np.ndarray


def drift(scenario: Scenario, days: np.ndarray) -> Drift:
    """Multipliers at each day number in ``days`` (floats allowed)."""
    days = np.asarray(days, dtype=float)
    one = np.ones_like(days)
    if scenario.name != "history":
        s = scenario
        return Drift(
            volume=one * s.volume,
            enticement=one * s.enticement,
            trafficking=one * s.trafficking,
            chat=one * s.chat,
            sextortion=one * s.sextortion,
            genai=one * s.genai,
            e2ee=one * s.e2ee,
        )
    years = (days - day_number(date(2019, 1, 1))) / 365.25
    covid = _between(days, *COVID)
    covid_tail = _between(days, COVID[1], date(2021, 1, 1))
    e2ee = _between(days, E2EE_FROM).astype(float)
    act = _between(days, REPORT_ACT_FROM)
    volume = GROWTH_PER_YEAR ** np.maximum(years, 0.0)
    volume *= np.where(covid, 1.36, np.where(covid_tail, 1.12, 1.0)) * np.where(e2ee > 0, 0.81, 1)
    return Drift(
        volume=volume,
        enticement=np.where(covid, 1.6, 1.0) * np.where(act, 1.8, 1.0),
        trafficking=np.where(act, 6.0, 1.0),
        chat=np.where(covid, 1.35, 1.0),
        sextortion=_knots(days, SEXTORTION_KNOTS),
        genai=_knots(days, GENAI_KNOTS),
        e2ee=e2ee,
    )


def new_platform_weights(
    scenario: Scenario, days: np.ndarray, n_pool: int, pool_shares: np.ndarray
) -> np.ndarray:
    """Share of platform referrals taken by each pool (never-seen) platform, per day.

    ``history`` switches on ``NEW_PLATFORMS_PER_YEAR`` pool platforms a year from 2020,
    each ramping up to its own share over half a year (cold start). The ``new_platform``
    scenario uses the *last* pool platforms, which ``history`` never reaches, so they are
    unseen by any model trained on the history stream.
    """
    days = np.asarray(days, dtype=float)
    out = np.zeros((len(days), n_pool))
    if scenario.name == "history":
        for k in range(n_pool - 8):  # the last 8 stay reserved for the new_platform scenario
            year = NEW_PLATFORMS_FIRST_YEAR + k // NEW_PLATFORMS_PER_YEAR
            start = day_number(date(year, 1 + 4 * (k % NEW_PLATFORMS_PER_YEAR), 15))
            ramp = np.clip((days - start) / NEW_PLATFORM_RAMP_DAYS, 0.0, 1.0)
            out[:, k] = ramp * pool_shares[k]
    elif scenario.new_platforms:
        ks = np.arange(n_pool - scenario.new_platforms, n_pool)
        w = pool_shares[ks] / pool_shares[ks].sum() * scenario.new_platform_share
        out[:, ks] = w
    return out


def daily_volume(scenario: Scenario, start: date, days: int) -> np.ndarray:
    """Relative volume of each day of the window (baseline day = 1)."""
    d = day_number(start) + np.arange(days, dtype=float)
    return drift(scenario, d).volume


def default_n(scenario: Scenario, start: date, days: int) -> int:
    """Referrals in the window at ~100k a year times the scenario's volume multipliers."""
    return int(round(daily_volume(scenario, start, days).sum() * BASELINE_PER_YEAR / 365.25))
