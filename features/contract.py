"""The referral contract (``shared/contract.md`` §1, §3–§5) as pydantic models.

These models are the one source of truth: the JSON Schema (``triage schema``), the service's
OpenAPI and every validation error come from them.

Pseudonymisation happens *inside* validation. A raw document must be validated with a
:class:`~features.pseudonyms.Pseudonymiser` in the validation context (see
:func:`features.ingest.parse_referral`); identifier values, IPs and group identifiers are
replaced by keyed digests before the model object exists, so no object that leaves this
layer holds a raw value. Documents that were already pseudonymised (read back from our own
store) are validated with ``{"trusted": True}`` instead. Validating without either fails.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from features.countries import COUNTRY_CODES
from features.phones import phone_region
from features.pseudonyms import Pseudonymiser, is_pseudonym

FUTURE_TOLERANCE = timedelta(minutes=5)

Source = Literal[
    "ncmec",
    "cybertip",
    "industry",
    "domestic_police",
    "foreign_police",
    "rcmp_division",
    "public",
    "other",
]
IncidentType = Literal[
    "csam",
    "trafficking",
    "sex_tourism",
    "molestation",
    "misleading_domain",
    "misleading_content",
    "online_enticement",
    "unsolicited_material",
]
Channel = Literal[
    "web", "email", "newsgroup", "chat", "gaming", "phone", "offline", "p2p", "unknown"
]
IncidentAnnotation = Literal[
    "sextortion", "csam_solicitation", "minor_to_minor", "spam", "sadistic_exploitation"
]
IdentifierKind = Literal[
    "email", "phone", "screen_name", "display_name", "esp_user_id", "profile_url", "device_id"
]
IpEventKind = Literal["login", "registration", "purchase", "upload", "other", "unknown"]
AgeBand = Literal["infant", "prepubescent", "pubescent", "unknown"]
FileKind = Literal["image", "video", "other"]
HashMatch = Literal["known", "similar", "none", "unchecked"]
Relevance = Literal["reported", "supplemental"]
Classification = Literal["A1", "A2", "B1", "B2"]
FileAnnotation = Literal[
    "anime_virtual",
    "potential_meme",
    "viral",
    "possible_self_production",
    "physical_harm",
    "violence_gore",
    "bestiality",
    "live_streaming",
    "infant",
    "generative_ai",
]
Viability = Literal["package", "lead", "unactionable"]
Urgency = Literal["immediate", "high", "routine"]
Tier = Urgency
Role = Literal["scorer", "reviewer", "admin"]

VIABILITY_CLASSES: tuple[Viability, ...] = ("package", "lead", "unactionable")
URGENCY_CLASSES: tuple[Urgency, ...] = ("immediate", "high", "routine")
TIERS: tuple[Tier, ...] = URGENCY_CLASSES

ID_PATTERN = r"^[A-Za-z0-9._:-]{1,64}$"
_ID_RE = re.compile(ID_PATTERN)


def _pseudonymise(kind: str, value: str, info: ValidationInfo) -> str:
    ctx = info.context or {}
    p = ctx.get("pseudonymiser")
    if isinstance(p, Pseudonymiser):
        return p.pseudonym(kind, value)
    if ctx.get("trusted"):
        if not is_pseudonym(value):
            raise ValueError("expected a pseudonym in a trusted (stored) document")
        return value
    raise ValueError("raw identifiers must be validated with a pseudonymiser")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=False)


class Location(_Model):
    """Where a person is believed to be; ``country`` also takes A1 (anonymous proxy), A2, O1."""

    country: str | None = Field(default=None, description="ISO 3166-1 alpha-2, or A1/A2/O1")
    region: str | None = Field(default=None, max_length=100)
    city: str | None = Field(default=None, max_length=100)
    verified: bool | None = None

    @field_validator("country")
    @classmethod
    def _country(cls, v: str | None) -> str | None:
        if v is None:
            return v
        v = v.upper()
        if v not in COUNTRY_CODES:
            raise ValueError("not an ISO 3166-1 alpha-2 code (or A1/A2/O1)")
        return v

    @field_validator("region")
    @classmethod
    def _region(cls, v: str | None) -> str | None:
        return v.upper() if v is not None and len(v) <= 3 else v


class Identifier(_Model):
    kind: IdentifierKind
    value: str = Field(min_length=1, max_length=512, description="pseudonymised on ingestion")
    verified: bool | None = None
    region: str | None = Field(
        default=None,
        max_length=8,
        description="a phone's country (CA-ON: province by area code), derived on ingestion "
        "before the number is pseudonymised; any value given with a raw document is replaced",
    )

    @model_validator(mode="before")
    @classmethod
    def _phone_region(cls, data: Any, info: ValidationInfo) -> Any:
        """The region is read from the raw number here, the only moment it exists."""
        ctx = info.context or {}
        if isinstance(data, dict) and isinstance(ctx.get("pseudonymiser"), Pseudonymiser):
            data = dict(data)
            raw = data.get("value")
            ok = data.get("kind") == "phone" and isinstance(raw, str)
            data["region"] = phone_region(raw) if ok else None
        return data

    @field_validator("value")
    @classmethod
    def _hash(cls, v: str, info: ValidationInfo) -> str:
        kind = info.data.get("kind")
        if kind is None:  # the kind itself failed; its error is already listed
            return v
        return _pseudonymise(str(kind), v, info)


class IpEvent(_Model):
    ip: str = Field(min_length=1, max_length=128, description="pseudonymised on ingestion")
    event: IpEventKind = "unknown"
    at: AwareDatetime | None = None
    possible_proxy: bool | None = None

    @field_validator("ip")
    @classmethod
    def _hash(cls, v: str, info: ValidationInfo) -> str:
        return _pseudonymise("ip", v, info)


class Subject(_Model):
    """A reported person or user account."""

    identifiers: list[Identifier] = Field(default_factory=list, max_length=1000)
    ip_events: list[IpEvent] = Field(default_factory=list, max_length=1000)
    age: int | None = Field(default=None, ge=0, le=120)
    location: Location | None = None
    prior_reports: int = Field(default=0, ge=0)
    group_identifier: str | None = Field(default=None, max_length=512)
    associated_accounts: int = Field(default=0, ge=0)
    account_disabled: bool | None = None
    compromised_account: bool | None = None
    access_to_children: bool | None = None
    known_offender: bool | None = None

    @field_validator("group_identifier")
    @classmethod
    def _hash(cls, v: str | None, info: ValidationInfo) -> str | None:
        return None if v is None or v == "" else _pseudonymise("group", v, info)


class Victim(_Model):
    age: int | None = Field(default=None, ge=0, le=17)
    age_band: AgeBand = "unknown"
    identified: bool | None = None
    location: Location | None = None
    school_known: bool = False


class Recipient(_Model):
    age: int | None = Field(default=None, ge=0, le=120)
    location: Location | None = None


class FileDetails(_Model):
    """Metadata about one file. The file itself is never received."""

    kind: FileKind = "other"
    hash_match: HashMatch = "unchecked"
    viewed_by_reporter: bool | None = None
    publicly_available: bool | None = None
    relevance: Relevance = "reported"
    classification: Classification | None = None
    annotations: list[FileAnnotation] = Field(default_factory=list, max_length=10)
    uploaded_at: AwareDatetime | None = None


class Incident(_Model):
    type: IncidentType
    occurred_at: AwareDatetime | None = None
    platform: str | None = Field(default=None, max_length=200)
    channel: Channel = "unknown"
    annotations: list[IncidentAnnotation] = Field(default_factory=list, max_length=5)


class Batched(_Model):
    reason: Literal["viral_potential_meme"] = "viral_potential_meme"
    accounts: int = Field(ge=1)


class Referral(_Model):
    """One referral (``contract.md`` §1). Unknown fields are rejected so typos surface."""

    referral_id: str = Field(pattern=ID_PATTERN, description="1-64 chars of [A-Za-z0-9._:-]")
    received_at: AwareDatetime = Field(description="ISO 8601 with offset; not in the future")
    source: Source
    source_priority: str | None = Field(default=None, max_length=32)
    escalation_reason: str | None = Field(default=None, max_length=3000)
    incident: Incident
    batched: Batched | None = None
    subjects: list[Subject] = Field(default_factory=list, max_length=200)
    victims: list[Victim] = Field(default_factory=list, max_length=200)
    recipients: list[Recipient] = Field(default_factory=list, max_length=200)
    files: list[FileDetails] = Field(default_factory=list, max_length=10_000)
    bsi_included: bool = False
    narrative: str | None = Field(
        default=None, max_length=10_000, description="free text: never logged, tracked or shown"
    )

    @field_validator("received_at")
    @classmethod
    def _not_future(cls, v: datetime, info: ValidationInfo) -> datetime:
        ctx = info.context or {}
        if ctx.get("trusted"):  # checked when it first came in
            return v
        now = ctx.get("now") or datetime.now(UTC)
        if v > now + FUTURE_TOLERANCE:
            raise ValueError("more than 5 minutes in the future")
        return v

    @property
    def escalated(self) -> bool:
        return bool(self.escalation_reason and self.escalation_reason.strip())

    def __repr_args__(self) -> Any:  # keep free text out of reprs and tracebacks
        for k, v in super().__repr_args__():
            yield (k, "<redacted>" if k in {"narrative", "escalation_reason"} and v else v)


class Outcome(_Model):
    """A historical decision (``contract.md`` §3): the training label."""

    viability: Viability
    urgency: Urgency
    decided_at: AwareDatetime


class Oracle(_Model):
    """The generator's true class probabilities; synthetic data only, never a feature."""

    urgency: dict[Urgency, float]
    viability: dict[Viability, float]


