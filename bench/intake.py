"""The HTTP intake: accepted requests per second, and p50/p99 of the 202, with 1 and 50 clients.

A real `autobook serve` subprocess on each backend (`embedded`: SQLite and the filesystem broker;
`redis_pg`: PostgreSQL, Redis for the broker, the rate limit and replays), one API-key source,
and clients that post one valid request per call over keep-alive connections (asyncio and
httpx, in this process). A 202 means recorded in the database and the doorbell rung: no worker
runs, so booking costs nothing here. Each run repeats `--repeat` times; the table shows medians.

Run: `python bench/intake.py [--backend embedded redis_pg] [--clients 1 50] [--requests 1000]
[--repeat 3] [--serve-workers 1]`. Target: at least 500 accepted a second, p99 under 50 ms.
The machine is shared: quote medians.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.support.stack import Stack, running_stack

TARGET_PER_SECOND = 500
TARGET_P99_MS = 50.0
RATE = "100000000"  # calls a minute: the benchmark measures the intake, not its rate limit


@dataclass
class Run:
    accepted: int
    refused: int
    seconds: float
    latencies_ms: list[float]

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds

    def percentile(self, fraction: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def _request(run: str, index: int) -> dict[str, object]:
    return {
        "request_id": f"bench-{run}-{index}",
        "event_type": {"slug": "intro"},
        "invitee": {
            "name": f"Bench Person {index}",
            "email": f"bench{index}@example.com",
            "timezone": "America/New_York",
        },
    }


async def _load(url: str, key: str, clients: int, requests: int) -> Run:
    run = uuid.uuid4().hex[:8]
    bodies = [json.dumps(_request(run, n)).encode() for n in range(requests)]
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    latencies: list[float] = []
    refused = 0
    queue = iter(bodies)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=30) as http:

        async def client() -> None:
            nonlocal refused
            for body in queue:
                started = time.perf_counter()
                response = await http.post("/v1/bookings", content=body)
                if response.status_code == 202:
                    latencies.append((time.perf_counter() - started) * 1000)
                else:
                    refused += 1

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        seconds = time.perf_counter() - started
    return Run(len(latencies), refused, seconds, latencies)


def _add_source(stack: Stack) -> str:
    env = {**os.environ, **stack.local.worker_env()}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "autobook",
            "sources",
            "add",
            "bench",
            "--rate",
            "100000000",
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    key: str = json.loads(result.stdout)["secret"]
    return key


def bench_backend(
    backend: str, clients_list: list[int], requests: int, repeat: int, serve_workers: int
) -> list[tuple[str, int, list[Run]]]:
    rows = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack(backend, Path(tmp), workers=0) as stack,
    ):
        url, _ = stack.local.start_serve(workers=serve_workers)
        key = _add_source(stack)
        asyncio.run(_load(url, key, 10, 200))  # warm up: connections, caches, JIT of the DB
        for clients in clients_list:
            runs = [asyncio.run(_load(url, key, clients, requests)) for _ in range(repeat)]
            rows.append((backend, clients, runs))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", nargs="+", default=["embedded", "redis_pg"])
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 50])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--serve-workers", type=int, default=1)
    args = parser.parse_args()
    table = Table(
        title=f"HTTP intake: {args.requests} POST /v1/bookings per run, medians of "
        f"{args.repeat} runs, {args.serve_workers} serve process(es)"
    )
    for column in ("backend", "clients", "accepted/s", "p50 202 (ms)", "p99 202 (ms)", "refused"):
        table.add_column(column, justify="right")
    for backend in args.backend:
        for name, clients, runs in bench_backend(
            backend, args.clients, args.requests, args.repeat, args.serve_workers
        ):
            per_second = statistics.median(run.per_second for run in runs)
            p50 = statistics.median(run.percentile(0.50) for run in runs)
            p99 = statistics.median(run.percentile(0.99) for run in runs)
            fast = per_second >= TARGET_PER_SECOND and p99 < TARGET_P99_MS
            style = "green" if fast else "yellow"
            table.add_row(
                name,
                str(clients),
                f"[{style}]{per_second:.0f}[/]",
                f"{p50:.1f}",
                f"[{style}]{p99:.1f}[/]",
                str(sum(run.refused for run in runs)),
            )
    Console().print(table)
    print(f"target: >= {TARGET_PER_SECOND}/s accepted, p99 < {TARGET_P99_MS:.0f} ms")


if __name__ == "__main__":
    main()
