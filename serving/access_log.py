"""The access log: who read which referral, the queue or an explanation, from where; every
refused request; every token created, rotated or revoked, and by whom.

Functions take an open session; :class:`serving.store.Store` wraps each in a transaction.
Entries are hash-chained like decisions (:func:`serving.chain.access_hash`), appended
under a lock on the single head row, so concurrent writers never fork the chain. Values
are short and never free text: route templates, referral ids, a token's person's name, a
network address. Retention (:func:`prune`) cuts the oldest records and moves the head's
*base* to the last one cut, so the rest still verifies.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from serving import chain
from serving.db_models import AccessHeadRow, AccessReferralRow, AccessRow
from serving.records import AccessRecord, ChainCheck

#: Most referral ids one record lists (a queue page holds at most this many items).
MAX_IDS = 1000


class Access(BaseModel):
    """What to record; the store adds the time, the id and the chain."""

    model_config = ConfigDict(frozen=True)

    action: str = Field(min_length=1, max_length=64)
    status: int
    actor: str | None = Field(default=None, max_length=128)
    token_id: int | None = None
    role: str | None = Field(default=None, max_length=16)
    client: str | None = Field(default=None, max_length=64)
    referral_ids: tuple[str, ...] = Field(default=(), max_length=MAX_IDS)
    detail: str | None = Field(default=None, max_length=256)


def append(s: Session, entries: Sequence[Access], now: datetime) -> list[AccessRecord]:
    """Append ``entries`` in order to the chain (the caller commits)."""
    head = s.execute(
        select(AccessHeadRow).where(AccessHeadRow.id == 1).with_for_update()
    ).scalar_one()
    out = []
    for entry in entries:
        ids = list(dict.fromkeys(entry.referral_ids))
        row = AccessRow(
            id=head.last_id + 1,
            at=now,
            prev_hash=head.last_hash,
            **entry.model_dump(exclude={"referral_ids"}),
            referral_ids=ids,
        )
        row.hash = chain.access_hash(
            {f: getattr(row, f) for f in chain.ACCESS_FIELDS}, row.prev_hash
        )
        s.add(row)
        s.flush()
        if ids:
            s.add_all(AccessReferralRow(access_id=row.id, referral_id=r) for r in ids)
        head.last_id, head.last_hash = row.id, row.hash
        out.append(AccessRecord.of(row))
    s.flush()
    return out


def for_referral(s: Session, referral_id: str) -> list[AccessRecord]:
    """Every kept record that covers ``referral_id`` (reads of it, queue pages showing it,
    refusals naming it), oldest first."""
    stmt = (
        select(AccessRow)
        .join(AccessReferralRow, AccessReferralRow.access_id == AccessRow.id)
        .where(AccessReferralRow.referral_id == referral_id)
        .order_by(AccessRow.id)
    )
    return [AccessRecord.of(r) for r in s.scalars(stmt)]


def recent(s: Session, limit: int) -> list[AccessRecord]:
    """The newest ``limit`` records, oldest first."""
    rows = s.scalars(select(AccessRow).order_by(AccessRow.id.desc()).limit(limit))
    return [AccessRecord.of(r) for r in reversed(list(rows))]


def verify(s: Session) -> ChainCheck:
    head = s.get(AccessHeadRow, 1)
    if head is None:
        return ChainCheck(ok=False, checked=0, head_hash="", reason="chain head missing")
    rows = s.execute(
        select(AccessRow.__table__)
        .where(AccessRow.id > head.base_id, AccessRow.id <= head.last_id)
        .order_by(AccessRow.id)
        .execution_options(yield_per=1000)
    ).mappings()
    checked, broken = chain.find_break(
        rows,
        head.last_id,
        head.last_hash,
        hasher=chain.access_hash,
        base_id=head.base_id,
        base_hash=head.base_hash,
    )
    return ChainCheck(
        ok=broken is None,
        checked=checked,
        head_hash=head.last_hash,
        head_id=head.last_id,
        first_bad_id=broken.record_id if broken else None,
        reason=broken.reason if broken else None,
        what="access record",
    )


def prune(s: Session, before: datetime) -> int:
    """Delete records older than ``before`` (retention); returns how many.

    Only a prefix is cut (records are in time order), and the head's base moves to the
    last record cut first, which is what lets the append-only trigger allow the delete.
    """
    head = s.execute(
        select(AccessHeadRow).where(AccessHeadRow.id == 1).with_for_update()
    ).scalar_one()
    last_old = s.execute(
        select(AccessRow.id, AccessRow.hash)
        .where(AccessRow.at < before, AccessRow.id > head.base_id)
        .order_by(AccessRow.id.desc())
        .limit(1)
    ).first()
    if last_old is None:
        return 0
    cut_to, cut_hash = int(last_old[0]), str(last_old[1])
    n = cut_to - head.base_id
    head.base_id, head.base_hash = cut_to, cut_hash
    s.flush()
    s.execute(delete(AccessReferralRow).where(AccessReferralRow.access_id <= cut_to))
    s.execute(delete(AccessRow).where(AccessRow.id <= cut_to))
    return n
