"""What the store hands out: frozen pydantic records, and its errors.

Records are plain values (no session attached), so the service can return them as JSON
(``model_dump(mode="json")``) after the transaction that read them has ended. They may
hold a reviewer's free-text ``reason``: show it to reviewers, never log it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, computed_field

from features.contract import (
    IncidentType,
    Outcome,
    Referral,
    Review,
    Role,
    Score,
    Source,
    Tier,
    Urgency,
    Viability,
)
from features.ingest import load_trusted
from features.labels import Provenance
from serving.db_models import AccessRow, DecisionRow, ReferralRow, ScoreRow, TokenRow


class StoreError(Exception):
    """A request the store refuses. ``field`` names the offending input; no values quoted."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class UnknownReferral(StoreError, LookupError):
    """The referral was never scored here, so there is nothing to decide on."""

    def __init__(self) -> None:
        super().__init__("referral_id", "no scored referral with this id in the store")


class SupersededScore(StoreError):
    """The decision names a score that a newer one has replaced: the reviewer decided on
    something no longer current. ``current_score_id`` is the one to show them instead."""

    def __init__(self, current_score_id: int) -> None:
        super().__init__("score_id", "a newer score has superseded the one decided on")
        self.current_score_id = current_score_id


class NotThisPerson(StoreError):
    """The feedback names a reviewer other than the authenticated token's person."""

    def __init__(self) -> None:
        super().__init__("reviewer", "must be the name of the token's holder (or left out)")


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True)


class DecisionRecord(_Record):
    """One entry of the decision log, as stored (with its place in the hash chain)."""

    id: int
    referral_id: str
    score_id: int
    reviewer: str
    decision: Literal["confirm", "override"]
    recorded_by: str | None = Field(
        default=None, description="name of the bearer token that recorded it (None: no token)"
    )
    recorded_by_token: int | None = None
    tier: Tier
    viability: Viability
    reason: str | None
    model_version: str
    urgency_assessed: Urgency | None = None
    review: Review | None = Field(default=None, description="None: recorded before v1.1")
    decided_at: AwareDatetime
    idempotency_key: str
    prev_hash: str
    hash: str

    def outcome(self) -> Outcome | None:
        """The training label this decision gives (``contract.md`` §5 "Labels"), or None.

        The urgency is the reviewer's own ``urgency_assessed``. A tier alone is never an
        urgency label: the tier is a workload band the model set, and a one-click
        confirmation of it is the model's label, not the reviewer's. So a decision
        without an assessment gives no label, and it adds nothing to the history features
        (``platform_urgent_rate``, ``link_prior_urgent``), which training computed from
        outcomes."""
        if self.urgency_assessed is None:
            return None
        return Outcome(
            viability=self.viability, urgency=self.urgency_assessed, decided_at=self.decided_at
        )

    @property
    def provenance(self) -> Provenance:
        """A blind second review, or a first review made with the model's output shown."""
        return "blind_review" if self.review == "second_blind" else "shown_review"

    @classmethod
    def of(cls, row: DecisionRow) -> DecisionRecord:
        return cls.model_validate(row, from_attributes=True)


class StoredScore(_Record):
    """One inference-log entry: the score as answered, and the features it was made from."""

    id: int
    request_id: str
    recorded_at: AwareDatetime
    score: Score
    features: dict[str, Any]
    #: the referral exactly as this score saw it (None: scored before this was kept)
    referral: Referral | None = None

    @classmethod
    def of(cls, row: ScoreRow) -> StoredScore:
        return cls(
            id=row.id,
            request_id=row.request_id,
            recorded_at=row.recorded_at,
            score=Score.model_validate(row.score),
            features=row.features,
            referral=load_trusted(row.document) if row.document is not None else None,
        )


class ReferralRecord(_Record):
    """A referral with its whole history here: every score and every decision, oldest first.

    ``referral`` is the latest document; each score carries the version it was made from,
    so a re-scored referral shows every earlier version. Documents are pseudonymised, with ``narrative`` removed and
    ``escalation_reason`` replaced by a marker (so ``referral.escalated`` still works).
    """

    referral: Referral
    first_recorded_at: AwareDatetime
    scores: list[StoredScore]
    decisions: list[DecisionRecord]


class QueueItem(_Record):
    """A referral awaiting a decision on its latest score."""

    referral_id: str
    source: Source
    received_at: AwareDatetime
    escalated: bool
    score_id: int
    score: Score
    #: So a reviewer can scan the queue by kind of incident without opening each referral.
    incident_type: IncidentType | None = None
    #: The latest score's priority when it was scored (= ``score.priority``).
    priority: float
    #: The order of the queue when it was read (``models.ageing``): never below
    #: ``priority``, never outside the tier's band; not rounded.
    priority_now: float
    #: Why ``priority_now`` differs from ``priority``, in words (time waited against the
    #: tier's target, hours to the preservation deadline); null when it has barely moved.
    aged_because: str | None = None


class ChainCheck(_Record):
    """The result of verifying the decision log."""

    ok: bool
    checked: int
    head_hash: str
    first_bad_id: int | None = None
    reason: str | None = None

    head_id: int = 0
    what: str = "decision"

    def __str__(self) -> str:
        if self.ok:
            return f"OK: {self.checked} {self.what}s, chain intact, head {self.head_hash}"
        return f"BROKEN at {self.what} {self.first_bad_id}: {self.reason}"


class Counts(_Record):
    """Sizes for health and metrics endpoints."""

    referrals: int
    scores: int
    decisions: int
    awaiting_review: int
    active_tokens: int


class OverrideRate(_Record):
    """Decisions and overrides in one time window, for the tier the model had given."""

    start: AwareDatetime
    end: AwareDatetime
    tier: Tier
    decisions: int
    overrides: int

    @computed_field  # type: ignore[prop-decorator]
    @property
    def rate(self) -> float:
        return self.overrides / self.decisions if self.decisions else 0.0


class TokenInfo(_Record):
    """What may be shown about a token: never the token or its hash."""

    id: int
    name: str
    role: Role
    created_at: datetime
    revoked: bool
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    created_by: str | None = None
    revoked_by: str | None = None
    rotated_from: int | None = None

    def state(self, now: datetime) -> str:
        if self.revoked:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"

    @classmethod
    def of(cls, row: TokenRow) -> TokenInfo:
        return cls.model_validate(row, from_attributes=True)


class AccessRecord(_Record):
    """One access-log entry: who (token, person, role), from where, did what, to which
    referrals, with what result. ``client`` is the network address the request came from."""

    id: int
    at: AwareDatetime
    action: str
    status: int
    actor: str | None
    token_id: int | None
    role: str | None
    client: str | None
    referral_ids: list[str]
    detail: str | None
    prev_hash: str
    hash: str

    @classmethod
    def of(cls, row: AccessRow) -> AccessRecord:
        return cls.model_validate(row, from_attributes=True)


def referral_of(row: ReferralRow) -> Referral:
    return load_trusted(row.document)
