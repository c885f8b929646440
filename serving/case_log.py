"""The case events log: every case a scored referral opened, joined or merged, and every
package decision, append-only and hash-chained (migration 0006).

Events are written in the transaction that records the score that caused them
(:meth:`serving.store.Store.record_scores`'s ``also``), so a score is never stored without
its case event or the other way round. Each row's ``hash`` covers its content and the
previous row's hash in :func:`serving.chain.canonical_json` form; writers lock the single
``case_chain_head`` row, so the chain never forks, and ``triage audit verify`` checks it
with :func:`serving.chain.find_break` like the decision log. No floats and no free text
are hashed: ids, event names, link kinds, a route's destination.

:func:`replay` rebuilds the cases from the events alone; a test holds it equal to the
service's index (and to ``triage cases`` batch grouping) for the same referrals.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import AwareDatetime
from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from features.case_index import Placement
from serving import chain
from serving.db_models import CaseEventRow, CaseHeadRow
from serving.records import ChainCheck, _Record

if TYPE_CHECKING:
    from serving.store import Store

HASHED = ("id", "at", "event", "case_id", "referral_ids", "detail")


@dataclass(frozen=True)
class CaseEvent:
    """What to append; the log adds the id, time and chain."""

    event: str
    case_id: str
    referral_ids: tuple[str, ...]
    detail: dict[str, Any] = field(default_factory=dict)


class CaseEventRecord(_Record):
    id: int
    at: AwareDatetime
    event: str
    case_id: str
    referral_ids: list[str]
    detail: dict[str, Any]
    prev_hash: str
    hash: str


def event_of(placement: Placement, name: Callable[[str], str]) -> CaseEvent:
    """The event one placement made: opened, joined (one case, whose id stays) or merged
    (the surviving case, and the ones absorbed; an earlier-received referral arriving late
    renames a case it joins, which is recorded as a merge of the old name into the new)."""
    case_id = name(placement.root)
    kinds = list(placement.link_kinds)
    rid = (placement.referral_id,)
    if not placement.prior_roots:
        return CaseEvent("opened", case_id, rid, {"link_kinds": kinds})
    if placement.prior_roots == (placement.root,):
        return CaseEvent("joined", case_id, rid, {"link_kinds": kinds})
    merged = sorted(name(r) for r in placement.prior_roots if r != placement.root)
    return CaseEvent("merged", case_id, rid, {"link_kinds": kinds, "merged": merged})


def event_hash(content: Mapping[str, Any], prev_hash: str) -> str:
    body = {k: content[k] for k in HASHED}
    body["at"] = chain.hash_time(body["at"])
    body["prev_hash"] = prev_hash
    return hashlib.sha256(chain.canonical_json(body)).hexdigest()


def append(s: Session, events: Sequence[CaseEvent], now: datetime) -> list[int]:
    """Append ``events`` in order (the caller's transaction commits them); their ids.
    One multi-row INSERT: the ORM's per-object flush cost ~0.35 ms an event."""
    if not events:
        return []
    head = s.execute(select(CaseHeadRow).where(CaseHeadRow.id == 1).with_for_update()).scalar_one()
    rows: list[dict[str, Any]] = []
    last_id, last_hash = head.last_id, head.last_hash
    for ev in events:
        row: dict[str, Any] = {
            "id": last_id + 1,
            "at": now,
            "event": ev.event,
            "case_id": ev.case_id,
            "referral_ids": list(ev.referral_ids),
            "detail": dict(ev.detail),
            "prev_hash": last_hash,
        }
        row["hash"] = event_hash(row, last_hash)
        rows.append(row)
        last_id, last_hash = row["id"], row["hash"]
    for start in range(0, len(rows), 500):  # well under SQLite's bound-parameter limit
        s.execute(insert(CaseEventRow), rows[start : start + 500])
    head.last_id, head.last_hash = last_id, last_hash
    s.flush()
    return [r["id"] for r in rows]


def events(s: Session, case_id: str | None = None) -> list[CaseEventRecord]:
    stmt = select(CaseEventRow).order_by(CaseEventRow.id)
    if case_id is not None:
        stmt = stmt.where(CaseEventRow.case_id == case_id)
    return [CaseEventRecord.model_validate(r, from_attributes=True) for r in s.scalars(stmt)]


def verify(s: Session) -> ChainCheck:
    head = s.get(CaseHeadRow, 1)
    if head is None:
        return ChainCheck(
            ok=False, checked=0, head_hash="", reason="chain head missing", what="case event"
        )
    rows = s.execute(
        select(CaseEventRow.__table__)
        .where(CaseEventRow.id <= head.last_id)
        .order_by(CaseEventRow.id)
        .execution_options(yield_per=1000)
    ).mappings()
    checked, broken = chain.find_break(rows, head.last_id, head.last_hash, hasher=event_hash)
    return ChainCheck(
        ok=broken is None,
        checked=checked,
        head_hash=head.last_hash,
        head_id=head.last_id,
        first_bad_id=broken.record_id if broken else None,
        reason=broken.reason if broken else None,
        what="case event",
    )


def replay(records: Iterable[CaseEventRecord | CaseEvent]) -> dict[str, set[str]]:
    """Case id -> members, from the events alone (in log order)."""
    cases: dict[str, set[str]] = {}
    for ev in records:
        if ev.event == "package_decided":
            continue
        members = set(ev.referral_ids)
        members |= cases.pop(ev.case_id, set())
        for absorbed in ev.detail.get("merged", []):
            members |= cases.pop(absorbed, set())
        cases[ev.case_id] = members
    return cases


def verify_store(store: Store) -> ChainCheck:
    """:func:`verify` in a read transaction of ``store`` (``triage audit verify``)."""
    with store.reading() as s:
        return verify(s)


def store_events(store: Store, case_id: str | None = None) -> list[CaseEventRecord]:
    with store.reading() as s:
        return events(s, case_id)
