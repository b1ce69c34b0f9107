"""Chaos: many requests, every fault at once, workers killed at random; nothing lost, none twice.

Real `autobook worker` processes (Celery) book against the sandbox while it injects, on every
endpoint the worker calls, 500s, 429s and latency, and on `POST /invitees` also dropped
connections after commit, 500s after commit and stolen slots; meanwhile workers are killed with
SIGKILL at random moments (preferably in the middle of a booking) and replaced. At the end the
database is compared with the sandbox's ledger (see `tests/faults/invariants.py`).

The seed is generated: an organization whose hosts work every day, a group event type with
seats and a round-robin type, so a thousand bookings fit well within the search horizon. A few
requests are meant to end otherwise: a window nobody works in (`no_slot`), a location the type
does not offer (`rejected`).

Run: `python bench/chaos.py [--requests 1000] [--backend redis_pg|embedded] [--workers 3]
[--concurrency 3] [--kills 2]`. It prints one table; duplicates, lost and non-terminal must be 0
(the exit code is 1 otherwise).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.faults.conftest import FAULT_ENV
from tests.faults.invariants import booking_request, measure
from tests.faults.killer import Killer
from tests.support.stack import Stack, running_stack

HOST_ZONES = ("America/New_York", "Europe/London", "America/Chicago", "Europe/Berlin", "UTC")
EVERY_DAY = {day: ["08:00-20:00"] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
GROUP_SLUG = "chaos-webinar"
ROUND_ROBIN_SLUG = "chaos-round-robin"
NO_SLOT_SHARE = 0.02
REJECTED_SHARE = 0.01


def chaos_seed() -> dict[str, Any]:
    hosts = [
        {
            "name": f"Host {index}",
            "email": f"host{index}@chaos.example.com",
            "timezone": zone,
            "plan": "enterprise",
            "working_hours": EVERY_DAY,
        }
        for index, zone in enumerate(HOST_ZONES)
    ]
    return {
        "organization": {"name": "Chaos Org"},
        "users": hosts,
        "event_types": [
            {
                "name": "Chaos Webinar",
                "slug": GROUP_SLUG,
                "hosts": [hosts[0]["email"]],
                "kind": "group",
                "capacity": 10,
                "duration": 30,
                "locations": [{"kind": "zoom_conference"}],
            },
            {
                "name": "Chaos Round Robin",
                "slug": ROUND_ROBIN_SLUG,
                "hosts": [host["email"] for host in hosts[1:]],
                "pooling_type": "round_robin",
                "duration": 30,
                "locations": [{"kind": "google_conference"}],
            },
        ],
        "bookings": [],
    }


def faults(seed: int, rate_429: float) -> dict[str, Any]:
    reads = {"error_500": 0.05, "error_429": rate_429, "latency_ms": 20}
    return {
        "seed": seed,
        "endpoints": {
            "GET /users/me": reads,
            "GET /event_types": reads,
            "GET /event_type_available_times": {**reads, "latency_ms": 50},
            "GET /scheduled_events": reads,
            "GET /scheduled_events/{uuid}": reads,
            "GET /scheduled_events/{uuid}/invitees": reads,
            "POST /invitees": {
                "latency_ms": 150,
                "error_500": 0.05,
                "error_429": rate_429,
                "error_500_after_commit": 0.03,
                "drop_after_commit": 0.05,
                "steal_slot": 0.05,
            },
        },
    }


def chaos_requests(count: int, rng: random.Random) -> list[dict[str, Any]]:
    """Mostly bookable requests, half per event type; a few meant to end otherwise."""
    tomorrow = (datetime.now(ZoneInfo("UTC")) + timedelta(days=2)).date().isoformat()
    requests = []
    for index in range(count):
        slug = GROUP_SLUG if index % 2 == 0 else ROUND_ROBIN_SLUG
        extra: dict[str, Any] = {"event_type": {"slug": slug}}
        roll = rng.random()
        if roll < NO_SLOT_SHARE:
            # Every host works 08:00-20:00 in their own zone: nobody between 03:00 and 06:00 UTC.
            extra["window"] = {
                "earliest": tomorrow,
                "latest": tomorrow,
                "timezone": "UTC",
                "hours": ["03:00-06:00"],
            }
        elif roll < NO_SLOT_SHARE + REJECTED_SHARE:
            extra["location"] = {"kind": "physical", "location": "1 Main St"}
        requests.append(booking_request(f"chaos-{index:05d}", **extra))
    return requests


def calls_by_status(stack: Stack) -> dict[int | None, int]:
    counts: dict[int | None, int] = {}
    for row in stack.admin.stats():
        counts[row["status"]] = counts.get(row["status"], 0) + int(row["count"])
    return counts


def run(args: argparse.Namespace) -> int:
    rng = random.Random(args.seed)
    console = Console(width=140)
    with tempfile.TemporaryDirectory(prefix="autobook-chaos-") as folder:
        seed_path = Path(folder) / "chaos-seed.json"
        seed_path.write_text(json.dumps(chaos_seed()))
        with running_stack(
            args.backend,
            Path(folder),
            workers=0,
            extra_env={**FAULT_ENV, "AUTOBOOK_MAX_SLOT_RETRIES": "15"},
            sandbox_args=("--seed", str(seed_path)),
        ) as stack:
            killer = Killer(stack, concurrency=args.concurrency, rng=rng)
            killer.start_workers(args.workers)
            stack.admin.set_faults(faults(args.seed, args.rate_429))
            requests = chaos_requests(args.requests, rng)
            ids = [r["request_id"] for r in requests]
            started = time.monotonic()
            stack.submit(requests)
            console.print(f"submitted {len(ids)} in {time.monotonic() - started:.1f}s")
            # Kills land while work remains: each at a random share of requests finished.
            kill_at = sorted(rng.uniform(0.05, 0.6) for _ in range(args.kills))
            deadline = started + args.timeout
            finished_at: float | None = None
            while time.monotonic() < deadline:
                rows = stack.rows(ids)
                done = sum(row.status.is_terminal for row in rows)
                if len(rows) == len(ids) and done == len(ids):
                    finished_at = time.monotonic()
                    break
                if kill_at and done >= kill_at[0] * len(ids):
                    kill_at.pop(0)
                    kill = killer.kill_mid_booking("worker", wait_seconds=5.0)
                    if kill is None:
                        kill = killer.kill_random("worker")
                    console.print(
                        f"{time.monotonic() - started:6.1f}s ({done} finished) kill -9 "
                        f"{kill.worker}"
                        + (f" mid-booking of {kill.request_id}" if kill.request_id else "")
                    )
                time.sleep(0.5)
            wall = (finished_at or time.monotonic()) - started
            outcome = measure(stack, ids)
            calls = calls_by_status(stack)
        report(console, args, outcome, wall, calls, killer, finished_at is not None)
    failed = outcome.duplicates or outcome.lost or outcome.non_terminal or outcome.mismatches
    return 1 if failed else 0


def report(
    console: Console,
    args: argparse.Namespace,
    outcome: Any,
    wall: float,
    calls: dict[int | None, int],
    killer: Killer,
    finished: bool,
) -> None:
    table = Table(
        title=f"chaos: every fault at once, {len(killer.kills)} workers killed ({args.backend})"
    )
    for column in (
        "requests",
        "booked",
        "no_slot",
        "rejected",
        "failed",
        "duplicates",
        "lost",
        "non-terminal",
        "wall time",
        "calls/booking",
    ):
        table.add_column(column, justify="right")
    booked = outcome.booked
    table.add_row(
        str(args.requests),
        str(booked),
        str(outcome.statuses.get("no_slot", 0)),
        str(outcome.statuses.get("rejected", 0)),
        str(outcome.statuses.get("failed", 0)),
        str(outcome.duplicates),
        str(outcome.lost),
        str(outcome.non_terminal),
        f"{wall:.0f}s" + ("" if finished else " (timed out)"),
        f"{sum(calls.values()) / booked:.1f}" if booked else "-",
    )
    console.print(table)
    states = ", ".join(f"{k} {v}" for k, v in sorted(outcome.attempt_states.items()))
    console.print(f"POST attempts: {states}; dropped bookings adopted: {outcome.dropped_adopted}")
    console.print(
        f"Calendly calls: {sum(calls.values())}; 429 answers: {calls.get(429, 0)} (each holds "
        f"every worker until Calendly's reset), 500 answers: {calls.get(500, 0)}"
    )
    if outcome.mismatches:
        console.print(f"[red]database and ledger disagree:[/red] {outcome.mismatches[:10]}")
    failures = [f"{rid}: {why}" for rid, why in outcome.not_booked.items() if "failed" in why]
    for line in failures[:5]:
        console.print(f"failed: {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--backend", choices=("redis_pg", "embedded"), default="redis_pg")
    parser.add_argument("--workers", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--kills", type=int, default=2)
    parser.add_argument("--rate-429", type=float, default=0.001, help="429 share per call")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--timeout", type=float, default=1800.0)
    return run(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
