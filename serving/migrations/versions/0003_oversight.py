"""Oversight: every score keeps its document, tokens expire and name who made them, and
an access log (who read what, every refusal, token changes) hash-chained like decisions.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

``scores.document`` is the referral exactly as it was scored (pseudonymised, free text
removed), so a re-scored referral keeps every earlier version: the reviewer's decision
stays bound to what was on screen. It is nullable: scores from before this revision only
have the referral's latest document.

Tokens gain ``expires_at`` (NULL: made before this revision; they keep working until
rotated or revoked, and ``triage token list`` shows them as "never"), ``created_by``,
``revoked_by`` and ``rotated_from``.

``access_log`` is append-only like ``decisions``: updates are refused by triggers, and a
delete is refused unless the record is at or below the chain's ``base_id``, which only
retention (``triage audit prune``) moves forward. ``access_log_referrals`` indexes the
referral ids each record covers (one for a referral read, every id shown for a queue
page) so "who saw this referral" is one indexed query; it is derived from the hashed
``referral_ids`` of each record.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)

_PG_APPEND_ONLY = """
CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND OLD.id <= (SELECT base_id FROM access_chain_head WHERE id = 1)
    THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the access log is append-only';
END $$;
CREATE TRIGGER access_log_no_change BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_append_only();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_append_only();
"""
_SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log "
    "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
    "CREATE TRIGGER access_log_no_delete BEFORE DELETE ON access_log "
    "WHEN OLD.id > (SELECT base_id FROM access_chain_head WHERE id = 1) "
    "BEGIN SELECT RAISE(ABORT, 'the access log is append-only'); END",
]


def upgrade() -> None:
    op.add_column("scores", sa.Column("document", Json, nullable=True))
    for name, kind in (
        ("expires_at", Time),
        ("created_by", sa.String(128)),
        ("revoked_by", sa.String(128)),
        ("rotated_from", BigId),
    ):
        op.add_column("tokens", sa.Column(name, kind, nullable=True))

    op.create_table(
        "access_log",
        sa.Column("id", BigId, autoincrement=False, nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("actor", sa.String(128), nullable=True),
        sa.Column("token_id", BigId, nullable=True),
        sa.Column("role", sa.String(16), nullable=True),
        sa.Column("client", sa.String(64), nullable=True),
        sa.Column("referral_ids", Json, nullable=False),
        sa.Column("detail", sa.String(256), nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
        sa.UniqueConstraint("hash", name=op.f("uq_access_log_hash")),
    )
    op.create_index(op.f("ix_access_log_at"), "access_log", ["at"])
    op.create_table(
        "access_log_referrals",
        sa.Column("access_id", BigId, nullable=False),
        sa.Column("referral_id", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["access_id"],
            ["access_log.id"],
            name=op.f("fk_access_log_referrals_access_id_access_log"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("referral_id", "access_id", name=op.f("pk_access_log_referrals")),
    )
    head = op.create_table(
        "access_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.Column("base_id", sa.BigInteger(), nullable=False),
        sa.Column("base_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_access_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_chain_head")),
    )
    op.bulk_insert(
        head, [{"id": 1, "last_id": 0, "last_hash": GENESIS, "base_id": 0, "base_hash": GENESIS}]
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    else:
        for stmt in _SQLITE_APPEND_ONLY:
            op.execute(stmt)


def downgrade() -> None:
    raise NotImplementedError("0003 cannot be downgraded: the access log is append-only")
