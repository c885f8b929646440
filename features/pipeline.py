"""The one feature function, for training and serving alike.

``build_features(referrals, outcomes, history)`` turns a batch of validated, pseudonymised
referrals (one or a million) into the model's feature frame, with the columns and
categorical levels of :mod:`features.catalogue`. Within the batch and against ``history``,
every referral sees only what was known before its ``received_at``; ``outcomes`` are the
batch's own decisions (training data), usable by later referrals once ``decided_at`` has
passed. The referral id, the platform's name and free text never become features.

The frame is assembled from one float32 block and the categorical columns in a single
step (see ``_frame``): for one referral, pandas' per-column insertion and reordering cost
more than everything else in the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter

import numpy as np
import pandas as pd

from features.catalogue import CATALOGUE, FEATURES
from features.contract import Outcome, Referral
from features.flatten import rows as fact_rows
from features.history import History
from features.linking import events_for, linking_features
from features.retention import retention_deadline


@dataclass
class Features:
    """``X``: the feature frame (catalogue order); ``meta``: what reports and audits need
    beside it (id, time, source, province, platform, deadline); ``events``: the batch's own
    linking events, to extend a :class:`History` with."""

    X: pd.DataFrame
    meta: pd.DataFrame
    events: pd.DataFrame

    def __len__(self) -> int:
        return len(self.X)


_NUMERIC = [s.name for s in CATALOGUE if s.kind != "categorical"]
_NUM_POS = [i for i, s in enumerate(CATALOGUE) if s.kind != "categorical"]
_CATEGORICAL = [
    (i, s.name, list(s.levels)) for i, s in enumerate(CATALOGUE) if s.kind == "categorical"
]
_CODES = [
    ({v: c for c, v in enumerate(levels)}, pd.CategoricalDtype(levels))
    for _, _, levels in _CATEGORICAL
]


def _typed(facts: list[dict[str, object]], link: dict[str, np.ndarray]) -> pd.DataFrame:
    """The frame in catalogue order: float32 numbers, categoricals with fixed levels."""
    n = len(facts)
    block = np.empty((n, len(_NUMERIC)), dtype=np.float32)
    own = [j for j, name in enumerate(_NUMERIC) if name not in link]
    if own and n:
        get = itemgetter(*(_NUMERIC[j] for j in own))
        block[:, own] = np.array([get(f) for f in facts], dtype=np.float64).reshape(n, len(own))
    for j, name in enumerate(_NUMERIC):
        if name in link:
            block[:, j] = link[name]
    cats = [
        pd.Categorical.from_codes(
            np.array([codes.get(f[name], -1) for f in facts], dtype=np.int8),  # type: ignore[call-overload]
            dtype=dtype,
        )
        for (_, name, _), (codes, dtype) in zip(_CATEGORICAL, _CODES, strict=True)
    ]
    return _frame(block, cats, n)


def _frame(block: np.ndarray, cats: list[pd.Categorical], n: int) -> pd.DataFrame:
    """One float32 block plus the categorical columns, placed in catalogue order directly
    (pandas' block constructor; the column-by-column route is the fallback)."""
    try:
        from pandas.core.internals import BlockManager
        from pandas.core.internals.api import make_block

        blocks = [make_block(block.T, placement=_NUM_POS)]
        blocks += [
            make_block(c, placement=[i], ndim=2)
            for (i, _, _), c in zip(_CATEGORICAL, cats, strict=True)
        ]
        mgr = BlockManager(tuple(blocks), [pd.Index(list(FEATURES)), pd.RangeIndex(n)])
        return pd.DataFrame._from_mgr(mgr, axes=mgr.axes)  # type: ignore[attr-defined]
    except (ImportError, AttributeError, TypeError, ValueError):
        return _frame_by_columns(block, cats)


def _frame_by_columns(block: np.ndarray, cats: list[pd.Categorical]) -> pd.DataFrame:
    X = pd.DataFrame(block, columns=_NUMERIC, copy=False)
    for (i, name, _), c in zip(_CATEGORICAL, cats, strict=True):
        X.insert(i, name, c)
    return X


def build_features(
    referrals: Sequence[Referral],
    outcomes: Sequence[Outcome | None] | None = None,
    history: History | None = None,
) -> Features:
    if outcomes is not None and len(outcomes) != len(referrals):
        raise ValueError("outcomes: must have one entry (or None) per referral")
    if not referrals:
        return Features(_typed([], {}), _meta([]), events_for([], None))
    facts = fact_rows(referrals)
    events = events_for(referrals, outcomes)
    link = linking_features(referrals, events, history)
    X = _typed(facts, link)
    meta = _meta(referrals)
    meta["province"] = np.array([f["province"] for f in facts], dtype=object)
    return Features(X, meta, events)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NAT = np.iinfo(np.int64).min


def _utc(times: list[datetime | None]) -> pd.DatetimeIndex:
    """``pd.to_datetime(times, utc=True)`` for aware datetimes, in exact integer arithmetic
    (pandas' object parsing costs a fixed ~0.2 ms per call, which one referral notices)."""
    ns = [_NAT if t is None else (t - _EPOCH) // _MICROSECOND * 1000 for t in times]
    return pd.DatetimeIndex(np.array(ns, dtype=np.int64).view("M8[ns]")).tz_localize(UTC)


def _meta(referrals: Sequence[Referral]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "referral_id": [r.referral_id for r in referrals],
            "received_at": _utc([r.received_at for r in referrals]),
            "source": [r.source for r in referrals],
            "incident_type": [r.incident.type for r in referrals],
            "platform": [r.incident.platform for r in referrals],
            "source_priority": [r.source_priority for r in referrals],
            "retention_deadline": _utc(
                [retention_deadline(r.source, r.received_at) for r in referrals]
            ),
        }
    )
