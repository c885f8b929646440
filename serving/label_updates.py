"""The live history follows the same one-label-per-referral rule as a restart.

A restart loads each stored referral with its one best label (``features.labels.
best_label`` over all its decisions and outcome reports). When a decision or an outcome
report is recorded, the store's history (``serving.sightings``) moves the referral's
counted label from the best one before the record to the best one after, in the record's
own transaction (``features.labels.relabel_events``: the old label's events with negated
weights, then the new one's), so every worker's and replica's history features equal
those of a service restarted from the same store. A first review after a blind one,
or an outcome without an urgency, changes nothing.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from features.contract import Outcome, Urgency
from features.labels import best_label, relabel_events
from serving import outcomes, sightings
from serving.db_models import DecisionRow, ReferralRow, SightingSeedRow
from serving.outcomes import OutcomeRecord
from serving.records import DecisionRecord, referral_of


def _found(reports: list[OutcomeRecord]) -> tuple[Urgency, datetime] | None:
    """The latest report's urgency in hindsight (as ``serving.outcomes.hindsight``)."""
    given = [r for r in reports if r.urgency_in_hindsight is not None]
    if not given:
        return None
    last = max(given, key=lambda r: r.id)
    return last.urgency_in_hindsight, last.reported_at  # type: ignore[return-value]


def labels_around(
    decisions: list[DecisionRecord],
    reports: list[OutcomeRecord],
    *,
    decision_id: int | None = None,
    outcome_id: int | None = None,
) -> tuple[Outcome | None, Outcome | None]:
    """The referral's label without the new record (``decision_id`` or ``outcome_id``) and
    with it."""
    before = best_label(
        [d for d in decisions if d.id != decision_id],
        _found([r for r in reports if r.id != outcome_id]),
    )[0]
    return before, best_label(decisions, _found(reports))[0]


def after_record(
    s: Session, referral_id: str, *, decision_id: int | None = None, outcome_id: int | None = None
) -> None:
    """In the transaction that records a decision or an outcome report (``s``): move the
    referral's counted label in the store's history (``serving.sightings``) from the best
    label without the new record to the best with it, so the record and its history events
    commit together and every process reads them at its next catch-up. Before the history
    is seeded nothing: the seeding takes each referral's best label from the store."""
    if s.get(SightingSeedRow, 1) is None:
        return
    row = s.get(ReferralRow, referral_id)
    if row is None:
        return
    decisions = [
        DecisionRecord.of(d)
        for d in s.scalars(
            select(DecisionRow)
            .where(DecisionRow.referral_id == referral_id)
            .order_by(DecisionRow.id)
        )
    ]
    old, new = labels_around(
        decisions,
        outcomes.for_referral(s, referral_id),
        decision_id=decision_id,
        outcome_id=outcome_id,
    )
    if old == new:
        return
    sightings.lock(s)
    sightings.append(s, relabel_events(referral_of(row), old, new))
