"""The HTTP routes (``contract.md`` §6) as a FastAPI app the BentoML service mounts.

Routes reach the running service through :data:`serving.runtime.CURRENT`; authentication
and the body limit happen before any route runs (:mod:`serving.app_auth`). Bodies are
read as raw JSON (:mod:`serving.http_io`) and validated by the contract's models with the
pseudonymiser in the context, so raw identifiers are replaced before anything else sees
them. Refusals name fields, never quote values.
"""

from __future__ import annotations

import json
import logging
from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio.to_thread
from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import SQLAlchemyError

from features.contract import (
    ID_PATTERN,
    Feedback,
    OutcomeReport,
    Referral,
    Score,
    Source,
    Tier,
)
from features.ingest import problems_from
from serving import blind_routes, case_routes, logs, web_routes
from serving.blind_review import SameReviewer
from serving.http_io import ApiError, install, read_json
from serving.queries import MAX_OFFSET, MAX_PAGE
from serving.records import (
    NotThisPerson,
    ReferralRecord,
    StoreError,
    SupersededScore,
    UnknownReferral,
)
from serving.runtime import CURRENT, Runtime
from serving.schemas import (
    ErrorAnswer,
    FeedbackAnswer,
    OutcomeAnswer,
    QueuePage,
    ScoreBatch,
    field_errors,
    inline_schema,
    rejected_answer,
)

if TYPE_CHECKING:
    from serving.scoring import Answer

#: Most referrals one ``POST /score`` may carry (split larger batches).
MAX_ITEMS = 1000


app = FastAPI(
    title="referral-triage",
    version="1",
    description="Advisory triage of referrals (metadata only). Every answer needs confirmation.",
    docs_url=None,
    redoc_url=None,
    openapi_url=None,  # published once, by BentoML, at /docs.json
)
install(app)
app.include_router(web_routes.router)  # the reviewer page at /
app.include_router(blind_routes.router)  # the blind second review's queue and view
app.include_router(case_routes.router)  # GET /cases, GET /cases/{id}, POST .../decision


def runtime() -> Runtime:
    return CURRENT.get()


Rt = Annotated[Runtime, Depends(runtime)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorAnswer} for s in (400, 401, 403, 413, 422, 503)
}


def _documents(value: Any) -> tuple[list[Any], bool]:
    """The documents to score and whether the request was a single object."""
    if isinstance(value, dict):
        return [value], True
    if not isinstance(value, list):
        raise ApiError(422, "expected a referral (JSON object) or a list of referrals")
    if not value:
        raise ApiError(422, "empty list: nothing to score")
    if len(value) > MAX_ITEMS:
        raise ApiError(422, f"at most {MAX_ITEMS} referrals per request (split the list)")
    return value, False


_REFERRAL = inline_schema(Referral.model_json_schema())
_SCORE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {
                "schema": {
                    "oneOf": [
                        _REFERRAL,
                        {"type": "array", "minItems": 1, "maxItems": MAX_ITEMS, "items": _REFERRAL},
                    ]
                }
            }
        },
    }
}


@app.post(
    "/score",
    response_model=Score | ScoreBatch,
    responses=_ERRORS,
    openapi_extra=_SCORE_BODY,
    summary="Score one referral (answer: a Score) or a list (answer: scores and rejected)",
)
async def score(request: Request, rt: Rt) -> Response:
    docs, single = _documents(await read_json(request))
    request_id = request.state.request_id
    try:
        answer: Answer = await anyio.to_thread.run_sync(rt.scorer.score, docs, request_id)
    except SQLAlchemyError as e:
        logs.event(
            "store_failed", logging.ERROR, request_id=request_id, error_type=type(e).__name__
        )
        raise ApiError(
            503, "the store could not record the scores: nothing was scored, retry"
        ) from None
    _account(rt, answer)
    rejected = rejected_answer(answer.rejected)
    if single:
        if rejected:
            r = rejected[0]
            raise ApiError(422, "invalid referral", errors=r.errors)
        return JSONResponse(_for_scorer(answer.scores)[0].model_dump(mode="json"))
    if not answer.scores:
        raise ApiError(422, "no valid referral in the list", rejected=rejected)
    batch = ScoreBatch(
        request_id=request_id,
        model_version=answer.scores[0].model_version,
        degraded=answer.degraded_reason is not None,
        scores=_for_scorer(answer.scores),
        rejected=rejected,
    )
    return JSONResponse(batch.model_dump(mode="json"))


