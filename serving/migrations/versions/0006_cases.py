"""Cases (issue 14): every join or merge of cases the service makes, in an append-only,
hash-chained log of its own, written in the scoring transaction.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

``case_events`` holds one row per event: ``opened`` (a referral that links to nothing
known starts a case), ``joined`` (it joins one case), ``merged`` (it links two or more
cases: ``detail.merged`` names the cases absorbed, ``case_id`` the surviving one) and
``package_decided`` (one package decision for a whole case; ``detail.decision_ids`` are
the decision log's records, one per member). Rows are chained like decisions
(``serving/case_log.py``); ``case_chain_head`` is the single row every writer locks and
that verification compares the last row with. Append-only by triggers, like
``decisions``.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Json = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
Time = sa.DateTime(timezone=True)

_PG_APPEND_ONLY = """
CREATE TRIGGER case_events_no_change BEFORE UPDATE OR DELETE ON case_events
    FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
CREATE TRIGGER case_events_no_truncate BEFORE TRUNCATE ON case_events
    FOR EACH STATEMENT EXECUTE FUNCTION decisions_append_only();
CREATE TRIGGER case_chain_head_no_delete BEFORE DELETE ON case_chain_head
    FOR EACH ROW EXECUTE FUNCTION decisions_append_only();
"""
_SQLITE_APPEND_ONLY = [
    "CREATE TRIGGER case_events_no_update BEFORE UPDATE ON case_events "
    "BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END",
    "CREATE TRIGGER case_events_no_delete BEFORE DELETE ON case_events "
    "BEGIN SELECT RAISE(ABORT, 'case events are append-only'); END",
    "CREATE TRIGGER case_chain_head_no_delete BEFORE DELETE ON case_chain_head "
    "BEGIN SELECT RAISE(ABORT, 'the case chain head is permanent'); END",
]


def upgrade() -> None:
    op.create_table(
        "case_events",
        sa.Column("id", BigId, autoincrement=False, nullable=False),
        sa.Column("at", Time, nullable=False),
        sa.Column("event", sa.String(16), nullable=False),
        sa.Column("case_id", sa.String(64), nullable=False),
        sa.Column("referral_ids", Json, nullable=False),
        sa.Column("detail", Json, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint(
            "event IN ('opened', 'joined', 'merged', 'package_decided')",
            name=op.f("ck_case_events_event"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_events")),
        sa.UniqueConstraint("prev_hash", name=op.f("uq_case_events_prev_hash")),
        sa.UniqueConstraint("hash", name=op.f("uq_case_events_hash")),
    )
    op.create_index(op.f("ix_case_events_case_id"), "case_events", ["case_id"])
    head = op.create_table(
        "case_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_case_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_case_chain_head")),
    )
    op.bulk_insert(head, [{"id": 1, "last_id": 0, "last_hash": GENESIS}])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(_PG_APPEND_ONLY)
    else:
        for stmt in _SQLITE_APPEND_ONLY:
            op.execute(stmt)


def downgrade() -> None:
    raise NotImplementedError("0006 cannot be downgraded: case events are append-only")
