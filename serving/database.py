"""Engines and migrations: the one module that knows SQLite and PostgreSQL apart.

SQLite: WAL (readers never block the writer), foreign keys on, a busy timeout, and
``synchronous=FULL`` so a committed decision survives a power cut, not only a crashed
process. SQLAlchemy takes over ``BEGIN`` from the sqlite3 driver (whose legacy mode skips
it before SELECTs and DDL): read transactions use ``BEGIN``; write transactions
``BEGIN IMMEDIATE``, which takes the database's write lock up front, so two writers wait
for each other instead of one failing half-way with "database is locked".

Migrations run from code with an alembic ``Config`` built here; the scripts live inside
the ``serving`` package, so an installed package finds them without an ``alembic.ini``.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, make_url, text

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
WRITE = "triage_write"
BUSY_TIMEOUT_S = 30
#: Arbitrary constant naming the PostgreSQL advisory lock that serialises migrations.
_MIGRATION_LOCK = 0x7472_6961_6765


def safe_url(url: str) -> str:
    """The URL with any password hidden, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def backend_of(url: str) -> str:
    """``sqlite``, ``postgresql``, ... for a SQLAlchemy URL."""
    return make_url(url).get_backend_name()


def make_engine(url: str) -> Engine:
    """An engine for ``url``; for a SQLite file its folder is created.

    A new SQLite file is created mode 0600 in a folder made 0700 (SQLite gives its ``-wal``
    and ``-shm`` files the database file's mode), so other local users cannot read the
    store. Callers own the engine (``dispose()`` it). Use :func:`writer` for write
    transactions.
    """
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:" and not u.database.startswith("file:"):
            _private_file(Path(u.database))
        engine = create_engine(u, connect_args={"timeout": BUSY_TIMEOUT_S})
        _sqlite_hooks(engine)
        return engine
    return create_engine(u, pool_pre_ping=True)


def _private_file(path: Path) -> None:
    """Create ``path``'s folder (0700) and the empty file (0600) unless they exist."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another worker made it first
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def writer(engine: Engine) -> Engine:
    """The same engine (same pool), marked so its transactions take the write lock."""
    return engine.execution_options(**{WRITE: True})


def _sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # SQLAlchemy emits BEGIN itself (below)
        cur = dbapi_conn.cursor()
        _wal(cur)
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_S * 1000}")
        cur.execute("PRAGMA synchronous=FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get(WRITE, False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def _wal(cur: Any) -> None:
    """Switch a new database file to WAL. Several connections opening a brand-new file at
    once (workers starting together) race for the exclusive lock the switch needs, and
    SQLite answers the loser "database is locked" at once rather than waiting (its
    busy handler stays out of lock upgrades that could deadlock), so retry briefly."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as e:
            if "locked" not in str(e) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def alembic_config(connection: Connection | None = None) -> Config:
    """An alembic config for our scripts; with ``connection``, migrations run on it.

    Also usable by developers: ``command.revision(alembic_config(), "message")``.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    if connection is not None:
        cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine) -> None:
    """Upgrade the schema to head in one transaction; safe to call again and concurrently.

    Concurrent callers (several service workers starting together) are serialised by
    SQLite's write lock or a PostgreSQL advisory lock, so the second finds the work done.
    """
    with writer(engine).begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _MIGRATION_LOCK})
        command.upgrade(alembic_config(conn), "head")


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    """The revision the database is at (None for an empty or foreign database)."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()