def _for_scorer(scores: list[Score]) -> list[Score]:
    """The queue system is not told which case a referral joined (``docs/security.md``):
    ``case_id`` is null in its answer; reviewers see it on the stored score."""
    return [s.model_copy(update={"case_id": None}) for s in scores]


def _account(rt: Runtime, answer: Answer) -> None:
    rt.metrics.scored(answer.scores, answer.degraded_reason)
    if answer.rejected:
        rt.metrics.rejected.inc(len(answer.rejected))
    logs.event(
        "scored",
        request_id=answer.request_id,
        scored=len(answer.scores),
        rejected=len(answer.rejected),
        degraded=answer.degraded_reason is not None,
        reason=answer.degraded_reason,
        tiers=dict(Counter(s.tier for s in answer.scores)),
        model_version=answer.scores[0].model_version if answer.scores else rt.version,
    )


M = TypeVar("M", bound=BaseModel)


def _json_body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a route that reads ``model`` as JSON itself."""
    schema = inline_schema(model.model_json_schema())
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


async def _parse(request: Request, model: type[M], what: str) -> M:
    """The body as one ``model`` object; 422 naming each bad field otherwise."""
    value = await read_json(request)
    if not isinstance(value, dict):
        raise ApiError(422, f"expected {'an' if what[0] in 'aeiou' else 'a'} {what} object")
    try:
        return model.model_validate(value)
    except ValidationError as e:
        raise ApiError(422, f"invalid {what}", errors=field_errors(problems_from(e))) from None


@app.post(
    "/feedback",
    response_model=FeedbackAnswer,
    status_code=201,
    responses={
        200: {"model": FeedbackAnswer, "description": "already recorded"},
        404: {"model": ErrorAnswer},
        409: {"model": ErrorAnswer, "description": "the score decided on was superseded"},
        **_ERRORS,
    },
    openapi_extra=_json_body(Feedback),
    summary="Record a reviewer's decision (201), or recognise a retry of one (200)",
)
async def feedback(request: Request, rt: Rt) -> Response:
    """The decision is bound to ``score_id``, the score the reviewer was shown (required):
    409 with the current score if a newer one superseded it. The recorded reviewer is the
    token's person; a ``reviewer`` sent must be that name (else 403)."""
    fb = await _parse(request, Feedback, "feedback")
    if fb.score_id is None:
        raise ApiError(
            422,
            "invalid feedback",
            errors=[{"path": "score_id", "reason": "required: the score you were shown"}],
        )
    try:
        by = getattr(request.state, "principal", None)
        record, created = await anyio.to_thread.run_sync(rt.store.add_decision, fb, by)
    except UnknownReferral:
        raise ApiError(404, "no scored referral with this referral_id") from None
    except SupersededScore as e:
        request.state.shown_referrals = [fb.referral_id]  # the current score is shown: logged
        raise ApiError(
            409,
            "a newer score has superseded the one decided on: review it and decide again",
            current_score_id=e.current_score_id,
            current=await anyio.to_thread.run_sync(_score_of, rt, fb.referral_id, e),
        ) from None
    except NotThisPerson as e:
        raise ApiError(403, str(e)) from None
    except SameReviewer as e:
        errors = [{"path": e.field, "reason": e.reason}]
        raise ApiError(409, "invalid feedback", errors=errors) from None
    except StoreError as e:
        raise ApiError(
            422, "invalid feedback", errors=[{"path": e.field, "reason": e.reason}]
        ) from None
    if created:
        await anyio.to_thread.run_sync(_after_decision, rt, record)
    logs.event(
        "decision", request_id=request.state.request_id, decision=fb.decision, created=created
    )
    body = FeedbackAnswer(created=created, decision=record).model_dump(mode="json")
    return JSONResponse(body, 201 if created else 200)


