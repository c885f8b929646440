"""The hard world: truth from a latent state, noisy observed proxies, and the exact oracle.

The embedded world's truth is an additive sum of what the features extract, so a logistic
regression on the features nearly matches the oracle. Here the structure of the stream
(arrivals, platforms, suspects, identifiers, files, victims) comes from the embedded
story, and then every field that carries urgency is redrawn from a latent state ``z``
(:mod:`hard_world`): escalation, sextortion, the source's priority code, new material,
the youngest victim's age (or its band, or nothing), three file annotations and the
suspect's flags. Each draw also records its likelihood under all 18 states, so the oracle
is the exact Bayes posterior given what the referral shows, by construction: it can not
drift away from the sampling code. Recorded labels pass through reviewer noise, and the
oracle is P(recorded label | observables). Viability keeps the embedded oracle.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, fields
from datetime import date

import numpy as np

from training.synthetic import details, oracle
from training.synthetic import hard_world as hw
from training.synthetic import scenarios as sc
from training.synthetic.details import FA
from training.synthetic.stream import Simulation, simulate


@dataclass
class HardSimulation(Simulation):
    """A :class:`Simulation` plus the hard world's latent state and untouched truth."""

    state: np.ndarray | None = None  # latent z per referral (0..17)
    true_urgency: np.ndarray | None = None  # class index before reviewer noise
    p_true_urgency: np.ndarray | None = None  # P(true urgency | observables)


