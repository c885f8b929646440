"""Turning a scoring request into rows: the referral as stored, and its score log entry.

This is where free text is kept out of the database: ``narrative`` is dropped and
``escalation_reason`` becomes a marker (``Referral.escalated`` still works on reload).
Feature values are made plain JSON (NaN, inf and pandas NA become null) because
PostgreSQL's JSON types refuse NaN.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from features.contract import TIERS, VIABILITY_CLASSES, Referral, Score
from serving.db_models import ReferralRow, ScoreRow
from serving.records import StoreError

REDACTED = "[redacted]"
_UPDATED_ON_RESCORE = ("received_at", "source", "escalated", "document", "updated_at")


def stored_document(ref: Referral) -> dict[str, Any]:
    """The referral as stored: free text removed, ``escalated`` still recoverable."""
    doc = ref.model_dump(mode="json")
    doc["narrative"] = None
    doc["escalation_reason"] = REDACTED if ref.escalated else None
    return doc


def jsonable(v: Any, field: str) -> Any:
    """Plain JSON for a value: NaN/inf/NA become null, numpy scalars Python ones.

    Raises :class:`StoreError` naming ``field`` for anything else that is not JSON.
    """
    if v is None or isinstance(v, str | bool | int):
        return v
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if type(v).__name__ in {"NAType", "NaTType"}:
        return None
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Mapping):
        return {str(k): jsonable(x, field) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [jsonable(x, field) for x in v]
    item = getattr(v, "item", None)  # numpy scalars
    if callable(item):
        return jsonable(item(), field)
    raise StoreError(field, f"a {type(v).__name__} cannot be stored as JSON")


def referral_values(ref: Referral, now: datetime) -> dict[str, Any]:
    return {
        "referral_id": ref.referral_id,
        "received_at": ref.received_at,
        "source": ref.source,
        "escalated": ref.escalated,
        "document": stored_document(ref),
        "first_recorded_at": now,
        "updated_at": now,
    }


def upsert_referrals(backend: str, rows: list[dict[str, Any]]) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE: a re-scored referral keeps its newest document.

    ``first_recorded_at`` is left as it was. Safe against concurrent requests for the same
    new referral (no check-then-insert race).
    """
    insert = pg_insert if backend == "postgresql" else sqlite_insert
    stmt = insert(ReferralRow).values(rows)
    return stmt.on_conflict_do_update(
        index_elements=["referral_id"],
        set_={k: stmt.excluded[k] for k in _UPDATED_ON_RESCORE},
    )


def score_row(
    score: Score,
    features: Mapping[str, Any],
    request_id: str,
    now: datetime,
    field: str,
    document: dict[str, Any] | None = None,
) -> ScoreRow:
    """One inference-log row; ``field`` (e.g. ``items[3]``) names the item in errors.

    ``document`` is the stored form of the referral this score was made from: kept with
    the score, so a later re-scoring never erases what an earlier reviewer saw."""
    doc = jsonable(score.model_dump(mode="json"), f"{field}.score")
    return ScoreRow(
        request_id=request_id,
        referral_id=score.referral_id,
        model_version=score.model_version,
        scored_at=score.scored_at,
        recorded_at=now,
        tier=score.tier,
        priority=score.priority,
        degraded=score.degraded,
        **{f"urgency_{k}": float(score.urgency.get(k, 0.0)) for k in TIERS},
        **{f"viability_{k}": float(score.viability.get(k, 0.0)) for k in VIABILITY_CLASSES},
        reasons=doc["reasons"],
        safety_rules=doc["safety_rules"],
        features=jsonable(dict(features), f"{field}.features"),
        retention_deadline=score.retention_deadline,
        score=doc,
        document=document,
    )
