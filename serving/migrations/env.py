"""Alembic environment: runs on the connection handed over by ``serving.database.migrate``.

No ``alembic.ini`` and no logging set-up: the caller owns both the connection (and its
transaction) and the logging configuration. For autogenerate during development, pass a
connection too: ``alembic_config(conn)``.
"""

from __future__ import annotations

from alembic import context

from serving.db_models import Base

config = context.config


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError(
            "serving migrations run on a connection: use serving.database.migrate(engine)"
        )
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline (SQL script) migrations are not supported")
run_migrations_online()
