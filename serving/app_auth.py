"""The service's front door, as one ASGI middleware: probes, bearer auth, body limit,
request ids, latency metrics and one structured log line per request.

It wraps every route, BentoML's own included, so nothing is reachable without passing
:data:`serving.auth.PERMISSIONS`: 401 without a valid token, 403 with the wrong role.
Health, readiness, metrics and the reviewer page's static files are open
(:data:`serving.auth.PUBLIC`); the data the page shows comes from API calls with a token.
``/healthz`` (and BentoML's name for it, ``/livez``) and ``/readyz`` are answered here, as JSON that says whether the service is
degraded and which model version answers (BentoML's own probes only say "up"). Every
response carries ``X-Request-ID`` and ``X-Model-Version``.

Every read of referral data (:data:`AUDITED`: a referral, the queue, ...) is written to
the access log (:mod:`serving.access_log`) *before* its answer leaves: the record is made
when the route's response starts, and if it cannot be stored the client gets 503 instead
of the data. Every refused request (401, 403, a route outside the table) is recorded too,
with the client's address. Failed authentications are counted (metric
``triage_auth_failures``); many from one address in a short time raise a warning log
event ``auth_failures_repeated`` and ``triage_auth_failure_alarms``, for alerting.

The request body is capped (:data:`MAX_BODY`) before any route reads it: a declared
``Content-Length`` over the cap is refused at once, and a streamed body is cut off as soon
as it passes it (413 either way).
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections import deque
from typing import Any

import anyio.to_thread
from starlette.datastructures import Headers, MutableHeaders
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from features.contract import ID_PATTERN
from serving import logs
from serving.access_log import Access
from serving.auth import PUBLIC, Principal, authenticate, bearer, is_allowed, route_key
from serving.runtime import Runtime, RuntimeRef

MAX_BODY = 10 * 1024 * 1024
_QUIET = frozenset({"GET /healthz", "GET /livez", "GET /readyz", "GET /metrics"})
#: Reads of referral data, recorded in the access log (route key → action). A route that
#: shows several referrals puts their ids in ``scope["state"]["shown_referrals"]``.
AUDITED: dict[str, str] = {
    "GET /queue": "read_queue",
    "GET /referrals/{id}": "read_referral",
    "GET /cases": "read_cases",
    "GET /cases/{id}": "read_case",
    "GET /referrals/{id}/explanation": "read_explanation",
    "GET /second-review": "read_blind_queue",
    "GET /second-review/{id}": "read_blind_referral",
}
#: Routes whose answer shows a referral's score only with one status: a decision on a
#: superseded score answers 409 with the current score, which is a read of that referral.
AUDITED_IF: dict[str, tuple[int, str]] = {"POST /feedback": (409, "read_superseded_score")}
#: Failed authentications from one address within the window that raise the alarm.
FAILURE_ALARM = (20, 300.0)
_ID = re.compile(ID_PATTERN)


class FailureWatch:
    """Counts failed authentications per client address in a sliding window; says when a
    count reaches the alarm threshold (once per window and address)."""

    def __init__(self, threshold: int = FAILURE_ALARM[0], window_s: float = FAILURE_ALARM[1]):
        self.threshold, self.window_s = threshold, window_s
        self._seen: dict[str, deque[float]] = {}

    def failed(self, client: str, now: float) -> int | None:
        """Note a failure; the count in the window when it reaches the threshold, else None."""
        if len(self._seen) > 10_000:  # addresses that went quiet: forget them
            self._seen = {k: v for k, v in self._seen.items() if v and v[-1] > now - self.window_s}
        times = self._seen.setdefault(client, deque())
        times.append(now)
        while times and times[0] <= now - self.window_s:
            times.popleft()
        return len(times) if len(times) == self.threshold else None


class GatewayMiddleware:
    """See the module docstring. ``ref`` is filled in when the service has started."""

    def __init__(self, app: ASGIApp, ref: RuntimeRef, max_body: int = MAX_BODY) -> None:
        self.app = app
        self.ref = ref
        self.max_body = max_body
        self.failures = FailureWatch()

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
            await self._failed_auth(rt, scope, key)
            await _json(
                {"error": "missing, invalid or expired bearer token"},
                401,
                {"WWW-Authenticate": 'Bearer realm="referral-triage"'},
            )(scope, receive, send)
            return
        scope["state"]["principal"] = principal
        if key is None:
            await _refused(rt, scope, key, 404, principal)
            await _json({"error": "no such endpoint"}, 404)(scope, receive, send)
            return
        if not is_allowed(principal.role, scope["method"], scope["path"]):
            await _refused(rt, scope, key, 403, principal)
            await _json({"error": f"the {principal.role} role may not call {key}"}, 403)(
                scope, receive, send
            )
            return
        length = Headers(scope=scope).get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body:
            await _json(_too_large(self.max_body), 413)(scope, receive, send)
            return
        if key in AUDITED:
            send = _audited(rt, scope, AUDITED[key], principal, send)
        elif key in AUDITED_IF:
            status, action = AUDITED_IF[key]
            send = _audited(rt, scope, action, principal, send, only_status=status)
        await self.app(scope, _capped(receive, self.max_body), send)

    async def _failed_auth(self, rt: Runtime, scope: Scope, key: str | None) -> None:
        rt.metrics.auth_failures.inc()
        reached = self.failures.failed(_client(scope) or "unknown", time.monotonic())
        if reached is not None:
            rt.metrics.auth_alarms.inc()
            logs.event(
                "auth_failures_repeated",
                logging.WARNING,
                failures=reached,
                window_s=int(self.failures.window_s),
                endpoint=key or "other",
            )
        await _refused(rt, scope, key, 401, None)

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


def _client(scope: Scope) -> str | None:
    client = scope.get("client")
    return str(client[0])[:64] if client else None


def _path_ids(scope: Scope) -> tuple[str, ...]:
    """The referral id in a ``/referrals/{id}...`` or ``/second-review/{id}`` path, if it
    is a valid id."""
    parts = scope["path"].split("/")
    if len(parts) > 2 and parts[1] in ("referrals", "second-review") and _ID.fullmatch(parts[2]):
        return (parts[2],)
    return ()


def _entry(
    scope: Scope, action: str, status: int, principal: Principal | None, detail: str | None
) -> Access:
    shown = scope.get("state", {}).get("shown_referrals")
    return Access(
        action=action,
        status=status,
        actor=principal.name if principal else None,
        token_id=principal.token_id if principal else None,
        role=principal.role if principal else None,
        client=_client(scope),
        referral_ids=tuple(shown) if shown is not None else _path_ids(scope),
        detail=detail,
    )


async def _refused(
    rt: Runtime, scope: Scope, key: str | None, status: int, principal: Principal | None
) -> None:
    """Record a refused request; a store failure here must not turn a refusal into a 500."""
    detail = f"{scope['method']} {key or 'unknown route'}"[:256]
    try:
        await anyio.to_thread.run_sync(
            rt.store.record_access, _entry(scope, "refused", status, principal, detail)
        )
    except Exception as e:  # the refusal stands; the failure is logged for the operator
        logs.event("access_log_failed", logging.ERROR, error_type=type(e).__name__)


def _audited(
    rt: Runtime,
    scope: Scope,
    action: str,
    principal: Principal,
    send: Send,
    only_status: int | None = None,
) -> Send:
    """A ``send`` that records the read in the access log before the answer starts (only
    an answer of ``only_status`` when given); if the record cannot be stored, the client
    gets 503 and the data is withheld."""
    failed = False

    async def wrapped(message: Message) -> None:
        nonlocal failed
        if failed:
            return
        if message["type"] == "http.response.start" and (
            only_status is None or message["status"] == only_status
        ):
            entry = _entry(scope, action, message["status"], principal, None)
            try:
                await anyio.to_thread.run_sync(rt.store.record_access, entry)
            except Exception as e:
                failed = True
                logs.event("access_log_failed", logging.ERROR, error_type=type(e).__name__)
                body = {"error": "the read could not be recorded: nothing shown, retry"}
                response = JSONResponse(body, status_code=503)
                await response(scope, _no_body, send)
                return
        await send(message)

    return wrapped


async def _no_body() -> Message:
    return {"type": "http.request", "body": b"", "more_body": False}


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
