"""Decisions carry the reviewer's own urgency assessment and the kind of review; outcome
reports from the police of jurisdiction get their own append-only, hash-chained log (v1.1).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

``urgency_assessed`` (immediate/high/routine) is the urgency label a decision gives (a
tier alone never is one); ``review`` is ``first`` (the model's output on screen) or
``second_blind``. Both are nullable: records made before this revision have neither, and
the hash chain covers them only when present (``serving/chain.py``), so earlier records
keep verifying. Adding columns does not touch the append-only triggers.

``outcome_reports`` (contract §5b) is append-only by triggers like ``decisions`` and
chained by ``serving/outcomes.py``; one row per (referral_id, agency, finding).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Time = sa.DateTime(timezone=True)

_PG_APPEND_ONLY = """
CREATE TRIGGER outcome_reports_no_change BEFORE UPDATE OR DELETE ON outcome_reports
    FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
CREATE TRIGGER outcome_reports_no_truncate BEFORE TRUNCATE ON outcome_reports
    FOR EACH STATEMENT EXECUTE FUNCTION decisions_append_only();
"""
_SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER outcome_reports_no_update BEFORE UPDATE ON outcome_reports "
    "BEGIN SELECT RAISE(ABORT, 'outcome reports are append-only'); END",
    "CREATE TRIGGER outcome_reports_no_delete BEFORE DELETE ON outcome_reports "
    "BEGIN SELECT RAISE(ABORT, 'outcome reports are append-only'); END",
]


def upgrade() -> None:
    op.add_column("decisions", sa.Column("urgency_assessed", sa.String(16), nullable=True))
    op.add_column("decisions", sa.Column("review", sa.String(16), nullable=True))
    op.create_table(
        "outcome_reports",
        sa.Column("id", BigId, autoincrement=False, nullable=False),
        sa.Column("referral_id", sa.String(64), nullable=False),
        sa.Column("reported_at", Time, nullable=False),
        sa.Column("agency", sa.String(128), nullable=False),
        sa.Column("finding", sa.String(32), nullable=False),
        sa.Column("urgency_in_hindsight", sa.String(16), nullable=True),
        sa.Column("recorded_at", Time, nullable=False),
        sa.Column("recorded_by", sa.String(128), nullable=True),
        sa.Column("recorded_by_token", BigId, nullable=True),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["referral_id"],
            ["referrals.referral_id"],
            name=op.f("fk_outcome_reports_referral_id_referrals"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_reports")),
        sa.UniqueConstraint(
            "referral_id", "agency", "finding", name=op.f("uq_outcome_reports_referral_id")
        ),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_outcome_reports_prev_hash")),
        sa.UniqueConstraint("hash", name=op.f("uq_outcome_reports_hash")),
    )
    op.create_index(op.f("ix_outcome_reports_referral_id"), "outcome_reports", ["referral_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    else:
        for stmt in _SQLITE_APPEND_ONLY:
            op.execute(stmt)


def downgrade() -> None:
    raise NotImplementedError("0003 cannot be downgraded: decisions are append-only")
