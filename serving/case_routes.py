"""The case routes (contract §6 v1.1, §8), reviewer only (:data:`serving.auth.PERMISSIONS`):

* ``GET /cases``: open cases of two referrals or more, most urgent now first, paginated
  like ``GET /queue`` (bounded ``limit`` and ``offset``; :mod:`serving.case_views`);
* ``GET /cases/{id}``: one case with its members; 404 naming the id when unknown;
* ``POST /cases/{id}/decision``: one package decision for the case, one chained decision
  per member, all or nothing (:mod:`serving.case_decisions`).

Every read is recorded in the access log with the ids of the referrals it showed
(:data:`serving.app_auth.AUDITED`). Ids are checked against the service's case id pattern
before anything is looked up.
"""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError

from features.ingest import problems_from
from serving.case_decisions import CaseChanged, PackageAnswer, PackageDecision, decide
from serving.case_ids import CASE_ID_PATTERN
from serving.case_views import MAX_CASE_PAGE, CasePage, CaseView, case_of, list_cases
from serving.http_io import ApiError, read_json
from serving.queries import MAX_OFFSET
from serving.records import NotThisPerson, StoreError, SupersededScore
from serving.runtime import CURRENT, Runtime
from serving.schemas import ErrorAnswer, field_errors, inline_schema

router = APIRouter()


def _runtime() -> Runtime:
    return CURRENT.get()


Rt = Annotated[Runtime, Depends(_runtime)]
CaseId = Annotated[str, Path(pattern=CASE_ID_PATTERN, max_length=64)]
_ERRORS: dict[int | str, dict[str, Any]] = {
    s: {"model": ErrorAnswer} for s in (400, 401, 403, 413, 422, 503)
}


@router.get("/cases", response_model=CasePage, responses=_ERRORS)
def cases(
    request: Request,
    rt: Rt,
    limit: Annotated[int, Query(ge=1, le=MAX_CASE_PAGE)] = 20,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
) -> CasePage:
    """Open cases (two referrals or more, at least one awaiting a decision), the most
    urgent now first: a case's ``priority_now`` is its most urgent awaiting member's."""
    page = list_cases(rt, limit, offset)
    request.state.shown_referrals = [r for c in page.items for r in c.referral_ids]
    return page


@router.get(
    "/cases/{case_id}", response_model=CaseView, responses={404: {"model": ErrorAnswer}, **_ERRORS}
)
def case(request: Request, case_id: CaseId, rt: Rt) -> CaseView:
    """One case as known now: members, what links them, its route and reasons."""
    view = case_of(rt, case_id)
    if view is None:
        raise ApiError(404, f"no case with the id {case_id}")
    request.state.shown_referrals = list(view.referral_ids)
    return view


_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": inline_schema(PackageDecision.model_json_schema())}
        },
    }
}


@router.post(
    "/cases/{case_id}/decision",
    response_model=PackageAnswer,
    status_code=201,
    responses={
        200: {"model": PackageAnswer, "description": "already recorded"},
        404: {"model": ErrorAnswer},
        409: {"model": ErrorAnswer, "description": "the case or a member's score changed"},
        **_ERRORS,
    },
    openapi_extra=_BODY,
    summary="One package decision for a case: a decision per member, all or nothing",
)
async def package_decision(request: Request, case_id: CaseId, rt: Rt) -> Response:
    value = await read_json(request)
    if not isinstance(value, dict):
        raise ApiError(422, "expected a package decision object")
    try:
        body = PackageDecision.model_validate(value)
    except ValidationError as e:
        errors = field_errors(problems_from(e))
        raise ApiError(422, "invalid package decision", errors=errors) from None
    by = getattr(request.state, "principal", None)
    try:
        answer = await anyio.to_thread.run_sync(decide, rt, case_id, body, by)
    except CaseChanged as e:
        raise ApiError(
            409,
            "the case has changed since it was shown: review it and decide again",
            current={"case_id": case_id, "referral_ids": e.members},
        ) from None
    except SupersededScore:
        raise ApiError(409, "a member was re-scored meanwhile: review the case again") from None
    except NotThisPerson as e:
        raise ApiError(403, str(e)) from None
    except StoreError as e:
        raise ApiError(
            422, "invalid package decision", errors=[{"path": e.field, "reason": e.reason}]
        ) from None
    if answer is None:
        raise ApiError(404, f"no case with the id {case_id}")
    return JSONResponse(answer.model_dump(mode="json"), 201 if answer.created else 200)
