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

import numpy as np
import pandas as pd

from features.contract import Outcome, Referral
from features.flatten import link_keys

NS = np.int64
EVENT_COLUMNS = ("family", "key", "t", "seen", "decided", "package", "urgent")
WEIGHTS = ("seen", "decided", "package", "urgent")
FAMILIES = ("ident", "ip", "group", "platform", "all")
GLOBAL_KEY = "*"
PLATFORM_WINDOW_NS = 90 * 86_400 * 10**9  # platform_recent_volume looks this far back


def platform_key(name: str | None) -> str:
    return name.strip().casefold() if name and name.strip() else "(none)"


def _t_ns(values: Sequence[object]) -> np.ndarray:
    return np.array([int(v.timestamp() * 1e9) for v in values], dtype=NS)  # type: ignore[attr-defined]


def family_keys(referrals: Sequence[Referral]) -> dict[str, tuple[np.ndarray, list[str]]]:
    """Per family, (referral positions, keys): identifiers, IPs, groups, the reporting
    platform and the one global key that counts everything."""
    n = len(referrals)
    keys = link_keys(referrals)
    keys["platform"] = (
        np.arange(n, dtype=NS),
        [platform_key(r.incident.platform) for r in referrals],
    )
    keys["all"] = (np.arange(n, dtype=NS), [GLOBAL_KEY] * n)
    return keys


def events_for(
    referrals: Sequence[Referral], outcomes: Sequence[Outcome | None] | None
) -> pd.DataFrame:
    """Sightings (at receipt) and decisions (at ``decided_at``) of every key of every referral."""
    n = len(referrals)
    t_recv = _t_ns([r.received_at for r in referrals])
    keys = family_keys(referrals)
    dec_t = np.full(n, -1, dtype=NS)
    pkg = np.zeros(n, dtype=np.int64)
    urg = np.zeros(n, dtype=np.int64)
    if outcomes is not None:
        for i, o in enumerate(outcomes):
            if o is not None:
                dec_t[i] = int(o.decided_at.timestamp() * 1e9)
                pkg[i] = o.viability == "package"
                urg[i] = o.urgency != "routine"
    fams: list[np.ndarray] = []
    cols: dict[str, list[np.ndarray]] = {"key": [], "t": [], "w": []}
    for fam, (pos, ks) in keys.items():
        if len(pos) == 0:
            continue
        k = np.asarray(ks, dtype=object)
        w = np.zeros((len(pos), len(WEIGHTS)), dtype=np.int64)
        w[:, 0] = 1
        fams.append(np.full(len(pos), fam, dtype=object))
        cols["key"].append(k)
        cols["t"].append(t_recv[pos])
        cols["w"].append(w)
        d = dec_t[pos] >= 0
        if d.any():
            w = np.zeros((int(d.sum()), len(WEIGHTS)), dtype=np.int64)
            w[:, 1], w[:, 2], w[:, 3] = 1, pkg[pos][d], urg[pos][d]
            fams.append(np.full(len(w), fam, dtype=object))
            cols["key"].append(k[d])
            cols["t"].append(dec_t[pos][d])
            cols["w"].append(w)
    if not fams:
        return pd.DataFrame(
            {c: pd.Series(dtype=object if c in ("family", "key") else NS) for c in EVENT_COLUMNS}
        )
    w = np.concatenate(cols["w"])
    return pd.DataFrame(
        {
            "family": np.concatenate(fams),
            "key": np.concatenate(cols["key"]),
            "t": np.concatenate(cols["t"]),
            **{name: w[:, j] for j, name in enumerate(WEIGHTS)},
        }
    )


