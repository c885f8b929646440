"""Reading request bodies and answering refusals, for the routes in :mod:`serving.api`.

Bodies are read as bytes and decoded here (so a bad body gets a message saying what is
wrong with it, never the body itself). Every refusal is JSON ``{"error": ..., "errors":
[{"path", "reason"}]}`` naming fields, never quoting values, and :class:`Sealed` turns an
unexpected exception into a bare 500 logged by exception type only: a traceback's message
could quote request data.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Receive, Scope, Send

from features import strict_json
from serving import logs
from serving.schemas import ErrorAnswer, FieldError


class ApiError(Exception):
    """A refusal with a status and an :class:`ErrorAnswer` body."""

    def __init__(self, status: int, error: str, **extra: Any) -> None:
        super().__init__(error)
        self.status = status
        # Absent parts are left out at the top only: a rejected referral's unreadable id
        # stays ``"referral_id": null``, as the OpenAPI document requires.
        body = ErrorAnswer(error=error, **extra).model_dump(mode="json")
        self.body = {k: v for k, v in body.items() if v is not None}


class Sealed:
    """Innermost guard: an unexpected exception becomes a JSON 500 and one log line with its
    type, never a traceback (whose messages might quote request data) in the server log."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def watch(message: Any) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as e:
            logs.event(
                "unhandled_error",
                logging.ERROR,
                request_id=scope.get("state", {}).get("request_id"),
                error_type=type(e).__name__,
            )
            if not started:
                await JSONResponse({"error": "internal error"}, 500)(scope, receive, send)


def install(app: FastAPI) -> None:
    """Our error shape for our refusals, FastAPI's parameter validation and HTTP errors."""
    app.add_middleware(Sealed)
    app.add_exception_handler(ApiError, _api_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]


async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
    return JSONResponse(exc.body, exc.status)


async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        FieldError(path=".".join(str(p) for p in e["loc"]), reason=e["msg"]).model_dump()
        for e in exc.errors()
    ]
    return JSONResponse({"error": "invalid request", "errors": errors}, 422)


async def _http_error(_: Request, exc: HTTPException) -> JSONResponse:
    return JSONResponse({"error": str(exc.detail)}, exc.status_code, headers=exc.headers)


async def read_json(request: Request) -> Any:
    """The body as one JSON value, read by :func:`features.strict_json.loads` (duplicate keys,
    NaN and over-long integers refused): 400 naming the problem, never quoting the body."""
    body = await request.body()
    if not body.strip():
        raise ApiError(400, "empty body: send a JSON document")
    try:
        return strict_json.loads(body)
    except strict_json.JsonProblem as e:
        raise ApiError(400, f"body is {e}" if str(e).startswith("not ") else f"body: {e}") from None
