"""Run the generative story end to end as arrays (no documents yet).

Each stage draws from its own child of one ``SeedSequence`` built from every argument, so
the same arguments always give the same stream, and changing one stage's sampling does
not reshuffle the others.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date

import numpy as np

from training.synthetic import details, oracle, story, truth
from training.synthetic import scenarios as sc
from training.synthetic.story import Cols


@dataclass
class Simulation:
    """All arrays of one stream: referral columns, victims, files, subjects, observables."""

    n: int
    seed: int
    start: date
    scenario: sc.Scenario
    c: Cols
    victims: Cols
    files: Cols
    subjects: Cols
    obs: Cols
    p_urgency: np.ndarray  # (n, 3): immediate, high, routine
    p_viability: np.ndarray  # (n, 3): package, lead, unactionable
    urgency: np.ndarray  # sampled class index
    viability: np.ndarray
    decided_after_s: np.ndarray  # seconds from receipt to decision
    observed_logit: np.ndarray  # immediate logit without the hidden term (for tests)
    rng_doc: np.random.Generator  # cosmetic choices when writing documents (offsets, cities)
    world: str = "embedded"  # which generative story made it (training.synthetic.WORLDS)


def simulate(n: int, seed: int, start: date, days: int, scenario: str = "baseline") -> Simulation:
    """Sample every latent and observable array of a stream of ``n`` referrals."""
    if scenario not in sc.SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(sc.SCENARIOS)}")
    if n < 0 or days < 1:
        raise ValueError("n must be >= 0 and days >= 1")
    scen = sc.SCENARIOS[scenario]
    ss = np.random.SeedSequence(
        [int(seed), zlib.crc32(scenario.encode()), start.toordinal(), int(days), int(n)]
    )
    r = [np.random.default_rng(x) for x in ss.spawn(11)]  # child k is the same for any count
    c = story.times(r[0], n, scen, start, days)
    d = story.context(r[1], c, scen)
    s_pop = story.suspects(r[2], c, days)
    story.jurisdiction(r[3], c, s_pop)
    story.latent(r[4], c, d)
    v = details.victims(r[5], c)
    f = details.files(r[6], c, v, d.genai, d.e2ee)
    s = details.subjects(r[7], c)
    o = oracle.observables(c, v, f, s)
    urg, via, observed, _ = oracle.logits(c, o, s)
    pu, pv = oracle.softmax(urg), oracle.softmax(via)
    rng = r[8]
    u_cls, v_cls = oracle.sample(rng, pu), oracle.sample(rng, pv)
    lag_s = np.round(oracle.decision_lag_hours(rng, u_cls) * 3600).astype(np.int64)
    truth.apply(r[10], c, s_pop.first, s_pop.count)  # after the oracle: labels unchanged
    return Simulation(
        n=n,
        seed=seed,
        start=start,
        scenario=scen,
        c=c,
        victims=v,
        files=f,
        subjects=s,
        obs=o,
        p_urgency=pu,
        p_viability=pv,
        urgency=u_cls,
        viability=v_cls,
        decided_after_s=lag_s,
        observed_logit=observed,
        rng_doc=r[9],
    )
