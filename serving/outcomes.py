"""Outcome reports from the police of jurisdiction (contract §5b): stored, chained, labels.

An outcome report is the strongest urgency label there is (contract §5 "Labels"): what
was found, not what anyone guessed at triage. Reports are append-only and audited like
decisions: each row's ``hash`` covers its content and the previous row's hash
(:func:`serving.chain.canonical_json`, the decision log's byte form), and writers take the
decision log's chain lock, so concurrent writers never fork either log. The log has its
own head row (``outcome_chain_head``, migration 0005), so ``triage audit verify`` notices
records cut off the end and a rewritten last record, and the anchors sign it with the
decision and access heads (``serving/anchor.py``; why two chains: ``docs/security.md``).
Idempotent per (referral_id, agency, finding): a retried or re-imported report is
recognised, not added.

Functions take an open :class:`~sqlalchemy.orm.Session`; :class:`serving.store.Store`
wraps them in transactions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from features.contract import OutcomeReport, Urgency
from serving import chain
from serving.db_models import ChainHeadRow, OutcomeHeadRow, OutcomeReportRow
from serving.records import ChainCheck, UnknownReferral, _Record

HASHED = (
    "id",
    "referral_id",
    "reported_at",
    "agency",
    "finding",
    "urgency_in_hindsight",
    "recorded_at",
    "recorded_by",
    "recorded_by_token",
)


class OutcomeRecord(_Record):
    """One stored outcome report with its place in the chain."""

    id: int
    referral_id: str
    reported_at: AwareDatetime
    agency: str
    finding: str
    urgency_in_hindsight: Urgency | None
    recorded_at: AwareDatetime
    recorded_by: str | None
    recorded_by_token: int | None
    prev_hash: str
    hash: str


def outcome_hash(content: Mapping[str, Any], prev_hash: str) -> str:
    body = {k: content[k] for k in HASHED}
    for k in ("reported_at", "recorded_at"):
        body[k] = chain.hash_time(body[k])
    body["prev_hash"] = prev_hash
    return hashlib.sha256(chain.canonical_json(body)).hexdigest()


def add(
    s: Session,
    report: OutcomeReport,
    now: datetime,
    by_name: str | None,
    by_token: int | None,
) -> tuple[OutcomeRecord, bool]:
    """Append ``report``; returns ``(record, created)``. Call inside a write transaction."""
    s.execute(select(ChainHeadRow).where(ChainHeadRow.id == 1).with_for_update()).scalar_one()
    same = s.scalar(
        select(OutcomeReportRow).where(
            OutcomeReportRow.referral_id == report.referral_id,
            OutcomeReportRow.agency == report.agency,
            OutcomeReportRow.finding == report.finding,
        )
    )
    if same is not None:
        return OutcomeRecord.model_validate(same, from_attributes=True), False
    from serving.db_models import ReferralRow

    if s.get(ReferralRow, report.referral_id) is None:
        raise UnknownReferral()
    head = s.get_one(OutcomeHeadRow, 1)
    row = OutcomeReportRow(
        id=head.last_id + 1,
        recorded_at=now,
        recorded_by=by_name,
        recorded_by_token=by_token,
        prev_hash=head.last_hash,
        **report.model_dump(),
    )
    row.hash = outcome_hash({k: getattr(row, k) for k in HASHED}, row.prev_hash)
    s.add(row)
    head.last_id, head.last_hash = row.id, row.hash
    s.flush()
    return OutcomeRecord.model_validate(row, from_attributes=True), True


def verify(s: Session) -> ChainCheck:
    """Ids 1..n without gaps, each ``prev_hash`` the previous hash, each hash its content,
    and the last record the head's (``serving.chain.find_break``, as for decisions)."""
    what = "outcome report"
    head = s.get(OutcomeHeadRow, 1)
    if head is None:
        return ChainCheck(ok=False, checked=0, head_hash="", reason="chain head missing", what=what)
    rows = s.execute(
        select(OutcomeReportRow.__table__)
        .where(OutcomeReportRow.id <= head.last_id)
        .order_by(OutcomeReportRow.id)
        .execution_options(yield_per=1000)
    ).mappings()
    checked, broken = chain.find_break(rows, head.last_id, head.last_hash, hasher=outcome_hash)
    if broken is None:
        return ChainCheck(
            ok=True, checked=checked, head_hash=head.last_hash, head_id=checked, what=what
        )
    return ChainCheck(
        ok=False,
        checked=checked,
        head_hash=head.last_hash,
        head_id=head.last_id,
        first_bad_id=broken.record_id,
        reason=broken.reason,
        what=what,
    )


def for_referral(s: Session, referral_id: str) -> list[OutcomeRecord]:
    rows = s.scalars(
        select(OutcomeReportRow)
        .where(OutcomeReportRow.referral_id == referral_id)
        .order_by(OutcomeReportRow.id)
    )
    return [OutcomeRecord.model_validate(r, from_attributes=True) for r in rows]


def hindsight(s: Session) -> dict[str, tuple[Urgency, datetime]]:
    """Per referral, the urgency in hindsight of its latest report that gives one, and
    when it was reported: the ``outcome`` labels of contract §5."""
    latest = (
        select(OutcomeReportRow.referral_id, func.max(OutcomeReportRow.id).label("oid"))
        .where(OutcomeReportRow.urgency_in_hindsight.is_not(None))
        .group_by(OutcomeReportRow.referral_id)
        .subquery()
    )
    rows = s.scalars(select(OutcomeReportRow).join(latest, latest.c.oid == OutcomeReportRow.id))
    return {r.referral_id: (r.urgency_in_hindsight, r.reported_at) for r in rows}  # type: ignore[misc]