class Truth(_Model):
    """The generator's ground truth for cases and routes; synthetic data only, never a
    feature: who the suspect is (None: the referral names none) and where they really are."""

    suspect_id: str | None = None
    country: str
    province: str | None = None


class Reason(_Model):
    """One top contribution in plain words; ``head`` says which estimate it moved."""

    feature: str
    value: Any = None
    contribution: float
    text: str
    head: Literal["urgency", "viability", "rules"] | None = None


RouteLevel = Literal["province", "agency", "country", "undetermined"]


class Route(_Model):
    """A proposed police of jurisdiction (``contract.md`` §4, §8): a proposal only."""

    destination: str
    level: RouteLevel
    confidence: float = Field(ge=0, le=1)
    evidence: list[str] = Field(default_factory=list)


class Score(_Model):
    """The answer of the service and of batch scoring (``contract.md`` §4). Advisory only."""

    referral_id: str
    priority: float = Field(ge=0, le=100)
    tier: Tier
    urgency: dict[Urgency, float]
    viability: dict[Viability, float]
    reasons: list[Reason]
    safety_rules: list[str]
    retention_deadline: AwareDatetime | None
    model_version: str
    scored_at: AwareDatetime
    degraded: bool
    needs_confirmation: Literal[True] = True
    # contract v1.1 (optional for v1 clients; the service always fills the ones it knows)
    policy_version: str | None = None
    urgency_band: int | None = Field(default=None, ge=1, le=20)
    urgency_set: list[Urgency] | None = None
    cannot_rule_out_immediate: bool | None = None
    second_review: bool = False
    case_id: str | None = None
    route: Route | None = None


class Feedback(_Model):
    """A reviewer's decision (``contract.md`` §5); ``reason`` is required for an override."""

    referral_id: str = Field(pattern=ID_PATTERN)
    reviewer: str = Field(min_length=1, max_length=128)
    decision: Literal["confirm", "override"]
    tier: Tier
    viability: Viability
    reason: str | None = Field(default=None, max_length=2000)
    model_version: str = Field(min_length=1, max_length=128)

    @model_validator(mode="after")
    def _override_needs_reason(self) -> Feedback:
        if self.decision == "override" and not (self.reason and self.reason.strip()):
            raise ValueError("reason: required when decision is 'override'")
        return self


def referral_json_schema() -> dict[str, Any]:
    """The referral's JSON Schema (what ``triage schema`` prints)."""
    schema = Referral.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Referral"
    return schema
