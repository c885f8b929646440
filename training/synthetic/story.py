"""The generative story, part 1: context and latent state of each referral (vectorised).

Order matters and follows causality: *when* it arrived (drift by date) -> *who* sent it
(source, platform) -> *what* it is (batched, incident type, channel) -> *who* is reported
(suspect, with an offender-risk latent and re-reporting) -> *where* (jurisdiction) ->
whether a child is being abused *now* (the latent ``active``) -> the annotations, the
escalation, the source's own priority and the freshness that ``active`` makes likelier.
Part 2 (``details``) adds victims, files and subject fields; ``oracle`` turns what is
observable into the outcome probabilities.
"""

from __future__ import annotations

from datetime import date
from typing import get_args

import numpy as np

from features.contract import IncidentType, Source
from training.synthetic import population as pop
from training.synthetic import scenarios as sc

Cols = dict[str, np.ndarray]

SOURCES = get_args(Source)  # the contract's order: SOURCE_P follows it
SOURCE_P = np.array([0.80, 0.06, 0.07, 0.025, 0.02, 0.015, 0.007, 0.003])
TYPES = get_args(IncidentType)
# incident-type mix by source group: platforms, public tiplines, police
TYPE_P = {
    "platform": np.array([0.862, 0.006, 0.004, 0.008, 0.008, 0.014, 0.072, 0.026]),
    "tipline": np.array([0.60, 0.02, 0.01, 0.03, 0.03, 0.04, 0.20, 0.07]),
    "police": np.array([0.55, 0.08, 0.05, 0.10, 0.0, 0.0, 0.17, 0.05]),
}
ENTICEMENT, TRAFFICKING = TYPES.index("online_enticement"), TYPES.index("trafficking")
# true jurisdiction by source: Canada / foreign / anonymous proxy (A1)
JUR_P = np.array(
    [
        [0.34, 0.58, 0.08],
        [0.75, 0.20, 0.05],
        [0.85, 0.12, 0.03],
        [0.97, 0.03, 0.0],
        [0.70, 0.30, 0.0],
        [0.97, 0.03, 0.0],
        [0.75, 0.20, 0.05],
        [0.50, 0.45, 0.05],
    ]
)
PROVINCES = ("ON", "QC", "BC", "AB", "MB", "SK", "NS", "NB", "NL", "PE", "YT", "NT", "NU")
PROVINCE_P = np.array(
    [0.39, 0.22, 0.14, 0.12, 0.035, 0.03, 0.026, 0.021, 0.014, 0.004, 0.001, 0.001, 0.001]
)
COUNTRIES = (
    "US",
    "GB",
    "PH",
    "IN",
    "MX",
    "DE",
    "FR",
    "AU",
    "BR",
    "NL",
    "ES",
    "IT",
    "PL",
    "RO",
    "NG",
    "ZA",
    "CO",
    "TH",
    "VN",
    "ID",
    "JP",
    "PK",
)
COUNTRY_P = np.array(
    [
        0.55,
        0.06,
        0.05,
        0.05,
        0.04,
        0.03,
        0.03,
        0.03,
        0.03,
        0.02,
        0.015,
        0.015,
        0.01,
        0.01,
        0.01,
        0.01,
        0.01,
        0.01,
        0.01,
        0.01,
        0.01,
        0.01,
    ]
)
COUNTRY_P = COUNTRY_P / COUNTRY_P.sum()
CA, FOREIGN, PROXY = 0, 1, 2
# source priority codes (NCMEC-style): E emergency, 1 child at risk, 2, 3 informational
PRIORITIES = ("E", "1", "2", "3")
LAG_MEDIAN_DAYS = np.array([12.0, 4.0, 2.0, 20.0, 25.0, 15.0, 6.0, 10.0])  # by source


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def pick(rng: np.random.Generator, p: np.ndarray) -> np.ndarray:
    """One categorical draw per row of ``p`` (rows need not be normalised)."""
    cum = np.cumsum(p, axis=-1)
    u = rng.random(p.shape[:-1]) * cum[..., -1]
    return np.minimum((cum < u[..., None]).sum(axis=-1), p.shape[-1] - 1)


# Arrival rhythm (domain.md §7: ESP reports follow the working week and come in bursts).
# Weekday factors Mon..Sun average 1, so the scenario's volume is kept; hourly weights peak
# in the North American working day (UTC); on BURST_RATE of days a platform's bulk upload
# multiplies that day's volume by 1.5-3.
WEEKDAY_FACTOR = np.array([1.12, 1.12, 1.12, 1.12, 1.12, 0.70, 0.70])
HOUR_WEIGHT = 1.0 + 0.6 * np.sin(2 * np.pi * (np.arange(24) - 11.0) / 24.0)  # peak 17:00 UTC
BURST_RATE, BURST_RANGE = 0.04, (1.5, 3.0)


