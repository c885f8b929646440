"""The service's Prometheus metrics, in their own registry.

Under ``bentoml serve`` prometheus_client runs in multiprocess mode: values live in files
that BentoML's ``/metrics`` collector reads, ours included, so they appear there beside
BentoML's. Outside it (in-process use) :meth:`Metrics.render` gives the text, which the
service appends itself. Our own registry keeps a second ``Metrics`` (tests, restarts in
one process) from colliding with the first. Labels are route templates, tiers and reasons
only: never a referral id, a reviewer or anything a request carried.
"""

from __future__ import annotations

from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from features.contract import Score

#: Seconds; single scores take milliseconds, a 1,000-referral batch about a second.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """Request latency by endpoint, scores by tier, overrides by tier, degraded answers."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.latency = Histogram(
            "triage_request_duration_seconds",
            "Time to answer a request, by endpoint (route template) and status class.",
            ["endpoint", "status"],
            buckets=BUCKETS,
            registry=r,
        )
        self.scores = Counter(
            "triage_scores", "Referrals scored, by tier given.", ["tier"], registry=r
        )
        self.degraded = Counter(
            "triage_degraded_answers",
            "Referrals scored by the safety rules alone, by why (no_model, model_error).",
            ["reason"],
            registry=r,
        )
        self.rejected = Counter(
            "triage_rejected_referrals", "Referrals refused as invalid.", registry=r
        )
        self.decisions = Counter(
            "triage_decisions",
            "Reviewer decisions recorded, by decision and the tier the model had given.",
            ["decision", "tier"],
            registry=r,
        )
        self.overrides = Counter(
            "triage_overrides",
            "Reviewer overrides recorded, by the tier the model had given.",
            ["tier"],
            registry=r,
        )
        self.auth_failures = Counter(
            "triage_auth_failures",
            "Requests refused for a missing, unknown, expired or revoked token.",
            registry=r,
        )
        self.auth_alarms = Counter(
            "triage_auth_failure_alarms",
            "Times one client address reached the repeated-failure threshold (alert on it).",
            registry=r,
        )
        self.model = Gauge(
            "triage_model_info",
            "1 for the model version being served (rules-* when degraded).",
            ["version", "degraded"],
            registry=r,
            multiprocess_mode="livemax",
        )

    def serving(self, version: str, degraded: bool) -> None:
        self.model.labels(version=version, degraded=str(degraded).lower()).set(1)

    def request(self, endpoint: str, status: int, seconds: float) -> None:
        self.latency.labels(endpoint=endpoint, status=f"{status // 100}xx").observe(seconds)

    def scored(self, scores: Iterable[Score], degraded_reason: str | None) -> None:
        for s in scores:
            self.scores.labels(tier=s.tier).inc()
            if s.degraded:
                self.degraded.labels(reason=degraded_reason or "rules").inc()

    def decided(self, decision: str, model_tier: str) -> None:
        self.decisions.labels(decision=decision, tier=model_tier).inc()
        if decision == "override":
            self.overrides.labels(tier=model_tier).inc()

    def render(self) -> str:
        return generate_latest(self.registry).decode("utf-8")
