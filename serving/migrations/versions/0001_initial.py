"""Initial store: referrals, scores (inference log), decisions (hash chain), tokens.

Revision ID: 0001
Revises:
Create Date: 2025-01-01

The decision log is made append-only by triggers on both backends: an application bug
cannot rewrite history, and someone who drops the triggers to do so is caught by the
hash chain (``triage audit verify``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)
TIERS = "tier IN ('immediate', 'high', 'routine')"

_PG_APPEND_ONLY = """
CREATE FUNCTION decisions_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'decisions are append-only';
END $$;
CREATE TRIGGER decisions_no_change BEFORE UPDATE OR DELETE ON decisions
    FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
CREATE TRIGGER decisions_no_truncate BEFORE TRUNCATE ON decisions
    FOR EACH STATEMENT EXECUTE FUNCTION decisions_append_only();
CREATE TRIGGER chain_head_no_delete BEFORE DELETE ON decision_chain_head
    FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
"""
_SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER decisions_no_update BEFORE UPDATE ON decisions "
    "BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END",
    "CREATE TRIGGER decisions_no_delete BEFORE DELETE ON decisions "
    "BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END",
    "CREATE TRIGGER chain_head_no_delete BEFORE DELETE ON decision_chain_head "
    "BEGIN SELECT RAISE(ABORT, 'decisions are append-only'); END",
]


def upgrade() -> None:
    op.create_table(
        "referrals",
        sa.Column("referral_id", sa.String(64), nullable=False),
        sa.Column("received_at", Time, nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("escalated", sa.Boolean(), nullable=False),
        sa.Column("document", Json, nullable=False),
        sa.Column("first_recorded_at", Time, nullable=False),
        sa.Column("updated_at", Time, nullable=False),
        sa.PrimaryKeyConstraint("referral_id", name=op.f("pk_referrals")),
    )
    op.create_index(op.f("ix_referrals_received_at"), "referrals", ["received_at"])
    op.create_index(op.f("ix_referrals_source"), "referrals", ["source"])

    op.create_table(
        "scores",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("referral_id", sa.String(64), nullable=False),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("scored_at", Time, nullable=False),
        sa.Column("recorded_at", Time, nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("priority", sa.Float(), nullable=False),
        sa.Column("degraded", sa.Boolean(), nullable=False),
        *[
            sa.Column(name, sa.Float(), nullable=False)
            for name in (
                "urgency_immediate",
                "urgency_high",
                "urgency_routine",
                "viability_package",
                "viability_lead",
                "viability_unactionable",
            )
        ],
        sa.Column("reasons", Json, nullable=False),
        sa.Column("safety_rules", Json, nullable=False),
        sa.Column("features", Json, nullable=False),
        sa.Column("retention_deadline", Time, nullable=True),
        sa.Column("score", Json, nullable=False),
        sa.CheckConstraint(TIERS, name=op.f("ck_scores_tier")),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.referral_id"],
            name=op.f("fk_scores_referral_id_referrals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scores")),
    )
    op.create_index(op.f("ix_scores_request_id"), "scores", ["request_id"])
    op.create_index("ix_scores_referral_id_id", "scores", ["referral_id", "id"])

    op.create_table(
        "decisions",
        sa.Column("id", BigId, autoincrement=False, nullable=False),
        sa.Column("referral_id", sa.String(64), nullable=False),
        sa.Column("score_id", BigId, nullable=False),
        sa.Column("reviewer", sa.String(128), nullable=False),
        sa.Column("decision", sa.String(16), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("viability", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("model_version", sa.String(128), nullable=False),
        sa.Column("decided_at", Time, nullable=False),
        sa.Column("idempotency_key", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint(
            "decision IN ('confirm', 'override')", name=op.f("ck_decisions_decision")
        ),
        sa.CheckConstraint(TIERS, name=op.f("ck_decisions_tier")),
        sa.CheckConstraint(
            "viability IN ('package', 'lead', 'unactionable')",
            name=op.f("ck_decisions_viability"),
        ),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.referral_id"],
            name=op.f("fk_decisions_referral_id_referrals"),
        ),
        sa.ForeignKeyConstraint(
            ["score_id"], ["scores.id"], name=op.f("fk_decisions_score_id_scores")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decisions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_decisions_idempotency_key")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_decisions_prev_hash")),
        sa.UniqueConstraint("hash", name=op.f("uq_decisions_hash")),
    )
    op.create_index(op.f("ix_decisions_referral_id"), "decisions", ["referral_id"])
    op.create_index(op.f("ix_decisions_score_id"), "decisions", ["score_id"])
    op.create_index(op.f("ix_decisions_decided_at"), "decisions", ["decided_at"])

    head = op.create_table(
        "decision_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_decision_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_decision_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": GENESIS}])

    op.create_table(
        "tokens",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("token_sha256", sa.String(64), nullable=False),
        sa.Column("created_at", Time, nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("revoked_at", Time, nullable=True),
        sa.CheckConstraint("role IN ('scorer', 'reviewer', 'admin')", name=op.f("ck_tokens_role")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tokens")),
        sa.UniqueConstraint("token_sha256", name=op.f("uq_tokens_token_sha256")),
    )

    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    else:
        for stmt in _SQLITE_APPEND_ONLY:
            op.execute(stmt)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS chain_head_no_delete ON decision_chain_head")
        op.execute("DROP TRIGGER IF EXISTS decisions_no_truncate ON decisions")
        op.execute("DROP TRIGGER IF EXISTS decisions_no_change ON decisions")
        op.execute("DROP FUNCTION IF EXISTS decisions_append_only()")
    for table in ("tokens", "decision_chain_head", "decisions", "scores", "referrals"):
        op.drop_table(table)
