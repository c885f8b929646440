"""The scoring service: one BentoML 1.4 service (``@bentoml.service``) for ``contract.md`` §6.

``bentoml serve serving.service:TriageService`` (or ``triage serve``) starts it. The routes
are a FastAPI app (:mod:`serving.api`) mounted on the service, because the contract needs
GET routes with path and query parameters and its own error shape, which ``@bentoml.api``
(POST only, BentoML's error format) cannot give; BentoML still provides the server,
worker management, the request timeout, ``/metrics`` and the OpenAPI document at
``/docs.json``, which includes the mounted routes. Everything passes
:class:`serving.app_auth.GatewayMiddleware` first (auth, body limit, probes).

``TRIAGE_WORKERS`` workers (``triage serve --workers N``, default 1): the linking history's
truth is the store (``serving/sightings.py``), so every worker computes the same features;
each worker dies with its supervisor (``serving/lifeline.py``). LightGBM runs with one
thread. No BentoML adaptive batching: concurrent requests are merged by
:class:`serving.scoring.Scorer` instead (group commit), after each request has validated
its own referrals, so validation answers stay per request and the history's
point-in-time order is kept (``docs/service.md``).
"""

from __future__ import annotations

import os

import bentoml

from features.config import Settings
from serving.anchor import start_anchoring
from serving.api import app
from serving.app_auth import GatewayMiddleware
from serving.lifeline import die_with_parent
from serving.runtime import CURRENT, Runtime, start

#: Seconds before a request is answered 504 (BentoML's traffic timeout). A full batch of
#: 1,000 referrals with explanations takes a few seconds on two cores.
REQUEST_TIMEOUT_S = 60
#: Requests in flight per worker before BentoML answers 429 (probes are exempt).
MAX_CONCURRENCY = 64
#: Worker processes (``triage serve --workers N`` sets it).
WORKERS = max(1, int(os.environ.get("TRIAGE_WORKERS", "1") or "1"))


@bentoml.service(
    name="referral_triage",
    workers=WORKERS,
    threads=1,
    traffic={"timeout": REQUEST_TIMEOUT_S, "max_concurrency": MAX_CONCURRENCY},
    # BentoML's access log records client addresses: our gateway logs requests instead.
    logging={"access": {"enabled": False}},
    metrics={"enabled": True},
)
@bentoml.asgi_app(app, path="/")
class TriageService:
    """Advisory triage of referrals; every answer names the model version that made it."""

    def __init__(self) -> None:
        die_with_parent()  # never a worker without its supervisor
        self.runtime: Runtime = start(Settings())
        CURRENT.current = self.runtime
        self.anchors = start_anchoring(self.runtime)

    def __metrics__(self, content: str) -> str:
        """BentoML's metrics; ours are among them when prometheus_client runs in
        multiprocess mode (always under ``bentoml serve``), else appended here."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            return content
        return content + self.runtime.metrics.render()

    @bentoml.on_shutdown
    def close(self) -> None:
        CURRENT.current = None
        if self.anchors is not None:
            self.anchors.stop()  # the last anchor: the heads as the service leaves them
        self.runtime.close()


TriageService.add_asgi_middleware(GatewayMiddleware, ref=CURRENT)  # type: ignore[attr-defined]
