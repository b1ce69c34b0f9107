"""Bookings per second, latency and Calendly calls per booking: autobook beside a naive loop.

Both run in the same process against the same sandbox (reset in between), on the same requests:

- **naive**: what a script or a no-code flow does for each request, one after the other:
  `GET /users/me`, `GET /event_types` for the organization, `GET /event_type_available_times`
  for the next 7 days, `POST /invitees` on the first slot (polling again on `already_filled`).
- **autobook**: the requests submitted at once to real `autobook worker` processes (Celery), with
  event-type caching and shared availability snapshots.

Run: `python bench/booking.py [--requests 120] [--backend embedded|redis_pg] [--workers 1]
[--concurrency 4]`. It prints one table; quote medians and ratios (the machine is shared).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.stack import running_stack

EVENT_TYPES = ("demo", "sales-round-robin", "onsite-visit", "intro")
TOKEN = "sandbox-token"


def sample(index: int, run: str) -> dict[str, Any]:
    return {
        "request_id": f"bench-{run}-{index}",
        "event_type": {"slug": EVENT_TYPES[index % len(EVENT_TYPES)]},
        "invitee": {
            "name": f"Bench Person {index}",
            "email": f"bench{index}@example.com",
            "timezone": "America/New_York",
        },
    }


def total_calls(admin: Any) -> int:
    return sum(int(row["count"]) for row in admin.stats())


def refused_posts(admin: Any) -> int:
    """`POST /invitees` answered 400: every request here is valid, so each is `already_filled`."""
    return int(admin.count("POST", "/invitees", 400))


def naive_run(url: str, requests: list[dict[str, Any]]) -> tuple[list[float], int]:
    """Book each request the simple way; returns latencies (s) and bookings made."""
    latencies: list[float] = []
    booked = 0
    with httpx.Client(
        base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30
    ) as http:
        for request in requests:
            started = time.perf_counter()
            organization = http.get("/users/me").json()["resource"]["current_organization"]
            types = http.get("/event_types", params={"organization": organization}).json()
            slug = request["event_type"]["slug"]
            event_type = next(et for et in types["collection"] if et["slug"] == slug)
            for _ in range(5):
                start = datetime.now(UTC) + timedelta(minutes=2)
                times = http.get(
                    "/event_type_available_times",
                    params={
                        "event_type": event_type["uri"],
                        "start_time": start.isoformat().replace("+00:00", "Z"),
                        "end_time": (start + timedelta(days=7)).isoformat().replace("+00:00", "Z"),
                    },
                ).json()["collection"]
                if not times:
                    break
                body: dict[str, Any] = {
                    "event_type": event_type["uri"],
                    "start_time": times[0]["start_time"],
                    "invitee": request["invitee"],
                }
                locations = event_type.get("locations") or []
                if locations and event_type.get("pooling_type") != "round_robin":
                    body["location"] = {"kind": locations[0]["kind"]}
                    if locations[0].get("location"):
                        body["location"]["location"] = locations[0]["location"]
                response = http.post("/invitees", json=body)
                if response.status_code == 201:
                    booked += 1
                    break
            latencies.append(time.perf_counter() - started)
    return latencies, booked


def autobook_run(stack: Any, requests: list[dict[str, Any]]) -> tuple[list[float], int, float]:
    started = time.perf_counter()
    stack.submit(requests)
    rows = stack.wait_terminal([r["request_id"] for r in requests], timeout=600)
    wall = time.perf_counter() - started
    latencies = [
        (row.finished_at - row.created_at).total_seconds() for row in rows if row.finished_at
    ]
    booked = sum(1 for row in rows if str(row.status) == "booked")
    return latencies, booked, wall


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=120)
    parser.add_argument("--backend", choices=("embedded", "redis_pg"), default="embedded")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    run = datetime.now(UTC).strftime("%H%M%S")
    requests = [sample(i, run) for i in range(args.requests)]
    rows: list[tuple[str, int, int, float, float, float, float, float]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(
            args.backend,
            Path(tmp),
            workers=args.workers,
            concurrency=args.concurrency,
            extra_env={"AUTOBOOK_TESTING": "false"},
        ) as stack,
    ):
        stack.admin.reset()
        stack.admin.set_limits({"tier": "unlimited"})
        before = total_calls(stack.admin)
        started = time.perf_counter()
        naive_latencies, naive_booked = naive_run(stack.sandbox_url, requests)
        naive_wall = time.perf_counter() - started
        naive_calls = total_calls(stack.admin) - before
        naive_refused = refused_posts(stack.admin)
        rows.append(
            (
                "naive loop",
                len(requests),
                naive_booked,
                naive_calls / max(naive_booked, 1),
                naive_refused / max(naive_booked, 1),
                naive_booked / naive_wall,
                statistics.median(naive_latencies),
                percentile(naive_latencies, 0.95),
            )
        )
        stack.admin.reset()
        stack.admin.set_limits({"tier": "unlimited"})
        before = total_calls(stack.admin)
        latencies, booked, wall = autobook_run(stack, requests)
        calls = total_calls(stack.admin) - before
        refused = refused_posts(stack.admin)
        rows.append(
            (
                f"autobook ({args.backend}, {args.workers}x{args.concurrency})",
                len(requests),
                booked,
                calls / max(booked, 1),
                refused / max(booked, 1),
                booked / wall,
                statistics.median(latencies),
                percentile(latencies, 0.95),
            )
        )
    table = Table(title=f"Booking throughput, {args.requests} requests, same sandbox")
    for column in (
        "runner",
        "requests",
        "booked",
        "Calendly calls / booking",
        "already_filled POSTs / booking",
        "bookings / s",
        "latency median (s)",
        "latency p95 (s)",
    ):
        table.add_column(column)
    for name, count, booked_count, per_booking, refused_per_booking, rate, median, p95 in rows:
        table.add_row(
            name,
            str(count),
            str(booked_count),
            f"{per_booking:.2f}",
            f"{refused_per_booking:.2f}",
            f"{rate:.1f}",
            f"{median:.3f}",
            f"{p95:.3f}",
        )
    console = Console(width=160)
    console.print(table)
    naive, ours = rows
    console.print(
        f"calls per booking: autobook/naive = {ours[3] / naive[3]:.2f}; "
        f"bookings per second: autobook/naive = {ours[5] / naive[5]:.2f}"
    )


if __name__ == "__main__":
    main()
