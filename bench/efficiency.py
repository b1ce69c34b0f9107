"""What autobook spends per booking, beside a naive baseline measured in the same run.

The naive baseline is what a script or a no-code flow does for each request, one after the
other: list the organization's event types, poll 7-day windows from the earliest onward until
one holds a slot that meets the request's constraints, then `POST /invitees` (polling again on
`already_filled`). It runs against the same sandbox, reset in between, on the same requests.

Rows (each prints its outcomes: a row counts only if every bookable request was booked):

- calls: Calendly calls per booked request on a mixed workload over the default seed (mixed
  constraints, a fifth of the requests competing for the same slots), and 429s received;
- budget: bookings a minute achieved / allowed, with a custom sandbox tier allowing 30 a minute
  and 2 workers sharing the budget;
- waiting: availability calls a minute, and log rows and database transactions per waiting
  request per hour, for 100 and 1,000 waiting requests on 5 event types;
- throughput: bookings a second with limits off, 2 workers, and CPU ms and database
  transactions per booking;
- latency: submit to booked for one request on an idle worker, p50 and p90, through the Python
  API and through the HTTP intake (`autobook serve`);
- start-up: `autobook submit` and `autobook status`.

Run: `python bench/efficiency.py [--backend redis_pg|embedded] [--quick]`. Quote medians and
ratios: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import psutil
import sqlalchemy as sa
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.stack import Stack, running_stack

from autobook.booking.constraints import constraints_for
from autobook.booking.slots import Slot, choose_slot
from autobook.models import BookingRequestRow, RequestStatus
from autobook.requests import parse_request

TOKEN = "sandbox-token"
NEW_YORK = ZoneInfo("America/New_York")
# Event types of the default seed a request may name, and what each needs besides the invitee.
MIXED_TYPES: dict[str, dict[str, Any]] = {
    "demo": {},
    "intro": {},
    "onsite-visit": {},
    "phone-call": {"location": {"kind": "outbound_call", "location": "+14155550100"}},
    "consultation": {"location": {"kind": "ask_invitee", "location": "The office"}},
    "flexible-meeting": {},
    "sales-round-robin": {},
    "partner-call": {},
}
BOOKED_SWEEP_PATH = "/scheduled_events/{event_uuid}/invitees/{invitee_uuid}"
ZONES = ("America/New_York", "Europe/London", "Australia/Sydney", "Asia/Kolkata")


@dataclass
class Row:
    name: str
    autobook: str
    naive: str
    target: str
    outcomes: str


# -- workloads --------------------------------------------------------------------------------


def weekdays_from(start: date, count: int) -> list[date]:
    days: list[date] = []
    day = start
    while len(days) < count:
        if day.weekday() < 5:
            days.append(day)
        day += timedelta(days=1)
    return days


def mixed_workload(run: str, count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Mixed event types and constraints; a fifth compete for the demo's slots of one morning."""
    today = datetime.now(NEW_YORK).date()
    days = weekdays_from(today + timedelta(days=2), 30)
    contested = days[3].isoformat()
    requests: list[dict[str, Any]] = []
    for index in range(count):
        request: dict[str, Any] = {
            "request_id": f"eff-{run}-{index}",
            "invitee": {
                "name": f"Mixed Person {index}",
                "email": f"mixed{index}@example.com",
                "timezone": rng.choice(ZONES),
            },
        }
        if index % 5 == 0:  # competing: the same morning of the same calendar
            request["event_type"] = {"slug": "demo"}
            request["invitee"]["timezone"] = "America/New_York"
            request["window"] = {"earliest": contested, "latest": days[12].isoformat()}
        else:
            slug = rng.choice(list(MIXED_TYPES))
            request["event_type"] = {"slug": slug}
            request.update(MIXED_TYPES[slug])
            shape = rng.randrange(4)
            if shape == 1:
                request["window"] = {"days": rng.sample(["mon", "tue", "wed", "thu", "fri"], 3)}
            elif shape == 2:
                day = rng.choice(days[:20]).isoformat()
                request["window"] = {"earliest": day, "latest": days[25].isoformat()}
            elif shape == 3:
                request["prefer"] = "latest"
                request["window"] = {"latest": days[rng.randrange(10, 25)].isoformat()}
        requests.append(request)
    return requests


