"""A whole autobook on this machine, for integration, fault and benchmark runs.

`Stack` runs the Calendly sandbox and real `autobook worker` processes as subprocesses (see
`autobook.localstack`), on one of two backends:
- `embedded`: SQLite file + Celery's filesystem broker in a temp folder (the defaults);
- `redis_pg`: a fresh PostgreSQL database and a Redis database number of its own.
Requests are submitted in-process through `autobook.intake` (exactly what `autobook submit`
does), outcomes are read from the database, and the truth is read from the sandbox's ledger.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import subprocess
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from autobook import db, intake, store
from autobook.config import Settings, load_settings
from autobook.doorbell import Doorbell
from autobook.intake import SubmitResult
from autobook.localstack import SANDBOX_TOKEN, LocalStack
from autobook.models import BookingRequestRow
from autobook.tasks import BOOK_TASK
from autobook.times import utc_now
from autobook.worker import create_app
from tests.support.databases import fresh_postgres_database, running_in_ci, sqlite_url_in
from tests.support.sandbox import SandboxAdmin

REDIS_URL = "redis://127.0.0.1:6379"
FAST_SETTINGS = {
    "AUTOBOOK_DISPATCH_INTERVAL_SECONDS": "0.5",
    "AUTOBOOK_RECONCILE_GRACE_SECONDS": "1",
    "AUTOBOOK_WAITING_REPOLL_SECONDS": "2",
    "AUTOBOOK_LEASE_SECONDS": "20",
    "AUTOBOOK_TESTING": "true",
    "AUTOBOOK_PLAN": "unlimited",
}


def require_redis() -> None:
    """Skip when Redis is down; fail instead under CI=true."""
    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except redis.RedisError as exc:
        reason = f"Redis is not reachable at {REDIS_URL}: {exc}"
        if running_in_ci():
            pytest.fail(f"{reason} (CI=true: Redis is required)")
        pytest.skip(reason)


@contextlib.contextmanager
def free_redis_db() -> Iterator[str]:
    """A Redis database number nobody uses, flushed afterwards."""
    require_redis()
    numbers = list(range(1, 16))
    random.shuffle(numbers)
    for number in numbers:
        client = redis.Redis.from_url(f"{REDIS_URL}/{number}")
        # Claim the number with a marker key so a parallel run picks another one.
        if client.dbsize() == 0 and client.set("autobook-test-claim", os.getpid(), nx=True):
            try:
                yield f"{REDIS_URL}/{number}"
            finally:
                client.flushdb()
            return
    pytest.skip("no free Redis database number")


@dataclass
class Backend:
    name: str
    database_url: str
    broker_url: str | None = None
    redis_url: str | None = None

    def env(self) -> dict[str, str]:
        return {
            "AUTOBOOK_DATABASE_URL": self.database_url,
            "AUTOBOOK_BROKER_URL": self.broker_url or "",
            "AUTOBOOK_REDIS_URL": self.redis_url or "",
        }


@contextlib.contextmanager
def backend(name: str, tmp_path: Path) -> Iterator[Backend]:
    if name == "embedded":
        yield Backend(name, sqlite_url_in(tmp_path))
        return
    if name == "redis_pg":
        with free_redis_db() as redis_url, fresh_postgres_database() as database_url:
            yield Backend(name, database_url, broker_url=redis_url, redis_url=redis_url)
        return
    raise ValueError(name)


@dataclass
class Stack:
    """Sandbox + workers + database, on one backend."""

    backend: Backend
    data_dir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    local: LocalStack = field(init=False)
    settings: Settings = field(init=False)
    sessions: sessionmaker[Session] = field(init=False)
    admin: SandboxAdmin = field(init=False)

    def start(self, *, sandbox_args: tuple[str, ...] = ()) -> Stack:
        self.local = LocalStack(self.data_dir, log_dir=self.data_dir / "logs")
        self.local.__enter__()
        url = self.local.start_sandbox(extra=sandbox_args)
        self.local.env.update(
            {
                **FAST_SETTINGS,
                **self.backend.env(),
                "AUTOBOOK_CALENDLY_URL": url,
                "AUTOBOOK_CALENDLY_TOKEN": SANDBOX_TOKEN,
                **self.extra_env,
            }
        )
        self.settings = load_settings(
            data_dir=self.data_dir,
            database_url=self.backend.database_url,
            broker_url=self.backend.broker_url,
            redis_url=self.backend.redis_url,
            calendly_url=url,
        )
        db.upgrade(self.settings.database_url)
        self.sessions = db.make_session_factory(db.make_engine(self.settings.database_url))
        self.app = create_app(self.settings)
        self.doorbell = Doorbell(self.app)
        self.admin = SandboxAdmin(url)
        self.admin.set_limits({"tier": "unlimited"})
        return self

    @property
    def sandbox_url(self) -> str:
        assert self.local.sandbox_url is not None
        return self.local.sandbox_url

    def start_worker(self, concurrency: int = 2, name: str = "worker") -> Any:
        return self.local.start_worker(concurrency=concurrency, name=name)

    def stop(self) -> None:
        """Stop whatever started; safe after a failed `start` (it must not hide that error)."""
        if hasattr(self, "local"):
            self.local.stop_all()
        if hasattr(self, "admin"):
            self.admin.close()
        if hasattr(self, "doorbell"):
            with contextlib.suppress(Exception):
                self.doorbell.close()
        if hasattr(self, "app"):
            with contextlib.suppress(Exception):
                self.app.close()

    # -- requests ------------------------------------------------------------------------

    def add_source(self, name: str, *options: str) -> str:
        """`autobook sources add NAME --json [OPTIONS]` on this stack's database; the API key."""
        env = {**os.environ, **self.local.worker_env()}
        argv = [sys.executable, "-m", "autobook", "sources", "add", name, "--json", *options]
        result = subprocess.run(argv, capture_output=True, text=True, env=env, check=True)
        key: str = json.loads(result.stdout)["secret"]
        return key

    def send_raw(self, *args: Any, **kwargs: Any) -> None:
        """Put a message straight on the queue, as a producer in another language would."""
        self.app.send_task(BOOK_TASK, args=args, kwargs=kwargs)

    def submit(self, items: Iterable[object]) -> list[SubmitResult]:
        return intake.submit_many(
            self.sessions, list(items), now=utc_now, ring_many=self.doorbell.ring_many
        )

    def rows(self, request_ids: Iterable[str] | None = None) -> list[BookingRequestRow]:
        with self.sessions() as session:
            if request_ids is None:
                return store.list_requests(session)
            found = [store.get_by_request_id(session, rid) for rid in request_ids]
        return [row for row in found if row is not None]

    def row(self, request_id: str) -> BookingRequestRow:
        (row,) = self.rows([request_id])
        return row

    def wait_terminal(
        self, request_ids: Iterable[str], timeout: float = 60.0
    ) -> list[BookingRequestRow]:
        ids = list(request_ids)
        deadline = time.monotonic() + timeout
        while True:
            rows = self.rows(ids)
            if len(rows) == len(ids) and all(row.status.is_terminal for row in rows):
                return rows
            if time.monotonic() > deadline:
                pending = {r.request_id: str(r.status) for r in rows if not r.status.is_terminal}
                raise AssertionError(
                    f"not terminal after {timeout:.0f}s: {pending}; logs in {self.data_dir}/logs"
                )
            time.sleep(0.2)

    def worker_logs(self) -> str:
        logs = self.data_dir / "logs"
        return "\n".join(p.read_text(errors="replace") for p in sorted(logs.glob("worker*.log")))


@contextlib.contextmanager
def running_stack(
    backend_name: str,
    tmp_path: Path,
    *,
    workers: int = 1,
    concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
    sandbox_args: tuple[str, ...] = (),
) -> Iterator[Stack]:
    with backend(backend_name, tmp_path) as chosen:
        stack = Stack(chosen, tmp_path / "autobook", dict(extra_env or {}))
        try:
            stack.start(sandbox_args=sandbox_args)
            for index in range(workers):
                stack.start_worker(concurrency=concurrency, name=f"worker{index}")
            yield stack
        finally:
            stack.stop()
