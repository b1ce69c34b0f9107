"""`autobook demo`: the whole path on embedded defaults, in under a minute.

It starts the Calendly sandbox and one `autobook worker` as subprocesses, on a fresh SQLite
database and filesystem broker under `.autobook/demo/`, submits the sample requests of
`demo_requests`, shows a progress bar while the worker books, and ends with a table of outcomes
and links (see `demo_view`), and what the sandbox's ledger holds. Every process it started is
stopped on the way out, whatever happens. The database and the logs stay in `.autobook/demo/`
until the next demo, so `autobook status` can show any request's story; `--keep` keeps the
broker's queue folders too. Exit code 0 when every request reached a terminal status; 1 after
`--timeout`, with each unfinished request and why it was still pending.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections import Counter
from pathlib import Path

import httpx
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from sqlalchemy.orm import Session, sessionmaker

from autobook import db, demo_view, intake, store
from autobook.config import CONTROL_DIR_NAME, QUEUE_DIR_NAME, load_settings
from autobook.demo_requests import sample_requests
from autobook.localstack import SANDBOX_TOKEN, LocalStack
from autobook.tasks import BOOK_TASK
from autobook.times import utc_now
from autobook.worker import create_app

DEMO_DIR = Path(".autobook") / "demo"
POLL_SECONDS = 0.25


def _ledger(url: str) -> list[dict[str, object]]:
    response = httpx.get(
        f"{url}/_sandbox/ledger", headers={"Authorization": f"Bearer {SANDBOX_TOKEN}"}, timeout=5
    )
    response.raise_for_status()
    collection: list[dict[str, object]] = response.json()["collection"]
    return collection


def run_demo(*, keep: bool = False, timeout_seconds: float = 50.0) -> int:
    console = Console()
    shutil.rmtree(DEMO_DIR, ignore_errors=True)
    run = uuid.uuid4().hex[:6]
    with LocalStack(DEMO_DIR) as stack:
        console.print("[bold]autobook demo[/]: starting the Calendly sandbox and a worker…")
        url = stack.start_sandbox()
        stack.env.update(
            {
                "AUTOBOOK_CALENDLY_URL": url,
                "AUTOBOOK_CALENDLY_TOKEN": SANDBOX_TOKEN,
                "AUTOBOOK_DATABASE_URL": f"sqlite:///{DEMO_DIR / 'autobook.db'}",
                "AUTOBOOK_BROKER_URL": "",
                "AUTOBOOK_REDIS_URL": "",
                "AUTOBOOK_DISPATCH_INTERVAL_SECONDS": "1",
                "AUTOBOOK_PLAN": "enterprise",
            }
        )
        settings = load_settings(
            data_dir=DEMO_DIR,
            database_url=stack.env["AUTOBOOK_DATABASE_URL"],
            broker_url=None,
            calendly_url=url,
        )
        db.upgrade(settings.database_url)
        stack.start_worker(concurrency=2)
        app = create_app(settings)
        sessions = db.make_session_factory(db.make_engine(settings.database_url))
        requests = sample_requests(utc_now(), run)

        def ring(request_id: str) -> None:
            app.send_task(BOOK_TASK, args=(request_id,))

        results = intake.submit_many(sessions, requests, now=utc_now, ring=ring)
        console.print(
            f"submitted {len(results)} requests (sandbox at {url}, data in {DEMO_DIR})",
            soft_wrap=True,  # the URL stays whole
        )
        ids = [r.request_id for r in results]
        rows = _wait(console, sessions, ids, timeout_seconds)
        demo_view.print_outcomes(console, rows)
        ledger = _ledger(url)
        counts = Counter(str(row.status) for row in rows)
        console.print(
            f"sandbox ledger: {sum(1 for b in ledger if b.get('status') == 'active')} active "
            f"bookings · outcomes: "
            + ", ".join(f"{status} {count}" for status, count in sorted(counts.items()))
        )
        finished = all(row.status.is_terminal for row in rows)
        if not finished:
            demo_view.print_timeout(console, rows, timeout_seconds, utc_now())
    if not keep:
        for name in (QUEUE_DIR_NAME, CONTROL_DIR_NAME):
            shutil.rmtree(DEMO_DIR / name, ignore_errors=True)
    kept = "database, logs and queue" if keep else "database and logs"
    console.print(
        f"kept in {DEMO_DIR} until the next demo: the {kept}. One request's full story:",
        soft_wrap=True,
    )
    example = rows[0].request_id if rows else "<request_id>"
    console.print(f"  AUTOBOOK_DATA_DIR={DEMO_DIR} autobook status {example}", soft_wrap=True)
    return 0 if finished else 1


def _wait(
    console: Console, sessions: sessionmaker[Session], ids: list[str], timeout_seconds: float
) -> list[store.BookingRequestRow]:
    deadline = time.monotonic() + timeout_seconds
    progress = Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    )
    with progress:
        task = progress.add_task("booking", total=len(ids))
        while True:
            rows = _rows(sessions, ids)
            done = sum(1 for row in rows if row.status.is_terminal)
            progress.update(
                task,
                completed=done,
                description="booking: " + demo_view.pending_summary(rows, utc_now()),
            )
            if done == len(ids) or time.monotonic() > deadline:
                return rows
            time.sleep(POLL_SECONDS)


def _rows(sessions: sessionmaker[Session], ids: list[str]) -> list[store.BookingRequestRow]:
    with sessions() as session:
        found = [store.get_by_request_id(session, request_id) for request_id in ids]
    return [row for row in found if row is not None]
