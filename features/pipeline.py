"""The one feature function, for training and serving alike.

``build_features(referrals, outcomes, history)`` turns a batch of validated, pseudonymised
referrals (one or a million) into the model's feature frame, with the columns and
categorical levels of :mod:`features.catalogue`. Within the batch and against ``history``,
every referral sees only what was known before its ``received_at``; ``outcomes`` are the
batch's own decisions (training data), usable by later referrals once ``decided_at`` has
passed. The referral id, the platform's name and free text never become features.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.catalogue import CATALOGUE, FEATURES
from features.contract import Outcome, Referral
from features.flatten import flatten
from features.linking import History, events_for, linking_features
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


def build_features(
    referrals: Sequence[Referral],
    outcomes: Sequence[Outcome | None] | None = None,
    history: History | None = None,
) -> Features:
    if outcomes is not None and len(outcomes) != len(referrals):
        raise ValueError("outcomes: must have one entry (or None) per referral")
    if not referrals:
        empty = pd.DataFrame({s.name: pd.Series(dtype=object) for s in CATALOGUE})
        return Features(_typed(empty, {}), _meta([]), events_for([], None))
    flat = flatten(referrals)
    events = events_for(referrals, outcomes)
    link = linking_features(referrals, events, history)
    X = _typed(flat, link)
    meta = _meta(referrals)
    meta["province"] = flat["province"].to_numpy()
    return Features(X, meta, events)


def _meta(referrals: Sequence[Referral]) -> pd.DataFrame:
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
