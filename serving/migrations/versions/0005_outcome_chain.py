"""Outcome reports get a chain head, so the audit checks their log like the decisions'.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

``outcome_chain_head`` is a single row with the outcome log's last id and hash, like
``decision_chain_head``: verification (``triage audit verify``) notices records cut off
the end or a rewritten last record, and the anchors (``serving/anchor.py``) sign it with
the other heads. It starts at the log's current last record, so every report recorded
before this revision keeps verifying unchanged (nothing is re-hashed or renumbered).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

GENESIS = "0" * 64


def upgrade() -> None:
    head = op.create_table(
        "outcome_chain_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("last_id", sa.BigInteger(), nullable=False),
        sa.Column("last_hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_outcome_chain_head_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outcome_chain_head")),
    )
    last = (
        op.get_bind()
        .execute(sa.text("SELECT id, hash FROM outcome_reports ORDER BY id DESC LIMIT 1"))
        .first()
    )
    last_id, last_hash = (int(last[0]), str(last[1])) if last else (0, GENESIS)
    op.bulk_insert(head, [{"id": 1, "last_id": last_id, "last_hash": last_hash}])


def downgrade() -> None:
    raise NotImplementedError("0005 cannot be downgraded: outcome reports are append-only")
