"""The live history follows the same one-label-per-referral rule as a restart.

A restart loads each stored referral with its one best label (``features.labels.
best_label`` over all its decisions and outcome reports). When a decision or an outcome
report is recorded, the running service moves the referral's counted label from the best
one before the record to the best one after (``features.labels.relabel_events``: the old
label's events with negated weights, then the new one's), so its history features always
equal those of a service restarted from the same store. A first review after a blind one,
or an outcome without an urgency, changes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from features.contract import Outcome, Urgency
from features.labels import best_label
from serving.outcomes import OutcomeRecord
from serving.records import DecisionRecord


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
    rt: Any, referral_id: str, *, decision_id: int | None = None, outcome_id: int | None = None
) -> None:
    """Update the running service's history for a newly recorded decision or report."""
    stored = rt.store.referral(referral_id)
    if stored is None:
        return
    old, new = labels_around(
        stored.decisions,
        rt.store.outcomes_for(referral_id),
        decision_id=decision_id,
        outcome_id=outcome_id,
    )
    rt.scorer.relabel(stored.referral, old, new)