def simple_workload(run: str, count: int, slug: str = "demo") -> list[dict[str, Any]]:
    return [
        {
            "request_id": f"eff-{run}-{index}",
            "event_type": {"slug": slug},
            "invitee": {
                "name": f"Person {index}",
                "email": f"p{index}-{run}@example.com",
                "timezone": "America/New_York",
            },
        }
        for index in range(count)
    ]


# -- the naive baseline -----------------------------------------------------------------------


def z(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def naive_book(http: httpx.Client, request: dict[str, Any]) -> bool:
    """List event types, poll 7-day windows from the earliest on, POST the first match."""
    organization = http.get("/users/me").json()["resource"]["current_organization"]
    types = http.get("/event_types", params={"organization": organization, "count": 100})
    slug = request["event_type"]["slug"]
    event_type = next(et for et in types.json()["collection"] if et["slug"] == slug)
    parsed = parse_request(request)
    constraints = constraints_for(parsed)
    duration = timedelta(minutes=event_type["duration"])
    refused: set[datetime] = set()
    start = datetime.now(UTC) + timedelta(minutes=3)
    for _ in range(10):  # 10 windows: 70 days, past autobook's 60-day horizon
        window_end = start + timedelta(days=7)
        times = http.get(
            "/event_type_available_times",
            params={
                "event_type": event_type["uri"],
                "start_time": z(start),
                "end_time": z(window_end),
            },
        ).json()["collection"]
        offered = {datetime.fromisoformat(t["start_time"].replace("Z", "+00:00")): t for t in times}
        while True:
            slot = choose_slot(
                [Slot(s, t.get("invitees_remaining") or 1) for s, t in offered.items()],
                duration,
                constraints,
                datetime.now(UTC),
                exclude=refused,
            )
            if slot is None:
                break
            body: dict[str, Any] = {
                "event_type": event_type["uri"],
                "start_time": offered[slot.start]["start_time"],
                "invitee": request["invitee"],
            }
            if "location" in request:
                body["location"] = request["location"]
            elif event_type.get("locations") and event_type.get("pooling_type") != "round_robin":
                first = event_type["locations"][0]
                body["location"] = {k: v for k, v in first.items() if k in ("kind", "location")}
            response = http.post("/invitees", json=body)
            if response.status_code == 201:
                return True
            refused.add(slot.start)
        start = window_end
    return False


def naive_run(stack: Stack, requests: list[dict[str, Any]]) -> tuple[int, int]:
    """(booked, Calendly calls) for the naive loop over `requests`."""
    stack.admin.reset()
    stack.admin.set_limits({"tier": "unlimited"})
    with httpx.Client(
        base_url=stack.sandbox_url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as http:
        booked = sum(naive_book(http, request) for request in requests)
    return booked, total_calls(stack)


# -- measuring --------------------------------------------------------------------------------


def total_calls(stack: Stack, path: str | None = None, status: int | None = None) -> int:
    return sum(
        int(row["count"])
        for row in stack.admin.stats()
        if (path is None or row["path"] == path) and (status is None or row["status"] == status)
    )


def transactions(stack: Stack) -> int | None:
    """Committed transactions of the stack's PostgreSQL database (None on SQLite)."""
    url = stack.settings.database_url
    if not url.startswith("postgresql"):
        return None
    engine = sa.create_engine(url)
    try:
        time.sleep(1.0)  # the statistics collector flushes about every second
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT pg_stat_clear_snapshot()"))
            value = connection.execute(
                sa.text(
                    "SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()"
                )
            ).scalar_one()
        return int(value)
    finally:
        engine.dispose()


def wait_for(
    stack: Stack, ids: list[str], done: Callable[[Counter[str]], bool], timeout: float
) -> int:
    """Poll the statuses with one query each time; returns how many queries that took.

    Not `Stack.wait_terminal`: the store's own reads, one transaction per row, would count in
    the transactions measured.
    """
    deadline = time.monotonic() + timeout
    wanted = list(ids)
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        with stack.sessions() as session:
            statuses = Counter(
                str(status)
                for status in session.execute(
                    sa.select(BookingRequestRow.status).where(
                        BookingRequestRow.request_id.in_(wanted)
                    )
                ).scalars()
            )
        if sum(statuses.values()) == len(wanted) and done(statuses):
            return polls
        time.sleep(0.2)
    return polls


def all_terminal(statuses: Counter[str]) -> bool:
    return all(RequestStatus(status).is_terminal for status in statuses)


def log_rows(stack: Stack) -> int:
    with stack.sessions() as session:
        return int(session.execute(sa.text("SELECT count(*) FROM request_log")).scalar_one())


def worker_cpu_seconds(stack: Stack) -> float:
    """CPU time of every worker process and its children (the sandbox excluded)."""
    total = 0.0
    for process in stack.local.processes[1:]:  # the first one is the sandbox
        with contextlib.suppress(psutil.NoSuchProcess):
            parent = psutil.Process(process.pid)
            for each in [parent, *parent.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = each.cpu_times()
                    total += times.user + times.system
    return total


def outcome_text(stack: Stack, ids: list[str]) -> str:
    counts = Counter(str(row.status) for row in stack.rows(ids))
    return ", ".join(f"{status} {count}" for status, count in sorted(counts.items()))


@contextlib.contextmanager
def stack_for(
    backend: str, *, workers: int = 2, concurrency: int = 4, env: dict[str, str] | None = None
) -> Iterator[Stack]:
    settings = {"AUTOBOOK_TESTING": "false", **(env or {})}
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(
            backend, Path(tmp), workers=workers, concurrency=concurrency, extra_env=settings
        ) as stack,
    ):
        yield stack


def settle(stack: Stack, *, busy_share: float = 0.2, timeout: float = 30.0) -> None:
    """Wait until the workers are done starting: their processes together use less than
    `busy_share` of a core over half a second.

    A worker is ready before all of it has started: each pool process builds its runtime in a
    thread, and the callback consumer child imports its code (about 1.5 s of CPU). Measured
    from the first request, that start-up is counted per booking and takes CPU from it.
    """
    deadline = time.monotonic() + timeout
    window = 0.5
    while time.monotonic() < deadline:
        before = worker_cpu_seconds(stack)
        time.sleep(window)
        if worker_cpu_seconds(stack) - before < busy_share * window:
            return


# -- rows -------------------------------------------------------------------------------------


def calls_rows(backend: str, count: int) -> list[Row]:
    requests = mixed_workload(datetime.now(UTC).strftime("%H%M%S"), count, random.Random(7))
    ids = [r["request_id"] for r in requests]
    with stack_for(backend) as stack:
        naive_booked, naive_calls = naive_run(stack, requests)
        stack.admin.reset()
        stack.admin.set_limits({"tier": "unlimited"})
        stack.submit(requests)
        rows = stack.wait_terminal(ids, timeout=900)
        booked = sum(1 for row in rows if str(row.status) == "booked")
        # The booked sweep (webhooks/sweep.py) re-reads booked invitees on its own interval: a
        # cost per booked meeting and interval, not per booking; shown apart.
        swept = total_calls(stack, BOOKED_SWEEP_PATH)
        calls = total_calls(stack) - swept
        refused = total_calls(stack, "/invitees", 400)
        limited = total_calls(stack, status=429)
        outcomes = outcome_text(stack, ids)
    ours = calls / max(booked, 1)
    theirs = naive_calls / max(naive_booked, 1)
    return [
        Row(
            f"Calendly calls per booked request ({count} mixed requests)",
            f"{ours:.2f} ({refused} already_filled)",
            f"{theirs:.2f}",
            f"<= 1.2 and naive/ours >= 3 (here {theirs / ours:.1f})",
            f"autobook: {outcomes}; naive booked {naive_booked}; "
            f"booked sweep reads not counted: {swept}",
        ),
        Row("429s received", str(limited), "-", "0", ""),
    ]


def budget_row(backend: str, count: int, per_minute: int = 30) -> Row:
    env = {"AUTOBOOK_PLAN": "custom", "AUTOBOOK_PLAN_INVITEES_PER_MINUTE": str(per_minute)}
    requests = simple_workload(datetime.now(UTC).strftime("%H%M%S") + "b", count)
    ids = [r["request_id"] for r in requests]
    with stack_for(backend, workers=2, concurrency=2, env=env) as stack:
        stack.admin.reset()
        stack.admin.set_limits({"tier": "custom", "invitees_per_minute": per_minute})
        stack.submit(requests)
        stack.wait_terminal(ids, timeout=900)
        booked_at = sorted(
            datetime.fromisoformat(e["created_at"].replace("Z", "+00:00"))
            for e in stack.admin.ledger()
        )
        limited = total_calls(stack, status=429)
        outcomes = outcome_text(stack, ids)
    # A sliding minute allows `per_minute` bookings at once, then as many in each minute after:
    # from the first booking to the last, at most per_minute * (1 + minutes) can be made. The
    # request count is a multiple of per_minute, so the last minute is full, not half used.
    minutes = (booked_at[-1] - booked_at[0]) / timedelta(minutes=1)
    achieved = len(booked_at) / (per_minute * (1 + minutes))
    return Row(
        f"budget use when it binds ({per_minute}/min custom tier, 2 workers, {count} requests)",
        f"{achieved:.2f} ({len(booked_at)} booked in {minutes:.2f} min after the first)",
        "-",
        ">= 0.95",
        f"{outcomes}; 429s {limited}",
    )


def waiting_rows(backend: str, counts: list[int], repoll: int, watch: float) -> list[Row]:
    rows: list[Row] = []
    for count in counts:
        env = {
            "AUTOBOOK_WAITING_REPOLL_SECONDS": str(repoll),
            "AUTOBOOK_DISPATCH_INTERVAL_SECONDS": "1",
        }
        with stack_for(backend, env=env) as stack:
            today = datetime.now(NEW_YORK).date()
            saturday = today + timedelta(days=(5 - today.weekday()) % 7 + 14)
            until = (datetime.now(NEW_YORK) + timedelta(hours=2)).isoformat()
            slugs = ["demo", "intro", "onsite-visit", "phone-call", "flexible-meeting"]
            requests = []
            for index in range(count):
                slug = slugs[index % len(slugs)]
                request = simple_workload(f"w{count}", 1, slug)[0]
                request["request_id"] = f"wait-{count}-{index}"
                request.update(MIXED_TYPES[slug])
                request["window"] = {
                    "earliest": saturday.isoformat(),
                    "latest": saturday.isoformat(),
                }
                request["keep_trying_until"] = until
                requests.append(request)
            ids = [r["request_id"] for r in requests]
            stack.submit(requests)
            wait_for(stack, ids, lambda s: set(s) == {"waiting"}, timeout=600)
            polls_before = total_calls(stack, "/event_type_available_times")
            logs_before, xacts_before = log_rows(stack), transactions(stack)
            time.sleep(watch)
            polls = total_calls(stack, "/event_type_available_times") - polls_before
            logs = log_rows(stack) - logs_before
            xacts_after = transactions(stack)
            outcomes = outcome_text(stack, ids)
        per_hour = 3600 / watch / count
        xact_text = (
            "-"
            if xacts_before is None or xacts_after is None
            else (f"{(xacts_after - xacts_before) * per_hour:.0f}")
        )
        cells = 1  # every request waits on the same Saturday: one grid cell per event type
        rows.append(
            Row(
                f"availability calls a minute, {count} waiting on 5 types (repoll {repoll}s)",
                f"{polls * 60 / watch:.1f}",
                f"{count * 60 / repoll:.0f} (one poll per request)",
                f"<= 5 types x {cells} cell x {60 / repoll:.0f} = {5 * cells * 60 / repoll:.0f}",
                outcomes,
            )
        )
        rows.append(
            Row(
                f"log rows / transactions per waiting request per hour ({count})",
                f"{logs * per_hour:.1f} / {xact_text}",
                "-",
                "report; O(1) per change",
                "",
            )
        )
    return rows


def throughput_row(backend: str, count: int) -> Row:
    requests = simple_workload(datetime.now(UTC).strftime("%H%M%S") + "t", count)
    # Spread over several calendars so the sandbox's slots don't run out.
    slugs = itertools.cycle(["demo", "onsite-visit", "phone-call", "consultation", "intro"])
    for request in requests:
        slug = next(slugs)
        request["event_type"] = {"slug": slug}
        request.update(MIXED_TYPES.get(slug, {}))
    ids = [r["request_id"] for r in requests]
    with stack_for(backend, workers=2, concurrency=4) as stack:
        stack.admin.reset()
        stack.admin.set_limits({"tier": "unlimited"})
        settle(stack)
        xacts_before, cpu_before = transactions(stack), worker_cpu_seconds(stack)
        started = time.perf_counter()
        stack.submit(requests)
        ours = wait_for(stack, ids, all_terminal, timeout=900)
        wall = time.perf_counter() - started
        cpu = worker_cpu_seconds(stack) - cpu_before
        xacts_after = transactions(stack)
        if xacts_after is not None:
            xacts_after -= ours  # the bench's own status queries
        booked = sum(1 for row in stack.rows(ids) if str(row.status) == "booked")
        outcomes = outcome_text(stack, ids)
    xact_text = (
        "-"
        if xacts_before is None or xacts_after is None
        else (f"{(xacts_after - xacts_before) / max(booked, 1):.1f}")
    )
    return Row(
        f"bookings a second, limits off, 2 workers ({backend})",
        f"{booked / wall:.1f} ({cpu * 1000 / max(booked, 1):.1f} CPU ms and "
        f"{xact_text} transactions per booking, intake included)",
        "-",
        ">= 50",
        outcomes,
    )


def latency_rows(backend: str, samples: int) -> list[Row]:
    """Submit to booked, one request at a time on an idle worker: the Python API, then HTTP.

    The HTTP door is a real `autobook serve` on the same stack, one keep-alive client posting
    to `/v1/bookings`; the clock stops, for both doors, when the row reads terminal.
    """
    rows = []
    with stack_for(backend, workers=1, concurrency=2) as stack:
        stack.admin.set_limits({"tier": "unlimited"})
        url, serve = stack.local.start_serve()
        key = stack.add_source("latency")
        with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {key}"}) as client:

            def post(request: dict[str, Any]) -> None:
                answer = client.post("/v1/bookings", json=request)
                if answer.status_code != 202:
                    raise RuntimeError(f"the intake answered {answer.status_code}: {answer.text}")

            doors: list[tuple[str, Callable[[dict[str, Any]], object]]] = [
                ("Python API", lambda request: stack.submit([request])),
                ("HTTP intake", post),
            ]
            for door, submit in doors:
                latencies, ids = _latencies(stack, submit, door[0], samples)
                rows.append(_latency_row(backend, door, latencies, outcome_text(stack, ids)))
        stack.local.stop(serve)
    return rows


def _latencies(
    stack: Stack, submit: Callable[[dict[str, Any]], object], tag: str, samples: int
) -> tuple[list[float], list[str]]:
    latencies: list[float] = []
    ids = []
    for index in range(samples + 1):
        run = datetime.now(UTC).strftime("%H%M%S") + f"{tag}{index}"
        request = simple_workload(run, 1)[0]
        ids.append(request["request_id"])
        started = time.perf_counter()
        submit(request)
        while True:
            row = stack.row(request["request_id"])
            if row.status.is_terminal:
                break
            time.sleep(0.005)
        if index:  # the first one warms the worker (and the door) up
            latencies.append(time.perf_counter() - started)
        time.sleep(0.3)
    return latencies, ids


def _latency_row(backend: str, door: str, latencies: list[float], outcomes: str) -> Row:
    ordered = sorted(latencies)
    p90 = ordered[int(0.9 * (len(ordered) - 1))]
    return Row(
        f"submit to booked, one request, idle worker, {door} ({backend})",
        f"p50 {statistics.median(ordered) * 1000:.0f} ms, p90 {p90 * 1000:.0f} ms",
        "-",
        "p50 <= 150 ms on redis_pg",
        outcomes,
    )


def startup_row() -> Row:
    """Wall time of whole commands on embedded defaults, median of 5 (after a first run that
    creates the database): `status`, `submit --help` (the parser only), and `submit` of one new
    request (start-up plus the command's own work: the record and the doorbell)."""

    def timed(*argv: str) -> float:
        runs = []
        for _ in range(5):
            started = time.perf_counter()
            subprocess.run(["autobook", *argv], capture_output=True, check=False)
            runs.append(time.perf_counter() - started)
        return statistics.median(runs)

    with tempfile.TemporaryDirectory() as tmp:
        env_dir = os.getcwd()
        os.chdir(tmp)
        try:
            subprocess.run(["autobook", "status"], capture_output=True, check=False)
            status = timed("status")
            help_only = timed("submit", "--help")
            runs = []
            for index in range(5):
                path = Path(tmp) / f"request-{index}.json"
                path.write_text(json.dumps(simple_workload(f"startup{index}", 1)[0]))
                started = time.perf_counter()
                subprocess.run(["autobook", "submit", str(path)], capture_output=True, check=False)
                runs.append(time.perf_counter() - started)
            submit = statistics.median(runs)
        finally:
            os.chdir(env_dir)
    return Row(
        "start-up: autobook status / submit --help / submit of one request (median of 5)",
        f"{status:.2f} s / {help_only:.2f} s / {submit:.2f} s",
        "-",
        "<= 0.3 s",
        "",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("redis_pg", "embedded"), default="redis_pg")
    parser.add_argument("--quick", action="store_true", help="smaller runs, for a first look")
    parser.add_argument(
        "--only", default="calls,budget,waiting,throughput,latency,startup", help="rows to run"
    )
    args = parser.parse_args()
    quick = args.quick
    chosen = set(args.only.split(","))
    steps: list[tuple[str, Callable[[], list[Row]]]] = [
        ("calls", lambda: calls_rows(args.backend, 100 if quick else 500)),
        ("budget", lambda: [budget_row(args.backend, 60 if quick else 90)]),
        (
            "waiting",
            lambda: waiting_rows(
                args.backend,
                [100] if quick else [100, 1000],
                10 if quick else 60,
                30 if quick else 120,
            ),
        ),
        ("throughput", lambda: [throughput_row(args.backend, 200 if quick else 500)]),
        ("latency", lambda: latency_rows(args.backend, 10 if quick else 30)),
        ("startup", lambda: [startup_row()]),
    ]
    rows: list[Row] = []
    for name, step in steps:
        if name in chosen:
            rows.extend(step())
    table = Table(title=f"autobook efficiency ({args.backend})", show_lines=True)
    for column in ("row", "autobook", "naive", "target", "outcomes"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.name, row.autobook, row.naive, row.target, row.outcomes)
    Console(width=200).print(table)


if __name__ == "__main__":
    main()
