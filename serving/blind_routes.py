"""HTTP for the blind second review (contract §5): its queue and its blinded view.

``GET /second-review`` lists the referrals drawn for a blind second review that still
await it; ``GET /second-review/{id}`` is a referral without anything the model said
(``serving/blind_review.py``). Reviewers only, and both reads are in the access log like
``GET /queue`` and ``GET /referrals/{id}``. The blind decision itself is an ordinary
``POST /feedback`` with ``review: "second_blind"``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel

from features.contract import ID_PATTERN
from serving.blind_review import MAX_ITEMS, BlindItem, BlindView
from serving.http_io import ApiError
from serving.runtime import CURRENT, Runtime


def _runtime() -> Runtime:
    return CURRENT.get()


Rt = Annotated[Runtime, Depends(_runtime)]
router = APIRouter()


class BlindQueuePage(BaseModel):
    """Referrals awaiting their blind second review, oldest first (no model output)."""

    items: list[BlindItem]


@router.get("/second-review", response_model=BlindQueuePage)
def blind_queue(
    request: Request, rt: Rt, limit: Annotated[int, Query(ge=1, le=MAX_ITEMS)] = MAX_ITEMS
) -> BlindQueuePage:
    """Drawn referrals without a blind second review yet; nothing the model said."""
    items = rt.store.blind_queue(limit)
    request.state.shown_referrals = [i.referral_id for i in items]  # for the access log
    return BlindQueuePage(items=items)


@router.get("/second-review/{referral_id}", response_model=BlindView)
def blind_view(
    referral_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=64)], rt: Rt
) -> BlindView:
    """A scored referral's metadata and the score id and model version to bind the blind
    decision to: no tier, priority, probabilities, band, urgency set, rules, reasons or
    earlier decisions."""
    found = rt.store.blind_view(referral_id)
    if found is None:
        raise ApiError(404, "no scored referral with this referral_id")
    return found
