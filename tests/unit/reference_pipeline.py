"""The feature pipeline as it was before its fast paths (verbatim), kept as the oracle
that ``test_fast_paths`` compares the fast paths with."""

# ruff: noqa
from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.catalogue import CATALOGUE, FEATURES
from features.contract import Outcome, Referral
from features.flatten import flatten, link_keys
from features.linking import (
    EVENT_COLUMNS,
    NS,
    WEIGHTS,
    _before,
    _per_referral_max,
    _smoothed_platform_rates,
    _t_ns,
    platform_key,
    GLOBAL_KEY,
)
from features.history import History
from features.pipeline import Features
from features.retention import retention_deadline

_NUMERIC = [s.name for s in CATALOGUE if s.kind != "categorical"]


def ref_events_for(
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


def ref_linking_features(
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
    hist = history if history is not None and len(history) else None
    out: dict[str, np.ndarray] = {}
    day = 86_400 * 10**9
    fam_col = batch_events["family"].to_numpy(object)
    for fam, (pos, ks) in keys.items():
        qk = np.asarray(ks, dtype=object)
        ev = batch_events[fam_col == fam]
        w = ev[list(WEIGHTS)].to_numpy(np.int64)
        ek, et = ev["key"].to_numpy(object), ev["t"].to_numpy(NS)
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
            cnt90, _ = _before(fam, qk, qt - 90 * day, ek, et, w, hist)
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


def _typed(flat: pd.DataFrame, link: dict[str, np.ndarray]) -> pd.DataFrame:
    """The frame in catalogue order: float32 numbers, categoricals with fixed levels.
    Built from one numeric block (cheap for one row as for a million)."""
    n = len(flat)
    block = np.empty((n, len(_NUMERIC)), dtype=np.float32)
    for j, name in enumerate(_NUMERIC):
        col = link[name] if name in link else flat[name].to_numpy()
        block[:, j] = np.asarray(col, dtype=np.float64) if col.dtype == object else col
    X = pd.DataFrame(block, columns=_NUMERIC, copy=False)
    for spec in CATALOGUE:
        if spec.kind == "categorical":
            X[spec.name] = pd.Categorical(flat[spec.name].to_numpy(), categories=list(spec.levels))
    return X[list(FEATURES)]


def ref_build_features(
    referrals: Sequence[Referral],
    outcomes: Sequence[Outcome | None] | None = None,
    history: History | None = None,
) -> Features:
    if outcomes is not None and len(outcomes) != len(referrals):
        raise ValueError("outcomes: must have one entry (or None) per referral")
    if not referrals:
        empty = pd.DataFrame({s.name: pd.Series(dtype=object) for s in CATALOGUE})
        return Features(_typed(empty, {}), _ref_meta([]), ref_events_for([], None))
    flat = flatten(referrals)
    events = ref_events_for(referrals, outcomes)
    link = ref_linking_features(referrals, events, history)
    X = _typed(flat, link)
    meta = _ref_meta(referrals)
    meta["province"] = flat["province"].to_numpy()
    return Features(X, meta, events)


def _ref_meta(referrals: Sequence[Referral]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "referral_id": [r.referral_id for r in referrals],
            "received_at": pd.to_datetime([r.received_at for r in referrals], utc=True),
            "source": [r.source for r in referrals],
            "incident_type": [r.incident.type for r in referrals],
            "platform": [r.incident.platform for r in referrals],
            "source_priority": [r.source_priority for r in referrals],
            "retention_deadline": pd.to_datetime(
                [retention_deadline(r.source, r.received_at) for r in referrals], utc=True
            ),
        }
    )
