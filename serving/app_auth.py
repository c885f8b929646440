"""The service's front door, as one ASGI middleware: probes, bearer auth, body limit,
request ids, latency metrics and one structured log line per request.

It wraps every route, BentoML's own included, so nothing is reachable without passing
:data:`serving.auth.PERMISSIONS`: 401 without a valid token, 403 with the wrong role.
Health, readiness, metrics and the reviewer page's static files are open
(:data:`serving.auth.PUBLIC`); the data the page shows comes from API calls with a token.
``/healthz`` (and BentoML's name for it, ``/livez``) and ``/readyz`` are answered here, as JSON that says whether the service is
degraded and which model version answers (BentoML's own probes only say "up"). Every
response carries ``X-Request-ID`` and ``X-Model-Version``.

The request body is capped (:data:`MAX_BODY`) before any route reads it: a declared
``Content-Length`` over the cap is refused at once, and a streamed body is cut off as soon
as it passes it (413 either way).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from serving import logs
from serving.auth import PUBLIC, Principal, authenticate, bearer, is_allowed, route_key
from serving.runtime import Runtime, RuntimeRef

MAX_BODY = 10 * 1024 * 1024
_QUIET = frozenset({"GET /healthz", "GET /livez", "GET /readyz", "GET /metrics"})


class GatewayMiddleware:
    """See the module docstring. ``ref`` is filled in when the service has started."""

    def __init__(self, app: ASGIApp, ref: RuntimeRef, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.ref = ref
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        key = route_key(scope["method"], scope["path"])
        request_id = uuid.uuid4().hex
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        rt = self.ref.current
        status = [500]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
                headers = MutableHeaders(scope=message)
                headers["X-Request-ID"] = request_id
                headers["Cache-Control"] = "no-store"
                if rt is not None:
                    headers["X-Model-Version"] = rt.version
            await send(message)

        try:
            await self._route(scope, receive, send_with_headers, key, rt)
        finally:
            self._record(rt, key, status[0], time.perf_counter() - started, state)

    async def _route(
        self, scope: Scope, receive: Receive, send: Send, key: str | None, rt: Runtime | None
    ) -> None:
        if key in ("GET /healthz", "GET /livez"):
            await _json({"status": "ok"}, 200)(scope, receive, send)
            return
        if rt is None:
            await _json({"error": "service is starting"}, 503)(scope, receive, send)
            return
        if key == "GET /readyz":
            await _readiness(rt)(scope, receive, send)
            return
        if key in PUBLIC:
            await self.app(scope, receive, send)
            return
        principal = await _principal(rt, scope)
        if principal is None:
            await _json(
                {"error": "missing or invalid bearer token"},
                401,
                {"WWW-Authenticate": 'Bearer realm="referral-triage"'},
            )(scope, receive, send)
            return
        scope["state"]["principal"] = principal
        if key is None:
            await _json({"error": "no such endpoint"}, 404)(scope, receive, send)
            return
        if not is_allowed(principal.role, scope["method"], scope["path"]):
            await _json({"error": f"the {principal.role} role may not call {key}"}, 403)(
                scope, receive, send
            )
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _json(_too_large(self.max_body), 413)(scope, receive, send)
            return
        await self.app(scope, _capped(receive, self.max_body), send)

    @staticmethod
    def _record(
        rt: Runtime | None, key: str | None, status: int, seconds: float, state: dict[str, Any]
    ) -> None:
        endpoint = key or "other"
        if rt is not None:
            rt.metrics.request(endpoint, status, seconds)
        if key in _QUIET and status < 500:
            return
        principal = state.get("principal")
        logs.event(
            "request",
            logging.WARNING if status >= 500 else logging.INFO,
            request_id=state.get("request_id"),
            endpoint=endpoint,
            status=status,
            ms=round(seconds * 1000, 2),
            role=principal.role if isinstance(principal, Principal) else None,
        )


async def _principal(rt: Runtime, scope: Scope) -> Principal | None:
    raw = bearer(Headers(scope=scope).get("authorization"))
    if raw is None:
        return None
    return await anyio.to_thread.run_sync(authenticate, rt.store, raw)


async def _ready(rt: Runtime) -> bool:
    return bool(await anyio.to_thread.run_sync(rt.store.is_current))


def _readiness(rt: Runtime) -> Any:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        store_ok = await _ready(rt)
        body = {
            "ready": store_ok,
            "degraded": rt.degraded,
            "degraded_reason": rt.degraded_reason,
            "model_version": rt.version,
            "store": "ok" if store_ok else "unavailable",
        }
        await _json(body, 200 if store_ok else 503)(scope, receive, send)

    return app


def _json(body: dict[str, Any], status: int, headers: dict[str, str] | None = None) -> Any:
    return JSONResponse(body, status_code=status, headers=headers)


def _too_large(limit: int) -> dict[str, Any]:
    return {"error": f"request body larger than {limit // (1024 * 1024)} MiB"}


def _capped(receive: Receive, limit: int) -> Receive:
    """A ``receive`` that refuses (413) a body growing past ``limit`` bytes."""
    seen = 0

    async def wrapped() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise HTTPException(413, _too_large(limit)["error"])
        return message

    return wrapped
