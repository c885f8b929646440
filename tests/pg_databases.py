"""A fresh PostgreSQL database for a test, dropped afterwards: the one helper the store,
oversight and failover tests share (the server at ``TRIAGE_TEST_PG_URL``, by default the
machine's 127.0.0.1:5432 with trust authentication, where CREATE DATABASE is allowed)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import URL, create_engine, make_url
from sqlalchemy.exc import OperationalError

PG_ADMIN_URL = os.environ.get(
    "TRIAGE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def fresh_database(prefix: str) -> Iterator[URL]:
    """A new, uniquely named database (``prefix`` + 12 hex digits), dropped on exit even
    if connections are left open. Fails the test, naming the server, when it is
    unreachable: every test that needs it runs in CI, where it is."""
    admin = make_url(PG_ADMIN_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(admin, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 5})
    try:
        with engine.connect() as c:
            c.exec_driver_sql(f'CREATE DATABASE "{name}"')
    except OperationalError as e:
        engine.dispose()
        pytest.fail(
            f"PostgreSQL at {admin.render_as_string(hide_password=True)} is unreachable "
            f"({type(e).__name__}). These tests need it (CI has it): start it or point "
            "TRIAGE_TEST_PG_URL at a server where CREATE DATABASE is allowed.",
            pytrace=False,
        )
    try:
        yield admin.set(database=name)
    finally:
        with engine.connect() as c:
            c.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        engine.dispose()