class _Index:
    """One family's consolidated events, sorted by (key, time), with prefix sums of the
    weights and, per event, the latest sighting time up to and including it (per key).
    ``count_before`` is a hash lookup of the key then a binary search on time."""

    def __init__(self, ev: pd.DataFrame) -> None:
        codes, uniq = pd.factorize(ev["key"].to_numpy(object), sort=False)
        t = ev["t"].to_numpy(NS)
        order = np.lexsort((t, codes))
        self.t = t[order]
        c = codes[order]
        w = ev[list(WEIGHTS)].to_numpy(np.int64)[order]
        self.cum = np.vstack([np.zeros((1, w.shape[1]), np.int64), np.cumsum(w, axis=0)])
        starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
        ends = np.r_[starts[1:], len(c)]
        self.slices = {uniq[c[s]]: (int(s), int(e)) for s, e in zip(starts, ends, strict=True)}
        grp_start = np.repeat(starts, ends - starts)
        idx = np.where(w[:, 0] > 0, np.arange(len(c)), -1)
        last = np.maximum.accumulate(idx)
        self.last_seen = np.where(last >= grp_start, self.t[np.maximum(last, 0)], -1)

    def count_before(self, keys: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cnt = np.zeros((len(keys), self.cum.shape[1]), np.int64)
        last = np.full(len(keys), -1, dtype=NS)
        get = self.slices.get
        for i, (k, q) in enumerate(zip(keys, t, strict=True)):
            sl = get(k)
            if sl is None:
                continue
            s, e = sl
            j = s + int(np.searchsorted(self.t[s:e], q, side="left"))
            if j > s:
                cnt[i] = self.cum[j] - self.cum[s]
                last[i] = self.last_seen[j - 1]
        return cnt, last


BUFFER_LIMIT = 20_000


class History:
    """Pseudonymised events known to the system before the referrals being scored.

    Built for a service that scores one referral at a time against years of history:
    events live in per-family indexes (see ``_Index``) plus a small append buffer that is
    folded into the indexes when it grows past ``BUFFER_LIMIT`` events, so a lookup costs
    a few hash probes and binary searches, not a scan of the history.
    """

    def __init__(self, buffer_limit: int = BUFFER_LIMIT) -> None:
        self.buffer_limit = buffer_limit
        self._index: dict[str, _Index] = {}
        self._base: list[pd.DataFrame] = []
        self._buffer: list[pd.DataFrame] = []
        self._by_key: dict[tuple[str, str], list[tuple[int, int, int, int, int]]] = {}
        self._n_buffer = 0
        self._n = 0

    @classmethod
    def of(
        cls,
        referrals: Sequence[Referral],
        outcomes: Sequence[Outcome | None] | None = None,
        buffer_limit: int = BUFFER_LIMIT,
    ) -> History:
        h = cls(buffer_limit)
        h.add_events(events_for(referrals, outcomes))
        return h

    def extend(
        self, referrals: Sequence[Referral], outcomes: Sequence[Outcome | None] | None = None
    ) -> None:
        self.add_events(events_for(referrals, outcomes))

    def add_events(self, events: pd.DataFrame) -> None:
        if len(events) == 0:
            return
        self._buffer.append(events)
        self._n_buffer += len(events)
        self._n += len(events)
        if self._n_buffer > self.buffer_limit:
            self._consolidate()
            return
        rows = zip(
            events["family"].to_numpy(object),
            events["key"].to_numpy(object),
            events["t"].to_numpy(NS).tolist(),
            *(events[c].to_numpy(np.int64).tolist() for c in WEIGHTS),
            strict=True,
        )
        for fam, key, t, *w in rows:
            self._by_key.setdefault((fam, key), []).append((t, *w))

    def _consolidate(self) -> None:
        self._base = [self.events()]
        self._buffer, self._n_buffer, self._by_key = [], 0, {}
        base = self._base[0]
        fam = base["family"].to_numpy(object)
        self._index = {f: _Index(base[fam == f]) for f in FAMILIES if (fam == f).any()}

    def events(self) -> pd.DataFrame:
        """Every event held (for saving); the order carries no meaning."""
        parts = self._base + self._buffer
        if not parts:
            return events_for([], None)
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    def count_before(
        self, family: str, keys: np.ndarray, t: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per query (key, t): summed weights of this family's events with the key and
        time < t, and the latest sighting time before t (-1 if none)."""
        idx = self._index.get(family)
        if idx is not None:
            cnt, last = idx.count_before(keys, t)
        else:
            cnt = np.zeros((len(keys), len(WEIGHTS)), np.int64)
            last = np.full(len(keys), -1, dtype=NS)
        if self._by_key:
            found = [(k, e) for k in set(keys.tolist()) for e in self._by_key.get((family, k), ())]
            if found:
                ev = np.array([e for _, e in found], dtype=np.int64)
                bc, bl = cum_before(
                    keys, t, np.array([k for k, _ in found], dtype=object), ev[:, 0], ev[:, 1:]
                )
                cnt, last = cnt + bc, np.maximum(last, bl)
        return cnt, last

    def __len__(self) -> int:
        return self._n


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


def _before(
    fam: str,
    qk: np.ndarray,
    qt: np.ndarray,
    ek: np.ndarray,
    et: np.ndarray,
    w: np.ndarray,
    hist: History | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Counts before each query time from the batch's own events plus the history's.
    When no batch event precedes any query (one referral being scored), the batch's part
    is zero without the sort."""
    if len(et) == 0 or len(qt) == 0 or et.min() >= qt.max():
        cnt = np.zeros((len(qk), len(WEIGHTS)), dtype=np.int64)
        last = np.full(len(qk), -1, dtype=NS)
    else:
        cnt, last = cum_before(qk, qt, ek, et, w)
    if hist is not None:
        hc, hl = hist.count_before(fam, qk, qt)
        cnt, last = cnt + hc, np.maximum(last, hl)
    return cnt, last


def _per_referral_max(n: int, pos: np.ndarray, values: np.ndarray, empty: float) -> np.ndarray:
    out = np.full(n, -np.inf)
    np.maximum.at(out, pos, values)
    out[np.isneginf(out)] = empty
    return out


def linking_features(
    referrals: Sequence[Referral], batch_events: pd.DataFrame, history: History | None
) -> dict[str, np.ndarray]:
    """The ``link_*``, ``ip_*``, ``group_*`` and ``platform_*`` columns, point in time."""
    n = len(referrals)
    t_recv = _t_ns([r.received_at for r in referrals])
    keys = family_keys(referrals)
    hist = history if history is not None and len(history) else None
    out: dict[str, np.ndarray] = {}
    day = 86_400 * 10**9
    fam_col = batch_events["family"].to_numpy(object)
    key_col, t_col = batch_events["key"].to_numpy(object), batch_events["t"].to_numpy(NS)
    w_col = np.column_stack([batch_events[c].to_numpy(np.int64) for c in WEIGHTS])
    for fam, (pos, ks) in keys.items():
        qk = np.asarray(ks, dtype=object)
        m = fam_col == fam
        w, ek, et = w_col[m], key_col[m], t_col[m]
        qt = t_recv[pos]

        cnt, last = _before(fam, qk, qt, ek, et, w, hist)
        if fam == "ident":
            out["link_prior_referrals"] = _per_referral_max(n, pos, cnt[:, 0], 0.0)
            last_t = _per_referral_max(n, pos, np.where(last >= 0, last, -np.inf), np.nan)
            out["link_days_since_last"] = (t_recv - last_t) / day
            out["link_prior_package"] = _per_referral_max(n, pos, cnt[:, 2], 0.0)
            out["link_prior_urgent"] = _per_referral_max(n, pos, cnt[:, 3], 0.0)
        elif fam in ("ip", "group"):
            out[f"{fam}_prior_referrals"] = _per_referral_max(n, pos, cnt[:, 0], 0.0)
        elif fam == "platform":
            cnt90, _ = _before(fam, qk, qt - PLATFORM_WINDOW_NS, ek, et, w, hist)
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
    return _smoothed_platform_rates(out)


PRIOR_STRENGTH = 50.0


def _smoothed_platform_rates(df: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
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
