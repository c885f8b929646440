"""Point-in-time linking: what was known about a referral's keys *before* it arrived.

Knowledge time is the spine: a referral received at *t* sees sightings of its keys with
time < t and decisions whose ``decided_at`` < t, never anything at or after *t*. So adding
later referrals never changes an earlier row (a property test checks this).

Events (sightings and decisions) and queries are merged in one sort by (key, time,
queries-before-events) and counted with cumulative sums: O(n log n), no pairwise join,
so the cost grows with the history's length, not its square. Before merging, history
events are filtered to the keys the batch asks about (a hash join on pseudonyms).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from features.contract import Outcome, Referral
from features.flatten import link_keys

NS = np.int64
EVENT_COLUMNS = ("family", "key", "t", "seen", "decided", "package", "urgent")
FAMILIES = ("ident", "ip", "group", "platform", "all")
GLOBAL_KEY = "*"


def platform_key(name: str | None) -> str:
    return name.strip().casefold() if name and name.strip() else "(none)"


def _t_ns(values: Sequence[object]) -> np.ndarray:
    return np.array([int(v.timestamp() * 1e9) for v in values], dtype=NS)  # type: ignore[attr-defined]


def events_for(
    referrals: Sequence[Referral], outcomes: Sequence[Outcome | None] | None
) -> pd.DataFrame:
    """Sightings (at receipt) and decisions (at ``decided_at``) of every key of every referral."""
    n = len(referrals)
    t_recv = _t_ns([r.received_at for r in referrals])
    keys = link_keys(referrals)
    keys["platform"] = (
        np.arange(n, dtype=NS),
        [platform_key(r.incident.platform) for r in referrals],
    )
    keys["all"] = (np.arange(n, dtype=NS), [GLOBAL_KEY] * n)
    dec_t = np.full(n, -1, dtype=NS)
    pkg = np.zeros(n, dtype=np.int8)
    urg = np.zeros(n, dtype=np.int8)
    if outcomes is not None:
        for i, o in enumerate(outcomes):
            if o is not None:
                dec_t[i] = int(o.decided_at.timestamp() * 1e9)
                pkg[i] = o.viability == "package"
                urg[i] = o.urgency != "routine"
    frames = []
    for fam, (pos, ks) in keys.items():
        if len(pos) == 0:
            continue
        k = np.asarray(ks, dtype=object)
        frames.append(
            pd.DataFrame(
                {
                    "family": fam,
                    "key": k,
                    "t": t_recv[pos],
                    "seen": 1,
                    "decided": 0,
                    "package": 0,
                    "urgent": 0,
                }
            )
        )
        d = dec_t[pos] >= 0
        if d.any():
            frames.append(
                pd.DataFrame(
                    {
                        "family": fam,
                        "key": k[d],
                        "t": dec_t[pos][d],
                        "seen": 0,
                        "decided": 1,
                        "package": pkg[pos][d],
                        "urgent": urg[pos][d],
                    }
                )
            )
    if not frames:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c in ("family", "key") else NS) for c in EVENT_COLUMNS}
        )
    return pd.concat(frames, ignore_index=True)


@dataclass
class History:
    """Pseudonymised events known to the system before the referrals being scored."""

    chunks: list[pd.DataFrame] = field(default_factory=list)

    @classmethod
    def of(
        cls, referrals: Sequence[Referral], outcomes: Sequence[Outcome | None] | None = None
    ) -> History:
        return cls([events_for(referrals, outcomes)])

    def extend(
        self, referrals: Sequence[Referral], outcomes: Sequence[Outcome | None] | None = None
    ) -> None:
        self.chunks.append(events_for(referrals, outcomes))

    def add_events(self, events: pd.DataFrame) -> None:
        self.chunks.append(events)

    def events(self) -> pd.DataFrame:
        if len(self.chunks) > 1:
            self.chunks = [pd.concat(self.chunks, ignore_index=True)]
        return self.chunks[0] if self.chunks else events_for([], None)

    def __len__(self) -> int:
        return sum(len(c) for c in self.chunks)


def cum_before(
    q_key: np.ndarray, q_t: np.ndarray, e_key: np.ndarray, e_t: np.ndarray, weights: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """For each query (key, t): the sum of event weights with the same key and time < t,
    and the time of the latest such event with a non-zero first weight (or -1).
    """
    nq = len(q_key)
    if nq == 0:
        return np.zeros((0, weights.shape[1]), dtype=np.int64), np.zeros(0, dtype=NS)
    codes, _ = pd.factorize(np.concatenate([q_key, e_key]))
    t = np.concatenate([q_t, e_t])
    is_ev = np.concatenate([np.zeros(nq, np.int8), np.ones(len(e_key), np.int8)])
    order = np.lexsort((is_ev, t, codes))
    c_s = codes[order]
    w = np.zeros((len(order), weights.shape[1]), dtype=np.int64)
    w[nq:] = weights
    w_s = w[order]
    cum = np.cumsum(w_s, axis=0)
    start = np.r_[True, c_s[1:] != c_s[:-1]]
    grp = np.cumsum(start) - 1
    start_idx = np.flatnonzero(start)
    base = cum[start_idx] - w_s[start_idx]
    before = cum - base[grp]
    idx = np.where(w_s[:, 0] > 0, np.arange(len(order)), -1)
    last_idx = np.maximum.accumulate(idx)
    valid = last_idx >= start_idx[grp]
    last_t = np.where(valid, t[order][np.maximum(last_idx, 0)], -1)
    inv = np.empty(len(order), dtype=np.int64)
    inv[order] = np.arange(len(order))
    q_rows = inv[:nq]
    return before[q_rows], last_t[q_rows]


def _per_referral_max(n: int, pos: np.ndarray, values: np.ndarray, empty: float) -> np.ndarray:
    out = np.full(n, -np.inf)
    np.maximum.at(out, pos, values)
    out[np.isneginf(out)] = empty
    return out


def linking_features(
    referrals: Sequence[Referral], batch_events: pd.DataFrame, history: History | None
) -> pd.DataFrame:
    """The ``link_*``, ``ip_*``, ``group_*`` and ``platform_*`` columns, point in time."""
    n = len(referrals)
    t_recv = _t_ns([r.received_at for r in referrals])
    keys = link_keys(referrals)
    keys["platform"] = (
        np.arange(n, dtype=NS),
        [platform_key(r.incident.platform) for r in referrals],
    )
    keys["all"] = (np.arange(n, dtype=NS), [GLOBAL_KEY] * n)
    hist = history.events() if history is not None and len(history) else None
    out: dict[str, np.ndarray] = {}
    day = 86_400 * 10**9
    for fam, (pos, ks) in keys.items():
        qk = np.asarray(ks, dtype=object)
        ev = batch_events[batch_events["family"].values == fam]
        if hist is not None:
            h = hist[hist["family"].values == fam]
            h = h[h["key"].isin(set(ks))] if fam != "all" else h
            ev = pd.concat([h, ev], ignore_index=True)
        w = ev[["seen", "decided", "package", "urgent"]].to_numpy(np.int64)
        ek, et = ev["key"].to_numpy(object), ev["t"].to_numpy(NS)
        qt = t_recv[pos]
        cnt, last = cum_before(qk, qt, ek, et, w)
        if fam == "ident":
            out["link_prior_referrals"] = _per_referral_max(n, pos, cnt[:, 0], 0.0)
            last_t = _per_referral_max(n, pos, np.where(last >= 0, last, -np.inf), np.nan)
            out["link_days_since_last"] = (t_recv - last_t) / day
            out["link_prior_package"] = _per_referral_max(n, pos, cnt[:, 2], 0.0)
            out["link_prior_urgent"] = _per_referral_max(n, pos, cnt[:, 3], 0.0)
        elif fam in ("ip", "group"):
            out[f"{fam}_prior_referrals"] = _per_referral_max(n, pos, cnt[:, 0], 0.0)
        elif fam == "platform":
            cnt90, _ = cum_before(qk, qt - 90 * day, ek, et, w[:, :1])
            out["platform_seen"] = (cnt[:, 0] > 0).astype(float)
            out["platform_recent_volume"] = (cnt[:, 0] - cnt90[:, 0]).astype(float)
            out["_plat_decided"], out["_plat_package"], out["_plat_urgent"] = (
                cnt[:, 1].astype(float),
                cnt[:, 2].astype(float),
                cnt[:, 3].astype(float),
            )
        else:
            out["_all_decided"], out["_all_package"], out["_all_urgent"] = (
                cnt[:, 1].astype(float),
                cnt[:, 2].astype(float),
                cnt[:, 3].astype(float),
            )
    return _smoothed_platform_rates(pd.DataFrame(out))


PRIOR_STRENGTH = 50.0


def _smoothed_platform_rates(df: pd.DataFrame) -> pd.DataFrame:
    """Platform rates shrunk towards the overall rate known at the time (cold start: the
    overall rate itself). ``PRIOR_STRENGTH`` decisions' worth of weight on the prior."""
    all_n = df.pop("_all_decided")
    for name in ("package", "urgent"):
        g = (df.pop(f"_all_{name}") + 1.0) / (all_n + 2.0)
        df[f"platform_{name}_rate"] = (df.pop(f"_plat_{name}") + PRIOR_STRENGTH * g) / (
            df["_plat_decided"] + PRIOR_STRENGTH
        )
    df.pop("_plat_decided")
    return df
