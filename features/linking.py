"""Point-in-time linking: what was known about a referral's keys *before* it arrived.

Knowledge time is the spine: a referral received at *t* sees sightings of its keys with
time < t and decisions whose ``decided_at`` < t, never anything at or after *t*. So adding
later referrals never changes an earlier row (a property test checks this).

Events (sightings and decisions) and queries are merged in one sort by (key, time,
queries-before-events) and counted with cumulative sums: O(n log n), no pairwise join,
so the cost grows with the history's length, not its square. Earlier referrals held by
the service come from :class:`features.history.History`, an index probed per key (a hash
join on pseudonyms), never scanned.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from features.contract import Outcome, Referral
from features.flatten import link_keys

if TYPE_CHECKING:  # the indexed history (features.history) is built on this module
    from features.history import History

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