def times(rng: np.random.Generator, n: int, scenario: sc.Scenario, start: date, days: int) -> Cols:
    """Receipt times (epoch seconds, sorted): the scenario's day-by-day volume times the
    weekly rhythm and random burst days, then an hour of day from the daily rhythm."""
    first = sc.day_number(start)
    weekday = (first + np.arange(days) + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    burst = np.where(rng.random(days) < BURST_RATE, rng.uniform(*BURST_RANGE, days), 1.0)
    w = sc.daily_volume(scenario, start, days) * WEEKDAY_FACTOR[weekday] * burst
    day = np.repeat(np.arange(days), rng.multinomial(n, w / w.sum()))
    hour = rng.choice(24, size=n, p=HOUR_WEIGHT / HOUR_WEIGHT.sum())
    t = (first + day).astype(np.int64) * 86400 + hour * 3600 + rng.integers(0, 3600, n)
    t.sort()
    return {"t": t, "day": t / 86400.0}


def context(rng: np.random.Generator, c: Cols, scenario: sc.Scenario) -> sc.Drift:
    """Source, platform, batching, incident type and channel; returns the drift used."""
    n = len(c["t"])
    world = pop.platforms()
    d = sc.drift(scenario, c["day"])
    src = pick(rng, np.broadcast_to(SOURCE_P, (n, len(SOURCES))))
    # platform weights per month (history changes them slowly), per referral
    month = (c["day"] // 30.4375).astype(np.int64)
    plat = np.full(n, -1, dtype=np.int64)
    for m in np.unique(month):
        rows = np.flatnonzero(month == m)
        mid = np.array([c["day"][rows].mean()])
        w = world.weight.copy()
        w[0] *= 1.0 - 0.6 * sc.drift(scenario, mid).e2ee[0]
        pool = sc.new_platform_weights(scenario, mid, pop.N_POOL, world.pool_share[pop.N_BASE :])
        w[: pop.N_BASE] *= 1.0 - pool.sum() / max(w[: pop.N_BASE].sum(), 1e-9)
        w[pop.N_BASE :] = pool[0]
        ca = np.where(world.canadian, w, 0.0)
        plat[rows] = pick(rng, np.broadcast_to(w, (len(rows), world.n)))
        industry = rows[src[rows] == SOURCES.index("industry")]
        plat[industry] = pick(rng, np.broadcast_to(ca, (len(industry), world.n)))
    # non-platform sources name a platform only sometimes
    keep_p = np.array([1.0, 0.6, 1.0, 0.4, 0.4, 0.4, 0.5, 0.3])[src]
    plat = np.where(rng.random(n) < keep_p, plat, -1)
    has_p = plat >= 0
    rate = {k: np.where(has_p, v[np.maximum(plat, 0)], np.nan) for k, v in world.rates.items()}
    batched = has_p & (rng.random(n) < np.nan_to_num(rate["batched"]))
    group = np.where(src <= 2, 0, 2)
    group = np.where((src == 1) | (src == 6) | (src == 7), 1, group)
    tp = np.stack([TYPE_P["platform"], TYPE_P["tipline"], TYPE_P["police"]])[group].copy()
    tp[:, ENTICEMENT] *= d.enticement
    tp[:, TRAFFICKING] *= d.trafficking
    itype = np.where(batched, 0, pick(rng, tp))
    # channel: the platform's own most of the time, else by incident type
    chan_p = np.tile(np.array([0.30, 0.08, 0.02, 0.25, 0.08, 0.05, 0.04, 0.10, 0.08]), (n, 1))
    chan_p[itype == ENTICEMENT, 3] += 0.6
    chan_p[itype == ENTICEMENT, 4] += 0.2
    chan_p[:, 3] *= d.chat
    chan = pick(rng, chan_p)
    own = has_p & (rng.random(n) < 0.7)
    own_chan = world.channel[np.maximum(plat, 0)]
    own_chan = np.where((own_chan != 3) & (rng.random(n) < (d.chat - 1.0) / 2), 3, own_chan)
    chan = np.where(own, own_chan, chan)
    accounts = 2 + np.floor(rng.pareto(1.2, n) * 20).astype(np.int64)
    c.update(
        source=src,
        platform=plat,
        batched=batched,
        accounts=np.minimum(accounts, 50_000),
        itype=itype,
        channel=chan,
    )
    c.update({f"rate_{k}": v for k, v in rate.items()})
    return d


def suspects(rng: np.random.Generator, c: Cols, days: int) -> pop.Suspects:
    """Who is reported: a suspect per referral (none for batched or subject-less ones)."""
    n = len(c["t"])
    src = c["source"]
    no_subject_p = np.where(np.isin(src, [3, 4, 5, 6]), 0.2, 0.03)
    c["has_subject"] = ~c["batched"] & (rng.random(n) >= no_subject_p)
    s = pop.assign_suspects(rng, c["has_subject"], per_day=n / max(days, 1))
    c["suspect"] = s.of
    c["risk"] = np.where(s.of >= 0, s.risk[np.maximum(s.of, 0)], 0.0)
    c["prior_in_stream"] = s.prior_in_stream
    c["related"] = s.related
    c["suspect_count"] = np.where(s.of >= 0, s.count[np.maximum(s.of, 0)], 0)
    return s


def jurisdiction(rng: np.random.Generator, c: Cols, s: pop.Suspects) -> None:
    """True jurisdiction (kept by a suspect across referrals) and what the report shows."""
    n = len(c["t"])
    jur = pick(rng, JUR_P[c["source"]])
    prov = pick(rng, np.broadcast_to(PROVINCE_P, (n, len(PROVINCES))))
    country = pick(rng, np.broadcast_to(COUNTRY_P, (n, len(COUNTRIES))))
    sus = c["suspect"]
    first = np.where(sus >= 0, s.first[np.maximum(sus, 0)], np.arange(n))
    keep = rng.random(n) < 0.9  # a re-reported suspect is mostly still where it was
    jur = np.where(keep & (jur != PROXY), jur[first], jur)
    prov, country = prov[first], np.where(keep, country[first], country)
    loc_p = np.where(c["platform"] >= 0, c["rate_location"], 0.85)
    c.update(
        jur=jur,
        province=prov,
        country=country,
        loc_seen=rng.random(n) < loc_p,
        loc_verified=rng.random(n) < np.nan_to_num(c["rate_location_verified"], nan=0.5),
    )


def latent(rng: np.random.Generator, c: Cols, d: sc.Drift) -> None:
    """Active abuse now (unobserved), incident annotations, escalation, priority, freshness."""
    n = len(c["t"])
    it = c["itype"]
    type_eff = np.array([0.0, 1.6, 1.0, 1.8, -1.5, -1.5, 1.3, 0.5])[it]
    p_active = sigmoid(-3.6 + 0.8 * c["risk"] + type_eff - 4.0 * c["batched"])
    active = rng.random(n) < p_active
    ent = it == ENTICEMENT
    sext_base = np.array([0.008, 0.01, 0.0, 0.01, 0.0, 0.005, 0.28, 0.06])[it]
    sext = rng.random(n) < np.minimum(sext_base * d.sextortion * (1 + 0.8 * active), 0.95)
    solicit = rng.random(n) < np.array([0.035, 0.05, 0.02, 0.02, 0.0, 0.02, 0.2, 0.1])[it]
    m2m = rng.random(n) < np.where(ent | (it == 7), 0.05, 0.025) * (1 + 1.5 * sext)
    spam = rng.random(n) < np.where(it >= 4, 0.12, 0.012) + 0.04 * c["batched"]
    sadistic = rng.random(n) < 0.002 + 0.02 * active
    eps_u, eps_v = rng.normal(size=n), rng.normal(size=n)
    young = rng.random(n) < np.where(active, 0.55, 0.3)  # the youngest victim is a child < 12
    esc = rng.random(n) < sigmoid(
        -6.4 + 2.6 * active + 1.3 * sext + 0.7 * young + 0.6 * eps_u - 3 * c["batched"]
    )
    lag = np.exp(rng.normal(np.log(LAG_MEDIAN_DAYS[c["source"]]), 1.2, n))
    lag *= np.where(esc, 0.15, 1.0) * np.where(active, 0.6, 1.0) * np.where(sext, 0.5, 1.0)
    lag = np.clip(lag, 0.02, 3 * 365.0)
    level = 1.3 * active + 1.4 * esc + 0.6 * sext + 0.5 * eps_u + rng.normal(0, 0.9, n)
    prio = np.digitize(-level, [-2.9, -1.3, 0.1])  # 0 E, 1 "1", 2 "2", 3 "3"
    has_prio = np.where(c["source"] == 0, 0.95, np.where(c["source"] == 1, 0.5, 0.0))
    prio = np.where(rng.random(n) < has_prio, prio, -1)
    c.update(
        active=active,
        p_active=p_active,
        sext=sext,
        solicit=solicit,
        m2m=m2m,
        spam=spam,
        sadistic=sadistic,
        eps_u=eps_u,
        eps_v=eps_v,
        young=young,
        escalated=esc,
        lag=lag,
        priority=prio,
    )
