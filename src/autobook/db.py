"""Engines, sessions and schema upgrades, for SQLite (embedded default) and PostgreSQL.

`make_engine` is the one place that knows each backend's connection rules:
- SQLite: the parent directory of the file is created; every connection turns on WAL (readers
  never block the writer), a busy timeout (several worker processes share the file, and a writer
  waits for the lock instead of failing) and foreign keys.
- PostgreSQL: a pooled connection is checked before use without a round trip: a server that
  restarted, or ended the session, has closed its end, so the socket reads as ready (end of
  stream, or its last error) while an idle connection's stays quiet. Such a connection is
  dropped and the pool opens a new one, so a restarted server costs no failed task. (SQLAlchemy's
  `pool_pre_ping` did the same with a `SELECT 1`: half the transactions of a booking.)

`upgrade(database_url)` brings the schema to the newest Alembic revision. The CLI and every worker
call it at start, so it is idempotent and safe when several processes start at once: on
PostgreSQL the migration runs under a transaction-scoped advisory lock, on SQLite under an
exclusive lock on a file next to the database. The migrations ship inside the package.

Sessions from `make_session_factory` keep loaded rows usable after a commit
(`expire_on_commit=False`), because every `autobook.store` function commits its own transaction.

A database that can't be reached or used at start (refused connection, no such database, a URL with
no installed driver) raises `DatabaseUnavailable`: one line naming the address with its password
masked, never SQLAlchemy's text (which may quote the URL or the statement).
"""

from __future__ import annotations

import contextlib
import logging
import re
import select
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    DisconnectionError,
    InterfaceError,
    OperationalError,
)
from sqlalchemy.orm import Session, sessionmaker

from autobook.errors import AutobookError

if TYPE_CHECKING:
    from alembic.config import Config

DEFAULT_DATABASE_URL = "sqlite:///.autobook/autobook.db"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant 64-bit number works; it only has to be the same in every autobook process.
POSTGRES_MIGRATION_LOCK_KEY = 0x6175746F626F6F6B  # "autobook"
MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
# Alembic is imported only when a migration may run, by then after a command set up its logging:
# its import-time notes ("setup plugin ...") are not for an operator.
logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)


class DatabaseUnavailable(AutobookError):
    """The database could not be reached or used."""


def masked_url(database_url: str) -> str:
    """The URL as it may be shown: its password replaced by `***`."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(an unparseable URL)"  # it might hold a password in a place we can't find


def _first_line(exc: BaseException, database_url: str) -> str:
    """The driver's own reason, one line, with the password scrubbed should a driver quote it."""
    origin = exc.orig if isinstance(exc, DBAPIError) else exc
    lines = str(origin).strip().splitlines()
    reason = lines[0].strip() if lines else type(origin).__name__
    reason = reason.removeprefix("connection failed: ")
    try:
        password = make_url(database_url).password
    except ArgumentError:
        password = None
    if password:
        reason = reason.replace(str(password), "***")
    return reason


@contextlib.contextmanager
def unavailable_as_error(database_url: str) -> Iterator[None]:
    """Turn a failure to reach or open the database into one `DatabaseUnavailable` line."""
    try:
        yield
    except (OperationalError, InterfaceError) as exc:
        raise DatabaseUnavailable(
            f"cannot reach the database at {masked_url(database_url)}: "
            f"{_first_line(exc, database_url)}"
        ) from None  # not chained: SQLAlchemy's text and the driver's may quote the URL
    except (ArgumentError, ModuleNotFoundError) as exc:
        raise DatabaseUnavailable(
            f"cannot use the database URL {masked_url(database_url)} "
            f"(AUTOBOOK_DATABASE_URL): {_first_line(exc, database_url)}"
        ) from None
    except OSError as exc:  # the SQLite file's folder can't be made, or the file opened
        raise DatabaseUnavailable(
            f"cannot open the database at {masked_url(database_url)}: "
            f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else "")
        ) from None


