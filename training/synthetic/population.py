"""Who reports and who is reported: the platform population and the suspects.

Platforms are a fixed fictional world (same for every seed) so that a model trained on
one seed's history meets the same platforms in another seed's test stream. Each platform
has its own completeness profile, because in the real stream *which fields are missing*
depends mostly on who reported (domain.md §2). Suspects are drawn per stream: a share of
referrals re-reports an earlier suspect (preferential attachment, so heavy-tailed), and
riskier suspects are re-reported more often.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

N_BASE = 45  # platforms active in the baseline stream
N_POOL = 30  # never-seen platforms that drift switches on
WORLD_SEED = 20190101  # the platform world is the same for every stream seed
LARGEST_SHARE = 0.32  # the largest platform's share (the e2ee scenario thins it)

_PREFIXES = (
    "Example",
    "Sample",
    "Demo",
    "Mock",
    "Fictio",
    "Placeholder",
    "Dummy",
    "Pretend",
    "Imaginary",
    "Synthetic",
    "Notreal",
    "Testbed",
    "Madeup",
    "Faux",
    "Lorem",
)
_SUFFIXES = (
    ("Chat", "chat"),
    ("Gram", "web"),
    ("Tube", "web"),
    ("Cloud", "web"),
    ("Share", "p2p"),
    ("Play", "gaming"),
    ("Mail", "email"),
    ("Talk", "chat"),
    ("Space", "web"),
    ("Hub", "web"),
    ("Link", "web"),
    ("Board", "newsgroup"),
    ("Call", "phone"),
)
CHANNELS = ("web", "email", "newsgroup", "chat", "gaming", "phone", "offline", "p2p", "unknown")
# the UTC offsets producers write (index into OFFSETS); mixed on purpose
OFFSETS = ("Z", "+00:00", "-05:00", "-04:00", "-08:00", "-07:00", "-06:00", "+01:00", "+05:30")
OFFSET_SECONDS = np.array([0, 0, -5, -4, -8, -7, -6, 1, 5.5]) * 3600


@dataclass(frozen=True)
class Platforms:
    """Column arrays over all platforms (baseline first, then the never-seen pool)."""

    names: tuple[str, ...]
    slugs: tuple[str, ...]
    weight: np.ndarray  # baseline share (0 for pool platforms)
    pool_share: np.ndarray  # share a pool platform reaches once switched on
    canadian: np.ndarray  # reports to the centre directly as Canadian industry
    channel: np.ndarray  # index into CHANNELS: the platform's main channel
    rates: dict[str, np.ndarray]  # per-platform probabilities (see _RATES)
    ip_mean: np.ndarray  # mean IP capture events per subject when captured
    style: np.ndarray  # 0 explicit nulls, 1 omit nulls, 2 omit nulls and defaults
    offset: np.ndarray  # index into OFFSETS used for the platform's own timestamps

    @property
    def n(self) -> int:
        return len(self.names)


# per-platform rate: Beta(a, b) parameters -> mean a / (a + b)
_RATES: dict[str, tuple[float, float]] = {
    "email": (3, 2),
    "email_verified": (2, 2),
    "phone": (1, 4),
    "screen_name": (3, 2),
    "display_name": (2, 3),
    "esp_user_id": (5, 1.5),
    "profile_url": (1.5, 3),
    "device_id": (1, 5),
    "ip": (3, 1.5),
    "ip_time": (4, 1),
    "hash": (5, 1.2),
    "viewed": (2, 2),
    "viewed_null": (1, 3),
    "location": (4, 1.5),
    "location_verified": (1.5, 3),
    "bsi": (1, 9),
    "classification": (2, 2),
    "batched": (1, 30),
    "prior": (1, 2.5),
    "occurred": (5, 1),
    "upload_time": (2, 2),
    "victim_info": (3, 2),
    "public": (1, 3),
    "subject_age": (1, 3),
    "flags": (1, 3),
}


@lru_cache(maxsize=1)
def platforms() -> Platforms:
    """The fictional platform world (deterministic, built on first use)."""
    rng = np.random.default_rng(WORLD_SEED)
    n = N_BASE + N_POOL
    combos = [(p, s) for p in _PREFIXES for s in _SUFFIXES]
    pick = rng.choice(len(combos), size=n, replace=False)
    names = tuple(combos[i][0] + combos[i][1][0] for i in pick)
    channel = np.array([CHANNELS.index(combos[i][1][1]) for i in pick])
    zipf = (np.arange(N_BASE) + 1.0) ** -1.1
    zipf[1:] *= (1 - LARGEST_SHARE) / zipf[1:].sum()
    zipf[0] = LARGEST_SHARE
    weight = np.concatenate([zipf, np.zeros(N_POOL)])
    pool_share = np.concatenate(
        [np.zeros(N_BASE), np.minimum(rng.pareto(1.5, N_POOL) * 0.004, 0.04) + 0.002]
    )
    canadian = np.zeros(n, dtype=bool)
    canadian[[5, 9, 14, 20, 27, 33, 39, N_BASE + 2, N_BASE + 7, N_BASE + 16]] = True
    rates = {k: rng.beta(a, b, n) for k, (a, b) in _RATES.items()}
    rates["hash"][0] = 0.97  # the largest platform hash-matches nearly everything (pre-e2ee)
    rates["batched"][:3] = (0.05, 0.08, 0.06)  # viral memes circulate on the big platforms
    rates["bsi"][canadian] = np.clip(rates["bsi"][canadian] * 4 + 0.15, 0, 0.8)
    return Platforms(
        names=names,
        slugs=tuple(x.lower() for x in names),
        weight=weight,
        pool_share=pool_share,
        canadian=canadian,
        channel=channel,
        rates=rates,
        ip_mean=1.0 + rng.gamma(2.0, 0.8, n),
        style=rng.choice(3, size=n, p=[0.4, 0.35, 0.25]),
        offset=rng.choice(
            len(OFFSETS), size=n, p=[0.3, 0.15, 0.15, 0.1, 0.12, 0.06, 0.06, 0.03, 0.03]
        ),
    )


# --- suspects ------------------------------------------------------------------------------


@dataclass
class Suspects:
    """Suspect per referral (-1 = none) and per-suspect latent arrays."""

    of: np.ndarray  # suspect index per referral, -1 when the referral names no suspect
    risk: np.ndarray  # offender-risk latent per suspect
    first: np.ndarray  # referral index where each suspect first appears
    count: np.ndarray  # referrals per suspect in this stream
    prior_in_stream: np.ndarray  # earlier referrals of the same suspect in this stream
    related: np.ndarray  # the referral re-reports a suspect seen earlier in the stream


def assign_suspects(
    rng: np.random.Generator, eligible: np.ndarray, per_day: float, try_rate: float = 0.55
) -> Suspects:
    """Give each eligible referral (in time order) a new or an earlier suspect.

    A referral tries to re-report with probability ``try_rate``: it picks an earlier referral a
    few weeks back (recency-weighted) and takes its suspect if that suspect's risk lets it
    re-offend. Picking by referral, not by suspect, is preferential attachment: suspects
    with many referrals gather more (a heavy tail). The accept step makes repeats riskier.
    """
    n = len(eligible)
    back = 1 + np.floor(rng.exponential(max(per_day, 1.0) * 45.0, n)).astype(np.int64)
    target = np.arange(n) - back
    want = (rng.random(n) < try_rate) & eligible
    accept_u = rng.random(n)
    base_risk = rng.normal(0.0, 1.0, n)  # risk of a suspect created at this referral
    of = np.full(n, -1, dtype=np.int64)
    prior = np.zeros(n, dtype=np.int64)
    count: list[int] = []
    risk: list[float] = []
    creator: list[int] = []
    # a suspect re-offends (is re-reported) with a probability rising with its risk
    thresh = 1.0 / (1.0 + np.exp(-(0.1 + 1.2 * base_risk)))
    for i in range(n):
        if not eligible[i]:
            continue
        j = target[i]
        if want[i] and j >= 0 and of[j] >= 0:
            s = of[j]
            if accept_u[i] < thresh[creator[s]]:
                of[i] = s
                prior[i] = count[s]
                count[s] += 1
                continue
        of[i] = len(count)
        count.append(1)
        risk.append(float(base_risk[i]))
        creator.append(i)
    return Suspects(
        of=of,
        risk=np.asarray(risk, dtype=float),
        first=np.asarray(creator, dtype=np.int64),
        count=np.asarray(count, dtype=np.int64),
        prior_in_stream=prior,
        related=prior > 0,
    )
