"""The store's tables as SQLAlchemy 2 declarative models.

The schema itself is created by the alembic migrations in ``serving/migrations``; these
classes describe it for queries, and a test checks that both agree. Times are stored as
UTC and always come back timezone-aware (:class:`UTCDateTime`), on SQLite as on PostgreSQL,
because the decision log's hashes cover ``decided_at`` and must be recomputable exactly.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: 64-bit ids on PostgreSQL; SQLite only auto-increments an ``INTEGER PRIMARY KEY``.
BigId = BigInteger().with_variant(Integer(), "sqlite")
#: JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
Json = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """An aware datetime in, an aware UTC datetime out; naive values are refused.

    SQLite keeps no offset, so values are written as naive UTC and read back as UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("datetime: must carry a UTC offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


class ReferralRow(Base):
    """The latest pseudonymised document of each scored referral, free text removed."""

    __tablename__ = "referrals"

    referral_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    source: Mapped[str] = mapped_column(String(32), index=True)
    escalated: Mapped[bool] = mapped_column(Boolean)
    document: Mapped[dict[str, Any]] = mapped_column(Json)
    first_recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ScoreRow(Base):
    """The inference log: one row per score ever given, never updated."""

    __tablename__ = "scores"
    __table_args__ = (
        Index("ix_scores_referral_id_id", "referral_id", "id"),
        CheckConstraint("tier IN ('immediate', 'high', 'routine')", name="tier"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    request_id: Mapped[str] = mapped_column(String(128), index=True)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.referral_id"))
    model_version: Mapped[str] = mapped_column(String(128))
    scored_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    tier: Mapped[str] = mapped_column(String(16))
    priority: Mapped[float] = mapped_column(Float)
    degraded: Mapped[bool] = mapped_column(Boolean)
    urgency_immediate: Mapped[float] = mapped_column(Float)
    urgency_high: Mapped[float] = mapped_column(Float)
    urgency_routine: Mapped[float] = mapped_column(Float)
    viability_package: Mapped[float] = mapped_column(Float)
    viability_lead: Mapped[float] = mapped_column(Float)
    viability_unactionable: Mapped[float] = mapped_column(Float)
    reasons: Mapped[list[Any]] = mapped_column(Json)
    safety_rules: Mapped[list[Any]] = mapped_column(Json)
    features: Mapped[dict[str, Any]] = mapped_column(Json)
    retention_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    score: Mapped[dict[str, Any]] = mapped_column(Json)
    #: the referral as this score saw it (None: scored before migration 0003)
    document: Mapped[dict[str, Any] | None] = mapped_column(Json, nullable=True)


class DecisionRow(Base):
    """The decision log: append-only (triggers refuse UPDATE/DELETE) and hash-chained.

    ``id`` is the record's position in the chain (1, 2, 3, ...), assigned under the chain
    lock, so a gap means a deleted record; ``prev_hash`` and ``hash`` are unique, so the
    chain cannot fork even if the lock were bypassed.
    """

    __tablename__ = "decisions"
    __table_args__ = (
        CheckConstraint("decision IN ('confirm', 'override')", name="decision"),
        CheckConstraint("tier IN ('immediate', 'high', 'routine')", name="tier"),
        CheckConstraint("viability IN ('package', 'lead', 'unactionable')", name="viability"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.referral_id"), index=True)
    score_id: Mapped[int] = mapped_column(ForeignKey("scores.id"), index=True)
    reviewer: Mapped[str] = mapped_column(String(128))
    #: the bearer token the service authenticated (the reviewer name is the client's word)
    recorded_by_token: Mapped[int | None] = mapped_column(BigId, nullable=True)
    recorded_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    decision: Mapped[str] = mapped_column(String(16))
    tier: Mapped[str] = mapped_column(String(16))
    viability: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    model_version: Mapped[str] = mapped_column(String(128))
    #: v1.1 (migration 0004): the reviewer's own urgency judgement and the kind of review;
    #: None on records made before (they hash as before: ``serving/chain.py``)
    urgency_assessed: Mapped[str | None] = mapped_column(String(16), nullable=True)
    review: Mapped[str | None] = mapped_column(String(16), nullable=True)
    decided_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(64), unique=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class OutcomeReportRow(Base):
    """Outcome reports from the police of jurisdiction (contract §5b): append-only and
    hash-chained like decisions, in a chain of their own (``serving/outcomes.py``);
    ``id`` is the position in that chain. One row per (referral_id, agency, finding)."""

    __tablename__ = "outcome_reports"
    __table_args__ = (UniqueConstraint("referral_id", "agency", "finding"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    referral_id: Mapped[str] = mapped_column(ForeignKey("referrals.referral_id"), index=True)
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    agency: Mapped[str] = mapped_column(String(128))
    finding: Mapped[str] = mapped_column(String(32))
    urgency_in_hindsight: Mapped[str | None] = mapped_column(String(16), nullable=True)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)
    recorded_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    recorded_by_token: Mapped[int | None] = mapped_column(BigId, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class ChainHeadRow(Base):
    """The single row every writer locks; it holds the last record's id and hash.

    It serialises writers (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite's write lock is
    taken by ``BEGIN IMMEDIATE``) and lets verification notice records cut off the end.
    """

    __tablename__ = "decision_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class OutcomeHeadRow(Base):
    """The outcome log's head (migration 0005): its last record's id and hash, so records
    cut off the end or a rewritten last record are noticed; anchored with the others."""

    __tablename__ = "outcome_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class TokenRow(Base):
    """A bearer token: only its SHA-256 is kept; the token itself is shown once."""

    __tablename__ = "tokens"
    __table_args__ = (CheckConstraint("role IN ('scorer', 'reviewer', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(128))
    role: Mapped[str] = mapped_column(String(16))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    #: None: made before migration 0003, never expires (rotate it)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    created_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    revoked_by: Mapped[str | None] = mapped_column(String(128), nullable=True)
    rotated_from: Mapped[int | None] = mapped_column(BigId, nullable=True)


class AccessRow(Base):
    """The access log: who read what, every refused request, every token change.

    Append-only (triggers refuse updates, and deletes above the head's ``base_id``, which
    only retention moves) and hash-chained like the decision log (``serving/chain.py``).
    """

    __tablename__ = "access_log"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    action: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    actor: Mapped[str | None] = mapped_column(String(128), nullable=True)
    token_id: Mapped[int | None] = mapped_column(BigId, nullable=True)
    role: Mapped[str | None] = mapped_column(String(16), nullable=True)
    client: Mapped[str | None] = mapped_column(String(64), nullable=True)
    referral_ids: Mapped[list[str]] = mapped_column(Json)
    detail: Mapped[str | None] = mapped_column(String(256), nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AccessReferralRow(Base):
    """Index of the referral ids each access record covers (derived from the record)."""

    __tablename__ = "access_log_referrals"

    referral_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    access_id: Mapped[int] = mapped_column(
        ForeignKey("access_log.id", ondelete="CASCADE"), primary_key=True
    )


class AccessHeadRow(Base):
    """The access chain's head; ``base_id``/``base_hash`` are where retention cut it."""

    __tablename__ = "access_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))
    base_id: Mapped[int] = mapped_column(BigInteger)
    base_hash: Mapped[str] = mapped_column(String(64))


class CaseEventRow(Base):
    """Case events (migration 0006): a referral opened, joined or merged cases, or a
    package decision covered a case. Append-only and hash-chained (``serving/case_log.py``)."""

    __tablename__ = "case_events"
    __table_args__ = (
        CheckConstraint("event IN ('opened', 'joined', 'merged', 'package_decided')", name="event"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    event: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[str] = mapped_column(String(64), index=True)
    referral_ids: Mapped[list[str]] = mapped_column(Json)
    detail: Mapped[dict[str, Any]] = mapped_column(Json)
    prev_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class CaseHeadRow(Base):
    """The case chain's head: the last event's id and hash; writers lock it."""

    __tablename__ = "case_chain_head"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    last_id: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[str] = mapped_column(String(64))


class SightingRow(Base):
    """One linking event (``features.linking.events_for``), numbered in commit order
    (migration 0007, ``serving/sightings.py``)."""

    __tablename__ = "sightings"

    seq: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    referral_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    family: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(Text)
    t: Mapped[int] = mapped_column(BigInteger)
    seen: Mapped[int] = mapped_column(SmallInteger)
    decided: Mapped[int] = mapped_column(SmallInteger)
    package: Mapped[int] = mapped_column(SmallInteger)
    urgent: Mapped[int] = mapped_column(SmallInteger)
    after_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SightingSeedRow(Base):
    """That the history was seeded (once) from the training events and the store."""

    __tablename__ = "sightings_seed"
    __table_args__ = (CheckConstraint("id = 1", name="single_row"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    events: Mapped[int] = mapped_column(BigInteger)
    referrals: Mapped[int] = mapped_column(BigInteger)
    seeded_at: Mapped[datetime] = mapped_column(UTCDateTime)