def sqlite_file(database_url: str) -> Path | None:
    """The database file of a SQLite URL, or None (another backend, or in memory)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        return None
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def _configure_sqlite_connection(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # busy_timeout first: switching to WAL needs a lock another process may hold.
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def make_engine(database_url: str, **engine_options: Any) -> Engine:
    """An engine for `database_url`, with the connection rules of its backend (see above)."""
    url = make_url(database_url)
    backend = url.get_backend_name()
    if backend == "sqlite":
        path = sqlite_file(database_url)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False}
        engine = create_engine(url, connect_args=connect_args, **engine_options)
        event.listen(engine, "connect", _configure_sqlite_connection)
        return engine
    engine = create_engine(url, **engine_options)
    event.listen(engine, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Drop a pooled connection whose server end is gone; the pool then opens a new one.

    An idle connection has nothing to read: PostgreSQL sends nothing unasked between statements
    (autobook uses no LISTEN). Readable means the server closed it (restart, terminated backend)
    or sent its last error before closing: either way the connection is finished. A zero-timeout
    `select` costs a system call, not a round trip.
    """
    if dbapi_connection.closed:
        raise DisconnectionError("the connection was closed")
    readable, _, failed = select.select([dbapi_connection], [], [dbapi_connection], 0)
    if readable or failed:
        raise DisconnectionError("the server closed the connection")


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    """Sessions whose rows stay readable after commit; use them as `with sessions() as s:`."""
    return sessionmaker(engine, expire_on_commit=False)


def alembic_config(database_url: str) -> Config:
    """An Alembic config for the packaged migrations, aimed at `database_url`."""
    from alembic.config import Config  # Alembic is imported only when a migration may run

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    # ConfigParser interpolation treats % specially; URLs may carry %-escapes in passwords.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


@contextlib.contextmanager
def _sqlite_migration_lock(path: Path) -> Iterator[None]:
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: one process at a time is the user's job
        yield
        return
    lock_path = path.with_name(path.name + ".migrate.lock")
    with lock_path.open("a") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def upgrade(database_url: str, revision: str = "head") -> None:
    """Migrate the database to `revision` (the newest by default); idempotent and race-safe.

    Raises `DatabaseUnavailable` when the database can't be reached or opened.
    """
    with unavailable_as_error(database_url):
        if revision == "head" and _at_packaged_head(database_url):
            return
        _upgrade(database_url, revision)


_REVISION_LINE = re.compile(r'^revision: str = "([^"]+)"', re.MULTILINE)


@lru_cache(maxsize=1)
def packaged_head() -> str | None:
    """The newest packaged revision, read from the highest-numbered migration file.

    The files are numbered (`0001_...`, `0002_...`), each revision following the one before;
    reading one line of one file spares a command Alembic's import (a tenth of a second) when
    the schema is current, which it almost always is. `tests/unit` checks this against Alembic.
    """
    files = sorted((MIGRATIONS_DIR / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))
    if not files:
        return None
    found = _REVISION_LINE.search(files[-1].read_text(encoding="utf-8"))
    return found.group(1) if found else None


def _at_packaged_head(database_url: str) -> bool:
    """Whether the database is already at the newest revision (False when unsure)."""
    head = packaged_head()
    if head is None:
        return False
    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            current = connection.execute(text("SELECT version_num FROM alembic_version")).all()
    except DBAPIError:
        return False  # no such table yet, or no database: the migration path says which
    finally:
        engine.dispose()
    return [row[0] for row in current] == [head]


def _upgrade(database_url: str, revision: str) -> None:
    from alembic import command

    config = alembic_config(database_url)
    engine = make_engine(database_url)
    try:
        if engine.dialect.name == "postgresql":
            with engine.begin() as connection:
                # Held until this transaction ends: a second process waits, then finds the
                # schema current and does nothing.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"),
                    {"key": POSTGRES_MIGRATION_LOCK_KEY},
                )
                config.attributes["connection"] = connection
                command.upgrade(config, revision)
            return
        path = sqlite_file(database_url)
        lock = _sqlite_migration_lock(path) if path is not None else contextlib.nullcontext()
        with lock, engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    finally:
        engine.dispose()


def current_revision(database_url: str) -> str | None:
    """The Alembic revision the database is at, or None if it was never migrated."""
    from alembic.migration import MigrationContext

    engine = make_engine(database_url)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str | None:
    """The newest revision the packaged migrations know."""
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(DEFAULT_DATABASE_URL)).get_current_head()
