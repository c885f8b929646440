"""The generative story, part 4: who the suspect really is and where they really are.

Runs after the oracle, from its own seed child, so it never reshuffles the earlier stages
and never changes a label. It records per referral the ground truth that cases and routes
are measured against (``_truth`` in labelled documents: the suspect, the true country and
province), and adds what makes grouping and routing hard in practice:

* **hidden behind a proxy**: a referral showing only an anonymous proxy (A1) still has a
  true home, drawn once per suspect from the source's Canada/abroad odds;
* **moves between provinces**: some re-reported Canadian suspects move once; from that
  referral on, reports show (and the truth is) the new province;
* **travel abroad**: a few referrals of Canadian suspects show a foreign location (the
  suspect travelled), while the police of jurisdiction stays the Canadian one;
* **generic accounts**: a few referrals name a platform's generic account (the same
  ``noreply`` e-mail for many unrelated suspects), a hub identifier like carrier-NAT IPs.

Suspects already appear on several platforms under partly overlapping identifiers (one
e-mail and device across platforms, a screen name and user id per platform; see
``details.subjects``), and proxy exits and carrier-NAT addresses are shared hub IPs.
"""

from __future__ import annotations

import numpy as np

from training.synthetic.story import CA, COUNTRY_P, FOREIGN, JUR_P, PROVINCE_P, PROXY, Cols, pick

MOVE_P = 0.12  # a re-reported Canadian suspect moves province once, at a random later report
TRAVEL_P = 0.05  # a later report of a Canadian suspect shows where they travelled
GENERIC_P = 0.003  # a report names its platform's generic account besides the suspect's own


def apply(rng: np.random.Generator, c: Cols, first: np.ndarray, count: np.ndarray) -> None:
    """Add ``true_jur``, ``true_province``, ``true_country`` and ``generic`` to ``c``; move
    and send abroad what the reports show (``jur``, ``province``, ``country``)."""
    n = len(c["t"])
    sus = c["suspect"]
    has = sus >= 0
    s = np.maximum(sus, 0)
    origin = np.where(has, first[s] if len(first) else 0, np.arange(n))
    p = JUR_P[c["source"]]
    hidden_ca = rng.random(n) < p[:, CA] / (p[:, CA] + p[:, FOREIGN])
    true_jur = np.where(c["jur"] == PROXY, np.where(hidden_ca[origin], CA, FOREIGN), c["jur"])
    # moves: per suspect, a rank (0-based report number) from which the new province holds
    n_s = len(count)
    moves = (rng.random(n_s) < MOVE_P) & (count > 1)
    move_rank = np.where(moves, 1 + np.floor(rng.random(n_s) * np.maximum(count - 1, 1)), 1 << 40)
    new_prov = pick(rng, np.broadcast_to(PROVINCE_P, (n_s, len(PROVINCE_P))))
    moved = has & (c["prior_in_stream"] >= move_rank[s]) if n_s else np.zeros(n, bool)
    province = np.where(moved, new_prov[s] if n_s else 0, c["province"])
    travel = has & (true_jur == CA) & (c["prior_in_stream"] > 0) & (rng.random(n) < TRAVEL_P)
    abroad = pick(rng, np.broadcast_to(COUNTRY_P, (n, len(COUNTRY_P))))
    c.update(
        true_jur=true_jur,
        true_province=province,
        true_country=c["country"].copy(),
        province=province,
        jur=np.where(travel & (c["jur"] != PROXY), FOREIGN, c["jur"]),
        country=np.where(travel, abroad, c["country"]),
        travelled=travel,
        generic=has & (c["platform"] >= 0) & (rng.random(n) < GENERIC_P),
    )
