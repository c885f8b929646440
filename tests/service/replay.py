"""A single-process replay of what a store's replicas scored, to compare features with.

Every scoring batch wrote its new referrals' sightings with ``after_seq``, the last row of
the history its features were computed from (``serving/sightings.py``). The replay walks
the batches in that order in one process: the history is the store's rows up to
``after_seq`` (the training seed, the earlier batches, the decisions' labels committed
before), the batch is its referrals as stored, and the linking features are computed
afresh with the training feature function. A referral's first score must carry them.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from sqlalchemy import select

from features.history import History
from features.linking import EVENT_COLUMNS
from features.pipeline import build_features
from serving.db_models import ReferralRow, ScoreRow, SightingRow
from serving.records import referral_of
from serving.store import Store

#: The columns the linking history decides (the rest depend on the referral alone).
PREFIXES = ("link_", "ip_", "group_", "platform_")


def divergent(store: Store) -> tuple[int, list[str]]:
    """``(referrals replayed, ids whose first score's linking features differ)``."""
    with store.ordered() as s:
        rows = pd.DataFrame(
            s.execute(
                select(
                    SightingRow.seq,
                    SightingRow.referral_id,
                    SightingRow.after_seq,
                    *[getattr(SightingRow, c) for c in EVENT_COLUMNS],
                ).order_by(SightingRow.seq)
            ).all(),
            columns=["seq", "referral_id", "after_seq", *EVENT_COLUMNS],
        )
        firsts: dict[str, dict[str, Any]] = {}
        for rid, feats in s.execute(
            select(ScoreRow.referral_id, ScoreRow.features).order_by(ScoreRow.id)
        ):
            firsts.setdefault(rid, feats)
        marks = rows[rows["referral_id"].notna()]
        docs = {
            r.referral_id: referral_of(r)
            for r in s.scalars(
                select(ReferralRow).where(ReferralRow.referral_id.in_(list(marks["referral_id"])))
            )
        }
    bad: list[str] = []
    for after, batch in marks.groupby("after_seq", sort=True):
        history = History()
        history.add_events(
            rows.loc[rows["seq"] <= after, list(EVENT_COLUMNS)].reset_index(drop=True)
        )
        refs = [docs[r] for r in batch.sort_values("seq")["referral_id"]]
        X = build_features(refs, None, history).X
        for ref, (_, row) in zip(refs, X.iterrows(), strict=True):
            got = firsts[ref.referral_id]
            for col in X.columns:
                if str(col).startswith(PREFIXES) and not _same(got.get(str(col)), row[col]):
                    bad.append(ref.referral_id)
                    break
    return len(marks), bad


def _same(a: Any, b: Any) -> bool:
    def num(v: Any) -> float:
        return float("nan") if v is None else float(v)

    x, y = num(a), num(b)
    return (math.isnan(x) and math.isnan(y)) or math.isclose(x, y, rel_tol=1e-6, abs_tol=1e-9)
