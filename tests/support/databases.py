"""Fresh databases for tests: a SQLite file, or a PostgreSQL database of its own.

Each test gets a database nobody else uses: a file under its `tmp_path`, or a PostgreSQL database
with a random name, created on 127.0.0.1:5432 (user postgres, trust auth; override the server with
`AUTOBOOK_TEST_POSTGRES_URL`) and dropped afterwards, even if connections are left open. When
PostgreSQL is down the `postgres_url` fixture skips, except under `CI=true`, where it fails.

Building blocks, usable from fixtures, benchmarks and fault tests alike:
- `sqlite_url_in(directory)`: the URL of a SQLite file there;
- `postgres_test_database()`: a fresh PostgreSQL database's URL, skip/fail rules included
  (`fresh_postgres_database()` is the same without them, for benchmarks);
- `migrated_session_factory(url)`: migrate with `autobook.db.upgrade`, yield a session factory.

The fixtures at the bottom (`sqlite_url`, `postgres_url`, and `migrated_sessions`, which needs a
`database_url` fixture) are for a conftest that lists this module in `pytest_plugins`; a test
module can also define its own fixtures from the building blocks, as the store suites do.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from autobook import db

DEFAULT_POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
POSTGRES_CONNECT_TIMEOUT_SECONDS = 3
TEST_DATABASE_PREFIX = "autobook_test_"


def running_in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() == "true"


def postgres_admin_url() -> str:
    return os.environ.get("AUTOBOOK_TEST_POSTGRES_URL", DEFAULT_POSTGRES_ADMIN_URL)


def _admin_engine(admin_url: str) -> sa.Engine:
    return sa.create_engine(
        admin_url,
        isolation_level="AUTOCOMMIT",  # CREATE/DROP DATABASE cannot run in a transaction
        connect_args={"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS},
        poolclass=sa.pool.NullPool,
    )


def postgres_unavailable_reason(admin_url: str | None = None) -> str | None:
    """Why PostgreSQL cannot be used for tests, or None when it can."""
    engine = _admin_engine(admin_url or postgres_admin_url())
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        return f"PostgreSQL is not reachable: {type(exc).__name__}"
    finally:
        engine.dispose()
    return None


def require_postgres() -> None:
    """Skip the calling test when PostgreSQL is down; fail it instead under CI=true."""
    reason = postgres_unavailable_reason()
    if reason is None:
        return
    if running_in_ci():
        pytest.fail(f"{reason} (CI=true: PostgreSQL is required)")
    pytest.skip(reason)


@contextlib.contextmanager
def fresh_postgres_database(admin_url: str | None = None) -> Iterator[str]:
    """Create a randomly named database, yield its URL, then drop it (closing its connections)."""
    admin_url = admin_url or postgres_admin_url()
    name = TEST_DATABASE_PREFIX + secrets.token_hex(6)
    engine = _admin_engine(admin_url)
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
        finally:
            with engine.connect() as connection:
                connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        engine.dispose()


def sqlite_url_in(directory: Path) -> str:
    """The URL of a SQLite file database in `directory` (the file is made on first use)."""
    return f"sqlite:///{(directory / 'autobook.db').as_posix()}"


@contextlib.contextmanager
def postgres_test_database() -> Iterator[str]:
    """`fresh_postgres_database()`, but skip (or fail under CI=true) when PostgreSQL is down."""
    require_postgres()
    with fresh_postgres_database() as url:
        yield url


@contextlib.contextmanager
def migrated_session_factory(database_url: str) -> Iterator[sessionmaker[Session]]:
    """Migrate `database_url` to head and yield a session factory on it; dispose after."""
    db.upgrade(database_url)
    engine = db.make_engine(database_url)
    try:
        yield db.make_session_factory(engine)
    finally:
        engine.dispose()


# Fixtures, for a conftest that lists this module in `pytest_plugins`.


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return sqlite_url_in(tmp_path)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    with postgres_test_database() as url:
        yield url


@pytest.fixture
def migrated_sessions(database_url: str) -> Iterator[sessionmaker[Session]]:
    """A session factory on the `database_url` fixture's database, migrated to head."""
    with migrated_session_factory(database_url) as sessions:
        yield sessions
