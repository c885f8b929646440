"""The linking history in the store: every sighting and decision event linking counts.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30

``sightings`` holds the pseudonymised events of ``features.linking.events_for`` (family,
key, time in ns, weights), one row each, numbered by ``seq`` in the order they were
committed. Every writer holds the history's order lock (``serving/sightings.py``), so
``seq`` has no gaps a reader could skip: a process catches its cache up with ``seq > n``.
``referral_id`` is set on a referral's sightings (re-scoring is idempotent: a referral
with sightings gets none again) and null for the training events the store was seeded
with. ``after_seq`` on a scoring batch's rows is the last row the batch's features were computed
from (a replay recomputes them exactly). ``sightings_seed`` records that seeding was done.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sightings",
        sa.Column("seq", BigId, autoincrement=True, nullable=False),
        sa.Column("referral_id", sa.String(64), nullable=True),
        sa.Column("family", sa.String(16), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("t", sa.BigInteger(), nullable=False),
        sa.Column("seen", sa.SmallInteger(), nullable=False),
        sa.Column("decided", sa.SmallInteger(), nullable=False),
        sa.Column("package", sa.SmallInteger(), nullable=False),
        sa.Column("urgent", sa.SmallInteger(), nullable=False),
        sa.Column("after_seq", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_sightings")),
    )
    op.create_index(op.f("ix_sightings_referral_id"), "sightings", ["referral_id"])
    op.create_table(
        "sightings_seed",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("events", sa.BigInteger(), nullable=False),
        sa.Column("referrals", sa.BigInteger(), nullable=False),
        sa.Column("seeded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_sightings_seed_single_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sightings_seed")),
    )


def downgrade() -> None:
    op.drop_table("sightings_seed")
    op.drop_index(op.f("ix_sightings_referral_id"), table_name="sightings")
    op.drop_table("sightings")
