"""Sandbox throughput: how many responses a second one sandbox process serves.

The sandbox must never be the bottleneck of autobook's own benchmarks; the target is
at least 500 responses a second for 7-day availability. This starts
``python -m autobook.sandbox`` on a free port (default seed, real clock, unlimited
rate limits), then drives each scenario from several client processes, each with one
keep-alive httpx connection, and prints a table:

    python bench/sandbox_throughput.py [--processes 3] [--requests 400]

``responses/s`` is all responses of a scenario divided by the wall time from the
first request to the last; latencies are per request, as each client saw them. On a
small machine the client processes compete with the server for the same cores, so the
table also gives the server's own CPU time per request (from /proc) and what one core
could serve at that cost: ``server capacity/s``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.sandbox import auth_headers, sandbox_process

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@dataclass(frozen=True)
class Job:
    """One client process's share of a scenario."""

    url: str
    method: str
    paths: list[str]
    bodies: list[dict[str, Any] | None]
    expected_status: int


@dataclass(frozen=True)
class Outcome:
    latencies: list[float]
    started: float
    finished: float
    unexpected: int


def _run_job(job: Job) -> Outcome:
    latencies: list[float] = []
    unexpected = 0
    with httpx.Client(base_url=job.url, headers=auth_headers(), timeout=30) as client:
        client.get("/users/me")  # open the connection before the clock starts
        started = time.perf_counter()
        for path, body in zip(job.paths, job.bodies, strict=True):
            before = time.perf_counter()
            response = client.request(job.method, path, json=body)
            latencies.append(time.perf_counter() - before)
            unexpected += response.status_code != job.expected_status
        finished = time.perf_counter()
    return Outcome(latencies, started, finished, unexpected)


@dataclass(frozen=True)
class Row:
    name: str
    requests: int
    concurrency: int
    median_ms: float
    p95_ms: float
    per_second: float
    server_cpu_ms: float | None
    unexpected: int


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU time of a process, from /proc (None where there is no /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _measure(name: str, jobs: list[Job], pool: Any, server_pid: int) -> Row:
    cpu_before = _cpu_seconds(server_pid)
    outcomes: list[Outcome] = pool.map(_run_job, jobs)
    cpu_after = _cpu_seconds(server_pid)
    latencies = sorted(latency for outcome in outcomes for latency in outcome.latencies)
    wall = max(o.finished for o in outcomes) - min(o.started for o in outcomes)
    return Row(
        name=name,
        requests=len(latencies),
        concurrency=len(jobs),
        median_ms=statistics.median(latencies) * 1000,
        p95_ms=latencies[int(len(latencies) * 0.95) - 1] * 1000,
        per_second=len(latencies) / wall,
        server_cpu_ms=None
        if cpu_before is None or cpu_after is None
        # The warm-up request of each client is included: a small, conservative error.
        else (cpu_after - cpu_before) * 1000 / (len(latencies) + len(jobs)),
        unexpected=sum(o.unexpected for o in outcomes),
    )


def _event_types(client: httpx.Client) -> dict[str, dict[str, Any]]:
    organization = client.get("/users/me").json()["resource"]["current_organization"]
    listed = client.get("/event_types", params={"organization": organization, "count": 100}).json()
    return {event_type["slug"]: event_type for event_type in listed["collection"]}


def _availability_path(event_type_uri: str, start: datetime, days: int) -> str:
    query = httpx.QueryParams(
        event_type=event_type_uri,
        start_time=start.strftime(TIME_FORMAT),
        end_time=(start + timedelta(days=days)).strftime(TIME_FORMAT),
    )
    return f"/event_type_available_times?{query}"


def _open_slots(client: httpx.Client, event_type_uri: str, wanted: int) -> list[str]:
    found: list[str] = []
    start = datetime.now(UTC) + timedelta(minutes=10)
    while len(found) < wanted:
        path = _availability_path(event_type_uri, start, 7)
        found += [slot["start_time"] for slot in client.get(path).json()["collection"]]
        start += timedelta(days=7)
    return found[:wanted]


def _split(items: list[Any], parts: int) -> list[list[Any]]:
    return [items[index::parts] for index in range(parts)]


def run(processes: int, requests: int) -> list[Row]:
    with sandbox_process() as server:
        return _run_against(server.url, server.pid, processes, requests)


def _run_against(url: str, pid: int, processes: int, requests: int) -> list[Row]:
    rows: list[Row] = []
    with httpx.Client(base_url=url, headers=auth_headers()) as client:
        client.put("/_sandbox/limits", json={"tier": "unlimited"}).raise_for_status()
        types = _event_types(client)
        soon = datetime.now(UTC) + timedelta(hours=1)
        per_process = requests // processes

        def reads(name: str, path_for: Callable[[int], str]) -> tuple[str, list[Job]]:
            jobs = [
                Job(
                    url, "GET", [path_for(i) for i in range(per_process)], [None] * per_process, 200
                )
                for _ in range(processes)
            ]
            return name, jobs

        scenarios = [
            reads(
                "GET /event_type_available_times, 7 days, solo",
                lambda i: _availability_path(
                    types["demo"]["uri"], soon + timedelta(minutes=i % 50), 7
                ),
            ),
            reads(
                "GET /event_type_available_times, 7 days, round robin of 3",
                lambda i: _availability_path(types["sales-round-robin"]["uri"], soon, 7),
            ),
            reads("GET /event_types/{uuid}", lambda i: types["demo"]["uri"].removeprefix(url)),
            reads("GET /users/me", lambda i: "/users/me"),
        ]
        bookings = _open_slots(client, types["intro"]["uri"], per_process * processes)
        booking_jobs = []
        for share in _split(bookings, processes):
            bodies: list[dict[str, Any] | None] = [
                {
                    "event_type": types["intro"]["uri"],
                    "start_time": start,
                    "invitee": {
                        "name": "Bench",
                        "email": f"bench{n}@example.com",
                        "timezone": "UTC",
                    },
                }
                for n, start in enumerate(share)
            ]
            booking_jobs.append(Job(url, "POST", ["/invitees"] * len(share), bodies, 201))
        scenarios.append(("POST /invitees (distinct open slots)", booking_jobs))

        with multiprocessing.get_context("spawn").Pool(processes) as pool:
            for name, jobs in scenarios:
                rows.append(_measure(name, jobs, pool, pid))
    return rows


def print_table(rows: list[Row]) -> None:
    header = (
        "endpoint",
        "requests",
        "concurrency",
        "median ms",
        "p95 ms",
        "responses/s",
        "server CPU ms/req",
        "server capacity/s",
        "unexpected",
    )
    cells = [
        (
            r.name,
            str(r.requests),
            str(r.concurrency),
            f"{r.median_ms:.2f}",
            f"{r.p95_ms:.2f}",
            f"{r.per_second:.0f}",
            "n/a" if r.server_cpu_ms is None else f"{r.server_cpu_ms:.2f}",
            "n/a" if not r.server_cpu_ms else f"{1000 / r.server_cpu_ms:.0f}",
            str(r.unexpected),
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in [header, *cells]) for i in range(len(header))]
    for line in [header, tuple("-" * w for w in widths), *cells]:
        print(
            "  ".join(
                cell.ljust(w) if i == 0 else cell.rjust(w)
                for i, (cell, w) in enumerate(zip(line, widths, strict=True))
            )
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--processes", type=int, default=3, help="client processes (= concurrency)")
    parser.add_argument("--requests", type=int, default=1200, help="requests per scenario")
    args = parser.parse_args()
    print_table(run(args.processes, args.requests))


if __name__ == "__main__":
    main()
