"""The blind second review (contract §5): its queue, its blinded view, its safeguards.

A referral drawn for the blind second review (``second_review`` on its latest score,
``features/blind_draw.py``) waits on a queue of its own until someone records a
``review: "second_blind"`` decision on it. That reviewer must not see what the model
said, so the server never sends it to them: :class:`BlindView` holds the referral's
metadata and the score's id and model version (the decision is bound to them), and
nothing else of the score: no tier, priority, probabilities, urgency band or set, safety
rules or reasons, and no earlier decision either (a first reviewer's call anchors as much
as the model's). The first review is never delayed: a blind review recorded first leaves
the referral on the first-review queue (``serving/queries.py``).

Safeguards (:func:`check_review`, inside the decision's write transaction):

- a ``second_blind`` review only of a referral that was drawn (``second_review`` true on
  the score decided on), else :class:`NotDrawn` (422);
- the blind and the first review by two people: whichever comes second is refused when
  the same authenticated person made the other (:class:`SameReviewer`, 409).

Functions take an open :class:`~sqlalchemy.orm.Session`; :class:`serving.store.Store`
wraps them in transactions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import AwareDatetime
from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session

from features.contract import IncidentType, Referral, Source
from serving.db_models import DecisionRow, ReferralRow, ScoreRow
from serving.records import StoreError, _Record, referral_of

BLIND = "second_blind"
MAX_ITEMS = 200


class NotDrawn(StoreError):
    """A blind second review of a referral the draw did not pick."""

    def __init__(self) -> None:
        super().__init__(
            "review", "second_blind only for a referral drawn for the blind second review"
        )


class SameReviewer(StoreError):
    """The person who made one of the two reviews may not make the other."""

    def __init__(self, other: str) -> None:
        super().__init__(
            "review", f"the {other} review of this referral was made by the same person"
        )


class BlindItem(_Record):
    """A referral awaiting its blind second review: what it is, never what the model said."""

    referral_id: str
    source: Source
    received_at: AwareDatetime
    incident_type: IncidentType | None = None
    score_id: int


class BlindView(_Record):
    """The referral as the blind reviewer sees it. ``model_version`` and ``score_id`` only
    bind the decision to the score (contract §5); they say nothing of its content."""

    referral: Referral
    score_id: int
    model_version: str
    second_review: bool
    blind_review_done: bool


def _latest_scores() -> Any:
    return (
        select(ScoreRow.referral_id, func.max(ScoreRow.id).label("score_id"))
        .group_by(ScoreRow.referral_id)
        .subquery()
    )


def _drawn(score: Any) -> Any:
    return score["second_review"].as_boolean().is_(True)


def _blind_done(referral_id: Any) -> Any:
    return exists().where(DecisionRow.referral_id == referral_id, DecisionRow.review == BLIND)


def queue(s: Session, limit: int = MAX_ITEMS) -> list[BlindItem]:
    """Drawn referrals without a blind review yet, oldest first (the draw is random, so
    arrival order is as fair as any; nothing of the score may order it)."""
    if not 1 <= limit <= MAX_ITEMS:
        raise StoreError("limit", f"must be between 1 and {MAX_ITEMS}")
    latest = _latest_scores()
    stmt = (
        select(ReferralRow, ScoreRow.id)
        .join(latest, latest.c.referral_id == ReferralRow.referral_id)
        .join(ScoreRow, ScoreRow.id == latest.c.score_id)
        .where(_drawn(ScoreRow.score), ~_blind_done(ReferralRow.referral_id))
        .order_by(ReferralRow.received_at, ReferralRow.referral_id)
        .limit(limit)
    )
    return [
        BlindItem(
            referral_id=ref.referral_id,
            source=ref.source,  # type: ignore[arg-type]
            received_at=ref.received_at,
            incident_type=(ref.document.get("incident") or {}).get("type"),
            score_id=score_id,
        )
        for ref, score_id in s.execute(stmt)
    ]


def view(s: Session, referral_id: str) -> BlindView | None:
    """The blinded view of a scored referral (None: never scored here); given for any
    scored referral (``second_review`` says whether it was drawn): what matters is that
    no model output is in it, and recording a blind review is what is checked."""
    ref = s.get(ReferralRow, referral_id)
    if ref is None:
        return None
    score = s.scalar(
        select(ScoreRow).where(ScoreRow.referral_id == referral_id).order_by(ScoreRow.id.desc())
    )
    if score is None:
        return None
    done = s.scalar(select(_blind_done(referral_id)))
    return BlindView(
        referral=referral_of(ref),
        score_id=score.id,
        model_version=score.model_version,
        second_review=bool(score.score.get("second_review")),
        blind_review_done=bool(done),
    )


def check_review(s: Session, content: Mapping[str, Any], score: ScoreRow) -> None:
    """Refuse a review the blind design forbids (module docs); call before appending."""
    blind = content.get("review") == BLIND
    if blind and not score.score.get("second_review"):
        raise NotDrawn()
    other = select(DecisionRow.id).where(
        DecisionRow.referral_id == content["referral_id"],
        DecisionRow.reviewer == content["reviewer"],
    )
    if blind:
        other = other.where((DecisionRow.review != BLIND) | DecisionRow.review.is_(None))
    else:
        other = other.where(DecisionRow.review == BLIND)
    if s.scalar(other.limit(1)) is not None:
        raise SameReviewer("first" if blind else "blind second")
