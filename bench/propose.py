"""Proposals: p50/p99 latency of `POST /v1/proposals` and Calendly calls per proposal.

A real `autobook serve` subprocess on embedded defaults against the sandbox, one API-key source,
and 1 then 20 concurrent callers asking for times of one event type (Taylor's demo, next week,
afternoons), over keep-alive connections. Calendly calls are counted by the sandbox's stats:
`GET /event_type_available_times` per proposal (at most 1; 0 when a shared snapshot is fresh)
and every Calendly call per proposal. `--no-cache` sets the snapshot TTL to 0, so each proposal
polls: the latency of the Calendly call itself.

Run: `python bench/propose.py [--clients 1 20] [--proposals 200] [--no-cache]`.
Target: p50 under 300 ms, Calendly call included. The machine is shared: quote medians.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.intake import _add_source
from tests.support.stack import running_stack

TARGET_P50_MS = 300.0
AVAILABILITY = "/event_type_available_times"


def _body() -> dict[str, object]:
    today = datetime.now(UTC).astimezone(ZoneInfo("America/New_York")).date()
    monday = today - timedelta(days=today.weekday()) + timedelta(weeks=1)
    return {
        "event_type": {"slug": "demo", "owner": "taylor@acme.com"},
        "timezone": "America/New_York",
        "window": {
            "earliest": monday.isoformat(),
            "latest": (monday + timedelta(days=4)).isoformat(),
            "hours": ["13:00-17:00"],
        },
    }


async def _load(url: str, key: str, clients: int, proposals: int) -> list[float]:
    headers = {"Authorization": f"Bearer {key}"}
    latencies: list[float] = []
    remaining = iter(range(proposals))
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as http:

        async def client() -> None:
            for _ in remaining:
                started = time.perf_counter()
                response = await http.post("/v1/proposals", json=_body())
                response.raise_for_status()
                latencies.append((time.perf_counter() - started) * 1000)

        await asyncio.gather(*(client() for _ in range(clients)))
    return latencies


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 20])
    parser.add_argument("--proposals", type=int, default=200)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args()
    env = {"AUTOBOOK_AVAILABILITY_CACHE_SECONDS": "0"} if args.no_cache else {}
    table = Table(
        title=f"POST /v1/proposals: {args.proposals} per run, one event type"
        + (", no snapshot cache" if args.no_cache else "")
    )
    for column in (
        "callers",
        "p50 (ms)",
        "p99 (ms)",
        "availability calls/proposal",
        "calls/proposal",
    ):
        table.add_column(column, justify="right")
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack("embedded", Path(tmp), workers=0, extra_env=env) as stack,
    ):
        url, _ = stack.local.start_serve()
        key = _add_source(stack)
        asyncio.run(_load(url, key, 1, 3))  # warm up: connections, the event type cache
        for clients in args.clients:
            polls, total = (
                stack.admin.count("GET", AVAILABILITY),
                sum(row["count"] for row in stack.admin.stats()),
            )
            latencies = asyncio.run(_load(url, key, clients, args.proposals))
            polls = stack.admin.count("GET", AVAILABILITY) - polls
            total = sum(row["count"] for row in stack.admin.stats()) - total
            p50 = _percentile(latencies, 0.5)
            style = "green" if p50 < TARGET_P50_MS else "yellow"
            table.add_row(
                str(clients),
                f"[{style}]{p50:.1f}[/]",
                f"{_percentile(latencies, 0.99):.1f}",
                f"{polls / len(latencies):.3f}",
                f"{total / len(latencies):.3f}",
            )
    Console().print(table)
    print(f"target: p50 < {TARGET_P50_MS:.0f} ms, at most 1 availability call per proposal")


if __name__ == "__main__":
    main()
