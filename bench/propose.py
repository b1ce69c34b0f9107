"""Proposals: p50/p99 latency of `POST /v1/proposals` and Calendly calls per proposal.

A real `autobook serve` subprocess on embedded defaults against the sandbox, one API-key source,
and 1 then 20 concurrent callers asking for times of one event type (Taylor's demo, next week,
afternoons), over keep-alive connections. Calendly calls are counted by the sandbox's stats:
`GET /event_type_available_times` per proposal (at most 1; 0 when a shared snapshot is fresh)
and every Calendly call per proposal. The naive baseline, in the same run, is a second serve
with the snapshot TTL at 0: each proposal polls Calendly, as a thin wrapper would. A cold burst
(as many proposals at once as the most callers, on a just-started serve) shows single flight:
one availability call for the burst, not one per thread.

Run: `python bench/propose.py [--clients 1 20] [--proposals 200] [--runs 3]`.
Target: p50 under 300 ms, Calendly call included. The machine is shared: quote medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.intake import RATE
from tests.support.stack import running_stack

TARGET_P50_MS = 300.0
AVAILABILITY = "/event_type_available_times"
SHARED = "autobook"
NAIVE = "naive"


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


@dataclass
class Serve:
    """One `autobook serve` under test, and its source's key."""

    label: str
    url: str
    key: str


def _calls(stack: Any) -> tuple[int, int]:
    stats = stack.admin.stats()
    polls = sum(row["count"] for row in stats if row["path"] == AVAILABILITY)
    return polls, sum(row["count"] for row in stats)


def _measure(stack: Any, serve: Serve, clients: int, proposals: int) -> Row:
    polls, total = _calls(stack)
    latencies = asyncio.run(_load(serve.url, serve.key, clients, proposals))
    after_polls, after_total = _calls(stack)
    return Row(
        _percentile(latencies, 0.5),
        _percentile(latencies, 0.99),
        (after_polls - polls) / len(latencies),
        (after_total - total) / len(latencies),
    )


@dataclass(frozen=True)
class Row:
    p50: float
    p99: float
    polls: float
    calls: float


def _start(stack: Any, label: str, cache_seconds: str | None, key: str) -> Serve:
    if cache_seconds is not None:
        stack.local.env["AUTOBOOK_AVAILABILITY_CACHE_SECONDS"] = cache_seconds
    url, _ = stack.local.start_serve(name=f"serve-{label.split()[0]}")
    stack.local.env.pop("AUTOBOOK_AVAILABILITY_CACHE_SECONDS", None)
    return Serve(label, url, key)


def _cold_burst(stack: Any, serve: Serve, clients: int) -> int:
    """Availability calls of `clients` proposals at once on a just-started serve (cold cache)."""
    polls, _ = _calls(stack)
    asyncio.run(_load(serve.url, serve.key, clients, clients))
    return _calls(stack)[0] - polls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", nargs="+", type=int, default=[1, 20])
    parser.add_argument("--proposals", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3, help="runs; the table shows medians")
    args = parser.parse_args()
    rows: dict[tuple[str, int], list[Row]] = {}
    bursts: list[int] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_stack("embedded", Path(tmp), workers=0) as stack,
    ):
        key = stack.add_source("bench", "--rate", RATE)
        serves = [
            _start(stack, SHARED, None, key),
            _start(stack, NAIVE, "0", key),
        ]
        bursts.append(_cold_burst(stack, serves[0], max(args.clients)))
        for serve in serves:
            asyncio.run(_load(serve.url, serve.key, 1, 3))  # warm up: connections, event types
        for _ in range(args.runs):
            for serve in serves:
                for clients in args.clients:
                    row = _measure(stack, serve, clients, args.proposals)
                    rows.setdefault((serve.label, clients), []).append(row)
    table = Table(
        title=f"POST /v1/proposals: {args.proposals} per run, one event type, "
        f"median of {args.runs} runs"
    )
    for column in (
        "proposer",
        "callers",
        "p50 (ms)",
        "p99 (ms)",
        "availability/proposal",
        "calls/proposal",
    ):
        table.add_column(column, justify="right")
    for (label, clients), measured in rows.items():
        p50 = statistics.median(r.p50 for r in measured)
        style = "green" if p50 < TARGET_P50_MS else "yellow"
        table.add_row(
            label,
            str(clients),
            f"[{style}]{p50:.1f}[/]",
            f"{statistics.median(r.p99 for r in measured):.1f}",
            f"{statistics.median(r.polls for r in measured):.3f}",
            f"{statistics.median(r.calls for r in measured):.3f}",
        )
    Console().print(table)
    print("p50 per run:", {f"{k[0]}/{k[1]}": [round(r.p50, 1) for r in v] for k, v in rows.items()})
    print(
        f"cold burst: {max(args.clients)} proposals at once on a fresh serve cost "
        f"{bursts[0]} availability call(s) (single flight)"
    )
    print("naive: a second serve with the snapshot TTL at 0, so every proposal polls Calendly")
    print(f"target: p50 < {TARGET_P50_MS:.0f} ms, at most 1 availability call per proposal")


if __name__ == "__main__":
    main()