def _draw(rng: np.random.Generator, z: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One category per row from ``p[i, z_i]`` (shape (n, 18, K)), and log P(drawn | z) for
    all 18 states: the sample and its contribution to the oracle come from one table."""
    n = len(z)
    row = p[np.arange(n), z]
    x = np.minimum((np.cumsum(row, 1) < rng.random(n)[:, None]).sum(1), p.shape[2] - 1)
    return x, np.log(np.maximum(p[np.arange(n), :, x], 1e-300))


def _bernoulli(p1: np.ndarray) -> np.ndarray:
    return np.stack([1.0 - p1, p1], axis=2)


def _by_state(f: object, n: int) -> np.ndarray:
    """Evaluate ``f(r, a, o)`` (broadcast over rows) for all 18 states: shape (n, 18, ...)."""
    cols = [np.broadcast_to(f(hw.R[z], hw.A[z], hw.O[z]), (n,)) for z in range(hw.N_STATES)]  # type: ignore[operator]
    return np.stack(cols, axis=1)


def _report(rng: np.random.Generator, sim: Simulation, z: np.ndarray) -> np.ndarray:
    """Escalation, sextortion and the source's priority code; returns their log-likelihood."""
    c, n = sim.c, sim.n
    after = c["t"] >= sc.day_number(hw.CHANGE_DATE) * 86400
    liberal = np.isin(c["source"], hw.LIBERAL_SOURCES)
    safe = np.where(liberal, hw.ESC_SAFE_LIBERAL, hw.ESC_SAFE_STRICT)
    safe = safe * np.where(after, hw.ESC_SAFE_AFTER_CHANGE, 1.0)
    p_esc = _by_state(lambda r, a, o: np.where(r, hw.ESC_AT_RISK, safe), n)
    p_esc = np.where(c["batched"][:, None], 0.0, p_esc)
    esc, ll = _draw(rng, z, _bernoulli(p_esc))
    mult = sc.drift(sim.scenario, c["day"]).sextortion * hw.SEXT_BASE[c["itype"]]
    k = np.where(after, hw.SEXT_RISK_AFTER, hw.SEXT_RISK_BEFORE)
    crisis = lambda r, a, o: r & (a == 2) & (o == 2)  # noqa: E731
    p_sext = _by_state(lambda r, a, o: np.minimum(mult * (1 + k * crisis(r, a, o)), 0.95), n)
    sext, ll_s = _draw(rng, z, _bernoulli(p_sext))
    table = np.stack(
        [hw.PRIORITY_AT_RISK if r else hw.PRIORITY_SAFE[o] for r, o in zip(hw.R, hw.O, strict=True)]
    )
    prio, ll_p = _draw(rng, z, np.broadcast_to(table, (n, *table.shape)))
    has_prio = c["priority"] >= 0  # which sources give a code: independent of z
    c.update(
        escalated=esc.astype(bool), sext=sext.astype(bool), priority=np.where(has_prio, prio, -1)
    )
    return ll + ll_s + np.where(has_prio[:, None], ll_p, 0.0)


def _lag_loglik(log_lag: np.ndarray) -> np.ndarray:
    """log density of log(days from incident to receipt) under each state, shape (n, 18)."""

    def comp(median: float, sd: float) -> np.ndarray:
        return -0.5 * ((log_lag - np.log(median)) / sd) ** 2 - np.log(sd)

    at_risk = comp(*hw.LAG_AT_RISK[0])
    w = hw.LAG_SAFE_AUTOMATED
    safe = np.logaddexp(np.log(w) + comp(*hw.LAG_SAFE[0]), np.log1p(-w) + comp(*hw.LAG_SAFE[1]))
    return np.where(hw.R[None] == 1, at_risk[:, None], safe[:, None])


def _lag(rng: np.random.Generator, sim: Simulation, z: np.ndarray) -> np.ndarray:
    """Days from incident to receipt; it counts only where the incident time is shown."""
    c, n = sim.c, sim.n
    auto = rng.random(n) < hw.LAG_SAFE_AUTOMATED
    median = np.where(
        hw.R[z] == 1, hw.LAG_AT_RISK[0][0], np.where(auto, hw.LAG_SAFE[0][0], hw.LAG_SAFE[1][0])
    )
    sd = np.where(
        hw.R[z] == 1, hw.LAG_AT_RISK[0][1], np.where(auto, hw.LAG_SAFE[0][1], hw.LAG_SAFE[1][1])
    )
    log_lag = rng.normal(np.log(median), sd)
    c["lag"] = np.exp(log_lag)  # IP and upload times keep the old, z-independent lag
    return np.where(sim.subjects["occurred_seen"][:, None], _lag_loglik(log_lag), 0.0)


def _files(rng: np.random.Generator, sim: Simulation, z: np.ndarray) -> np.ndarray:
    """New material among hash-checked files and the first file's annotations."""
    c, f, n = sim.c, sim.files, sim.n
    fr = f["f_ref"]
    q = _by_state(lambda r, a, o: np.where(r & (a < 2), hw.NEW_AT_RISK_YOUNG, hw.NEW_OTHER[o]), n)
    q = np.where(c["batched"][:, None], 0.02, q)
    checked = f["f_hash"] != 3
    none = rng.random(len(fr)) < q[fr, z[fr]]
    f["f_hash"] = np.where(
        ~checked, 3, np.where(none, 2, np.where(rng.random(len(fr)) < 0.87, 0, 1))
    )
    n_none = np.bincount(fr, weights=checked & none, minlength=n)[:, None]
    n_chk = np.bincount(fr, weights=checked, minlength=n)[:, None]
    ll = n_none * np.log(q) + (n_chk - n_none) * np.log1p(-q)
    has_files = np.bincount(fr, minlength=n) > 0
    first = np.flatnonzero(np.r_[True, fr[1:] != fr[:-1]]) if len(fr) else np.zeros(0, int)
    ann = f["f_ann"]
    for name, table in (
        ("infant", lambda r, a, o: np.where(a == 0, *hw.INFANT_ANN)),
        ("live_streaming", lambda r, a, o: np.where(r & (o == 2), *hw.LIVE_ANN)),
        ("physical_harm", lambda r, a, o: np.where(r & (a < 2), *hw.HARM_ANN)),
    ):
        x, ll_x = _draw(rng, z, _bernoulli(_by_state(table, n)))
        ann[:, FA[name]] = False
        ann[first, FA[name]] = x[fr[first]].astype(bool)
        ll += np.where(has_files[:, None], ll_x, 0.0)
    return ll


def _victims(rng: np.random.Generator, sim: Simulation, z: np.ndarray) -> np.ndarray:
    """The youngest victim's reported age, or its band, or nothing (missing not at random)."""
    c, v, n = sim.c, sim.victims, sim.n
    vinfo = 0.6 + 0.4 * details.rate(c, "victim_info")
    known = _by_state(
        lambda r, a, o: np.minimum(
            hw.AGE_KNOWN[a] * np.where(r, hw.AGE_KNOWN_AT_RISK, 1.0) * vinfo, 0.98
        ),
        n,
    )
    ages, bands = hw.age_matrix(), hw.band_matrix()
    # shown: 0..17 the youngest victim's age; 18..21 age missing, band shown (21: none)
    k = known[np.arange(n), z][:, None]
    row = np.concatenate([k * ages[hw.A[z]], (1 - k) * bands[hw.A[z]]], axis=1)
    x = np.minimum((np.cumsum(row, 1) < rng.random(n)[:, None]).sum(1), 21)
    shown_age = x < 18
    lik = np.where(
        shown_age[:, None],
        known * ages[hw.A][:, np.minimum(x, 17)].T,
        (1 - known) * bands[hw.A][:, np.maximum(x - 18, 0)].T,
    )
    ll = np.log(np.maximum(lik, 1e-300))
    vr = v["v_ref"]
    pos = np.arange(len(vr)) - np.searchsorted(vr, vr)
    age = np.where(x[vr] < 18, np.minimum(x[vr] + (pos > 0) * rng.integers(0, 4, len(vr)), 17), -1)
    band = np.where(age >= 0, np.digitize(np.maximum(age, 0), [3, 12]), x[vr] - 18)
    v["v_age"], v["v_band"] = age, band
    has_victim = np.bincount(vr, minlength=n) > 0
    return np.where(has_victim[:, None], ll, 0.0)


def _subjects(rng: np.random.Generator, sim: Simulation, z: np.ndarray) -> np.ndarray:
    """Known offender and access to children: reported more often when true, and when at risk."""
    c, s, n = sim.c, sim.subjects, sim.n
    police = np.isin(c["source"], [3, 4, 5])
    fr = np.where(police, 0.8, details.rate(c, "flags"))
    ll = np.zeros((n, hw.N_STATES))
    rep_k = fr * 0.6
    t_k = _by_state(lambda r, a, o: hw.KNOWN_TRUE[o] + 0 * fr, n)
    rep_a = _by_state(
        lambda r, a, o: np.minimum(fr * 0.5 * np.where(r, hw.ACCESS_REPORTED_AT_RISK, 1.0), 0.95), n
    )
    t_a = _by_state(
        lambda r, a, o: np.where(r, hw.ACCESS_TRUE_AT_RISK, hw.ACCESS_TRUE_SAFE[o]) + 0 * fr, n
    )
    for col, rep, t in (("known_offender", rep_k[:, None], t_k), ("access", rep_a, t_a)):
        p_true, p_false = rep * t, rep * (1 - t) * hw.FALSE_REPORTED
        x, ll_x = _draw(rng, z, np.stack([1 - p_true - p_false, p_false, p_true], axis=2))
        s[col] = np.where(c["has_subject"], x - 1, -1)  # -1 missing, 0 false, 1 true
        ll += np.where(c["has_subject"][:, None], ll_x, 0.0)
    return ll


def simulate_hard(
    n: int, seed: int, start: date, days: int, scenario: str = "baseline"
) -> HardSimulation:
    """The hard world's stream of ``n`` referrals (same arguments, same stream)."""
    sim = simulate(n, seed, start, days, scenario)
    ss = np.random.SeedSequence(
        [int(seed), zlib.crc32(b"hard"), start.toordinal(), int(days), int(n)]
    )
    r = [np.random.default_rng(x) for x in ss.spawn(9)]
    c = sim.c
    # more referrals name a victim than in the embedded world (the age path needs ages);
    # drawn before anything depends on z, from fields independent of it
    sim.victims = details.victims(r[6], {**c, "active": np.ones(n, dtype=bool)})
    link = oracle.linked_prior(c, sim.subjects)
    log_prior = hw.log_prior(c["itype"], c["batched"], link)
    prior = np.exp(log_prior - np.logaddexp.reduce(log_prior, axis=1, keepdims=True))
    z = np.minimum((np.cumsum(prior, 1) < r[0].random(n)[:, None]).sum(1), hw.N_STATES - 1)
    ll = _report(r[1], sim, z) + _files(r[2], sim, z) + _victims(r[3], sim, z)
    ll += _subjects(r[4], sim, z) + _lag(r[7], sim, z)
    logpost = log_prior + ll
    post = np.exp(logpost - np.logaddexp.reduce(logpost, axis=1, keepdims=True))
    truth = hw.truth_table()
    p_true = post @ truth
    p_rec = p_true @ hw.LABEL_NOISE
    true_u = oracle.sample(r[5], truth[z])
    rec_u = oracle.sample(r[5], hw.LABEL_NOISE[true_u])
    o = oracle.observables(c, sim.victims, sim.files, sim.subjects)
    _, via, _, _ = oracle.logits(c, o, sim.subjects)
    pv = oracle.softmax(via)
    lag_s = np.round(oracle.decision_lag_hours(r[8], rec_u) * 3600).astype(np.int64)
    base = {f.name: getattr(sim, f.name) for f in fields(Simulation)}
    base.update(
        obs=o,
        p_urgency=p_rec,
        p_viability=pv,
        urgency=rec_u,
        viability=oracle.sample(r[8], pv),
        decided_after_s=lag_s,
        observed_logit=np.log(np.maximum(p_rec[:, 0], 1e-300) / np.maximum(p_rec[:, 2], 1e-300)),
        world="hard",
    )
    return HardSimulation(**base, state=z, true_urgency=true_u, p_true_urgency=p_true)
