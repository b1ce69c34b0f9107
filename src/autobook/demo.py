"""`autobook demo`: the whole path on embedded defaults, in under a minute.

It starts the Calendly sandbox and one `autobook worker` as subprocesses, on a fresh SQLite
database and filesystem broker under `.autobook/demo/`, submits the sample requests of
`demo_requests`, shows a progress bar while the worker books, and ends with a table of outcomes
and links, and what the sandbox's ledger holds. Every process it started is stopped on the way
out, whatever happens. Exit code 0 when every request reached a terminal status.
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
from rich.table import Table
from sqlalchemy.orm import Session, sessionmaker

from autobook import db, intake, store, views
from autobook.config import load_settings
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


def _outcome_table(rows: list[store.BookingRequestRow]) -> Table:
    table = Table(title="Outcomes", show_lines=True)
    for column in ("request", "status", "when (invitee's time)", "where", "reason or cancel link"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = views.STATUS_STYLE.get(str(row.status), "")
        where = ""
        if row.location:
            where = str(row.location.get("type", ""))
            detail = row.location.get("location") or row.location.get("join_url")
            if detail:
                where += f": {detail}"
        table.add_row(
            row.request_id.split("-", 2)[-1],
            f"[{style}]{row.status}[/]" if style else str(row.status),
            views.local_time(row) or "",
            where,
            row.reason or row.cancel_url or "",
        )
    return table


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
        console.print(f"submitted {len(results)} requests (sandbox at {url}, data in {DEMO_DIR})")
        ids = [r.request_id for r in results]
        rows = _wait(console, sessions, ids, timeout_seconds)
        console.print(_outcome_table(rows))
        ledger = _ledger(url)
        counts = Counter(str(row.status) for row in rows)
        console.print(
            f"sandbox ledger: {sum(1 for b in ledger if b.get('status') == 'active')} active "
            f"bookings · outcomes: "
            + ", ".join(f"{status} {count}" for status, count in sorted(counts.items()))
        )
        console.print(
            "see one request's full story: autobook status <request_id> (with the "
            f"AUTOBOOK_DATA_DIR={DEMO_DIR} setting)"
        )
        finished = all(row.status.is_terminal for row in rows)
    if not keep:
        shutil.rmtree(DEMO_DIR / "queue", ignore_errors=True)
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
            waiting = Counter(str(r.status) for r in rows if not r.status.is_terminal)
            progress.update(
                task,
                completed=done,
                description="booking " + " ".join(f"{k}:{v}" for k, v in sorted(waiting.items())),
            )
            if done == len(ids) or time.monotonic() > deadline:
                return rows
            time.sleep(POLL_SECONDS)


def _rows(sessions: sessionmaker[Session], ids: list[str]) -> list[store.BookingRequestRow]:
    with sessions() as session:
        found = [store.get_by_request_id(session, request_id) for request_id in ids]
    return [row for row in found if row is not None]
