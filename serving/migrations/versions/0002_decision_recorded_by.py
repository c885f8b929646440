"""Decisions remember which bearer token recorded them.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

``reviewer`` is what the client says; ``recorded_by`` / ``recorded_by_token`` are the name
and id of the token the service authenticated for the request. Both are nullable (records
made before this revision, or through the store's own API without a token) and are
covered by the hash chain when present (``serving/chain.py``), so earlier records keep
their hashes. Adding columns does not touch the append-only triggers.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.add_column("decisions", sa.Column("recorded_by_token", BigId, nullable=True))
    op.add_column("decisions", sa.Column("recorded_by", sa.String(128), nullable=True))


def downgrade() -> None:
    # SQLite drops columns by copying the table, which the append-only triggers and the
    # hash chain are there to prevent: a downgrade is not offered.
    raise NotImplementedError("0002 cannot be downgraded: decisions are append-only")