def _score_of(rt: Runtime, referral_id: str, e: SupersededScore) -> dict[str, Any] | None:
    stored = rt.store.referral(referral_id)
    current = (
        next((s for s in stored.scores if s.id == e.current_score_id), None) if stored else None
    )
    return current.score.model_dump(mode="json") if current else None


@app.post(
    "/outcomes",
    response_model=OutcomeAnswer,
    status_code=201,
    responses={
        200: {"model": OutcomeAnswer, "description": "already recorded"},
        404: {"model": ErrorAnswer},
        **_ERRORS,
    },
    openapi_extra=_json_body(OutcomeReport),
    summary="Record what the police of jurisdiction found (201), or recognise a retry (200)",
)
async def outcome(request: Request, rt: Rt) -> Response:
    report = await _parse(request, OutcomeReport, "outcome report")
    try:
        by = getattr(request.state, "principal", None)
        record, created = await anyio.to_thread.run_sync(rt.store.add_outcome, report, by)
    except UnknownReferral:
        raise ApiError(404, "no scored referral with this referral_id") from None
    logs.event("outcome", request_id=request.state.request_id, created=created)
    body = OutcomeAnswer(created=created, outcome=record).model_dump(mode="json")
    return JSONResponse(body, 201 if created else 200)


def _after_decision(rt: Runtime, record: Any) -> None:
    """Metrics by the tier the model had given (the referral's best label went into the
    store's history with the decision: ``serving/label_updates.py``)."""
    stored = rt.store.referral(record.referral_id)
    if stored is None:
        return
    score = next((s.score for s in stored.scores if s.id == record.score_id), None)
    if score is not None and record.review != "second_blind":  # blind: no tier was shown
        rt.metrics.decided(record.decision, score.tier)


@app.get("/queue", response_model=QueuePage, responses=_ERRORS)
def queue(
    request: Request,
    rt: Rt,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
    tier: Tier | None = None,
    source: Source | None = None,
) -> QueuePage:
    """Scored referrals awaiting confirmation, highest priority *now* first: each item's
    ``priority_now`` is computed at this request from its ``priority`` at scoring, the
    time waited against its tier's target and the hours left to its preservation
    deadline, with ``aged_because`` in words (contract §6 v1.1)."""
    items = rt.store.queue(limit=limit, offset=offset, tier=tier, source=source, policy=rt.policy)
    request.state.shown_referrals = [i.referral_id for i in items]  # for the access log
    return QueuePage(items=items, limit=limit, offset=offset, model_version=rt.version)


@app.get(
    "/referrals/{referral_id}",
    response_model=ReferralRecord,
    responses={404: {"model": ErrorAnswer}, **_ERRORS},
)
def referral(
    referral_id: Annotated[str, Path(pattern=ID_PATTERN, max_length=64)], rt: Rt
) -> ReferralRecord:
    """A scored referral (pseudonymised, without free text): every score with its reasons,
    and every decision."""
    record = rt.store.referral(referral_id)
    if record is None:
        raise ApiError(404, "no scored referral with this referral_id")
    return record


@app.get(
    "/model", responses={200: {"description": "JSON; card.html with Accept: text/html"}, **_ERRORS}
)
def model(request: Request, rt: Rt) -> Response:
    """The model answering: concrete version, metrics, card and evaluation (if trained with
    them); in degraded mode the rules' version and why."""
    if "text/html" in request.headers.get("accept", ""):
        html = rt.card_html()
        if html is None:
            raise ApiError(404, "this model has no HTML card")
        return HTMLResponse(html)
    return JSONResponse(json.loads(json.dumps(rt.model_info(), default=str)))


@app.get("/drift", responses={404: {"model": ErrorAnswer}, **_ERRORS})
def drift(rt: Rt) -> Response:
    """The latest drift report written by ``triage monitor``."""
    path = rt.drift_file()
    if not path.is_file():
        raise ApiError(404, "no drift report yet: `triage monitor` writes one")
    try:
        return JSONResponse(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        raise ApiError(
            503, "the drift report could not be read; run `triage monitor` again"
        ) from None
