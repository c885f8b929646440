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
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
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
#: No time in a document may be earlier: the CyberTipline opened in 1998, and no referral,
#: incident, upload or login of interest predates the public web. Earlier dates are typos
#: or epoch mix-ups (and before 1677 they overflow the features' nanosecond clock).
EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)
#: How far an incident, an upload or a login may follow the referral's receipt: time zones
#: and clock skew between a platform and the reporter, not years (a year-9999 incident would
#: raise the tier through "days from incident to receipt").
AFTER_RECEIPT_TOLERANCE = timedelta(days=1)
#: Counts a person can plausibly have; larger numbers are errors, and unbounded integers
#: overflowed the store (``docs/service.md``, "What the door refuses").
MAX_PRIOR_REPORTS = 100_000
MAX_ACCOUNTS = 1_000_000
#: ISO 8601 date and time with seconds optional, fraction optional and the offset required.
_ISO_DATETIME = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$"
)

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


def _iso_text(value: Any) -> Any:
    """JSON times must be ISO 8601 text with an offset: an epoch number is refused (seconds
    or milliseconds? the difference is a millennium). Python datetimes pass (our own code)."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 string with an offset (not a number)")
    if not _ISO_DATETIME.match(value):
        raise ValueError("must be ISO 8601 like 2024-01-31T12:00:00+00:00 (offset required)")
    return value


def _not_before_earliest(value: datetime) -> datetime:
    if value < EARLIEST:
        raise ValueError(f"before {EARLIEST.date().isoformat()}: not a plausible date")
    return value


#: Every time in a document: ISO 8601 text with an offset, not before :data:`EARLIEST`.
Timestamp = Annotated[
    AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_not_before_earliest)
]


def _exact_id(value: Any) -> Any:
    """Ids are taken exactly as sent: the model strips spaces from strings, which would
    make " ref1" and "ref1" one id, so the raw text is checked before that."""
    if isinstance(value, str) and not _ID_RE.match(value):
        raise ValueError("must be 1-64 characters of A-Z a-z 0-9 . _ : - (no spaces)")
    return value


#: A referral id exactly as the contract's pattern (no trimming).
ReferralId = Annotated[
    str,
    BeforeValidator(_exact_id),
    Field(pattern=ID_PATTERN, description="1-64 chars of [A-Za-z0-9._:-]"),
]


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
    at: Timestamp | None = None
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
    prior_reports: int = Field(default=0, ge=0, le=MAX_PRIOR_REPORTS)
    group_identifier: str | None = Field(default=None, max_length=512)
    associated_accounts: int = Field(default=0, ge=0, le=MAX_ACCOUNTS)
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
    uploaded_at: Timestamp | None = None


class Incident(_Model):
    type: IncidentType
    occurred_at: Timestamp | None = None
    platform: str | None = Field(default=None, max_length=200)
    channel: Channel = "unknown"
    annotations: list[IncidentAnnotation] = Field(default_factory=list, max_length=5)


class Batched(_Model):
    reason: Literal["viral_potential_meme"] = "viral_potential_meme"
    accounts: int = Field(ge=1, le=MAX_ACCOUNTS)


class Referral(_Model):
    """One referral (``contract.md`` §1). Unknown fields are rejected so typos surface."""

    referral_id: ReferralId
    received_at: Timestamp = Field(
        description="ISO 8601 with offset; from 1990 on, at most 5 minutes in the future"
    )
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

    @model_validator(mode="after")
    def _times_follow_receipt(self) -> Referral:
        """An incident, upload or login may not follow the receipt by more than
        :data:`AFTER_RECEIPT_TOLERANCE`. Raised as ``path: reason`` (the door splits it)."""

        def after(t: datetime | None) -> bool:  # a difference: no overflow near year 9999
            return t is not None and t - self.received_at > AFTER_RECEIPT_TOLERANCE

        late = ["incident.occurred_at"] if after(self.incident.occurred_at) else []
        late += [f"files.{i}.uploaded_at" for i, f in enumerate(self.files) if after(f.uploaded_at)]
        late += [
            f"subjects.{i}.ip_events.{j}.at"
            for i, s in enumerate(self.subjects)
            for j, e in enumerate(s.ip_events)
            if after(e.at)
        ]
        if late:
            raise ValueError("; ".join(f"{p}: more than 1 day after received_at" for p in late))
        return self

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
    decided_at: Timestamp


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


Review = Literal["first", "second_blind"]
Finding = Literal[
    "child_at_risk_confirmed",
    "child_safe_identified",
    "offender_identified",
    "no_offence_found",
    "not_investigated",
    "unknown",
]


class OutcomeReport(_Model):
    """What the police of jurisdiction found, weeks later (``contract.md`` §5b).

    Idempotent per (referral_id, agency, finding). ``urgency_in_hindsight`` is the
    strongest urgency label there is (contract §5 "Labels"); without it the report is
    kept and audited but gives no urgency label."""

    referral_id: ReferralId
    #: the same rule as every time in a document (ISO 8601 text, not before 1990): the
    #: outcome becomes a label whose ``decided_at`` is checked by that rule when the
    #: service loads its history, so a looser rule here would store a report that stops
    #: every restart
    reported_at: Timestamp
    agency: str = Field(min_length=1, max_length=128)
    finding: Finding
    urgency_in_hindsight: Urgency | None = None

    @field_validator("reported_at")
    @classmethod
    def _not_in_future(cls, v: datetime) -> datetime:
        if v > datetime.now(UTC) + FUTURE_TOLERANCE:
            raise ValueError("must not be in the future")
        return v

    @field_validator("agency")
    @classmethod
    def _printable_agency(cls, v: str) -> str:
        printable_name(v)  # shown to staff and hashed into the outcome log as written
        return v


def printable_name(value: str | None) -> str | None:
    """Refuse control, format (bidi overrides, zero-width) and unassigned characters in a
    person's name: it is shown to reviewers and hashed into the audit chains as written."""
    if value is not None and not value.isprintable():
        raise ValueError("must be printable text (no control or bidirectional characters)")
    return value


def clean_text(value: str | None) -> str | None:
    """Free text may hold line breaks and tabs, never other control or format characters."""
    if value is not None and not value.replace("\n", " ").replace("\t", " ").isprintable():
        raise ValueError("must be printable text (no control or bidirectional characters)")
    return value


class Feedback(_Model):
    """A reviewer's decision (``contract.md`` §5); ``reason`` is required for an override.

    ``score_id`` (v1.1, optional for the store's own callers, required over HTTP) is the
    score the reviewer was shown: the decision is bound to it, and refused when a newer
    score has superseded it. ``reviewer`` may be left out over HTTP: the recorded reviewer
    is the authenticated person, and a name sent must be theirs.

    v1.1: ``urgency_assessed`` is the reviewer's own judgement of whether a child is at
    risk now (the urgency label; the tier is a workload band and never one), and
    ``review`` says whether the model's output was on screen (``first``) or not
    (``second_blind``); a blind second review must give its assessment.
    """

    referral_id: ReferralId
    reviewer: str | None = Field(default=None, min_length=1, max_length=128)
    decision: Literal["confirm", "override"]
    tier: Tier
    viability: Viability
    reason: str | None = Field(default=None, max_length=2000)
    model_version: str = Field(min_length=1, max_length=128)
    score_id: int | None = Field(default=None, ge=1, description="the score the reviewer saw")
    urgency_assessed: Urgency | None = None
    review: Review = "first"

    _printable_reviewer = field_validator("reviewer")(printable_name)
    _clean_reason = field_validator("reason")(clean_text)

    @field_validator("model_version")
    @classmethod
    def _version_text(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9._:+-]+", value):
            raise ValueError("must be a model version (letters, digits, . _ : + -)")
        return value

    @model_validator(mode="after")
    def _override_needs_reason(self) -> Feedback:
        if self.decision == "override" and not (self.reason and self.reason.strip()):
            raise ValueError("reason: required when decision is 'override'")
        if self.review == "second_blind" and self.urgency_assessed is None:
            raise ValueError("urgency_assessed: required for a blind second review")
        return self


def referral_json_schema() -> dict[str, Any]:
    """The referral's JSON Schema (what ``triage schema`` prints)."""
    schema = Referral.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Referral"
    return schema
