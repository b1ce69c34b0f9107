"""Metrics scraped over HTTP after a run against the sandbox match what happened.

A worker (prefork, two pool processes: multiprocess mode) serves `/metrics` on
`AUTOBOOK_METRICS_PORT`. After a few bookings, with the sandbox failing some availability
polls, the scrape must agree with the database (bookings, time to book, the open states) and
with the sandbox's own count of the calls it received (`/_sandbox/stats`), call for call.
`asgi_app()`, which `autobook serve` mounts at `/metrics`, is scraped over HTTP too.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from datetime import timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.routing import Mount

from autobook import metrics
from autobook.localstack import free_port
from autobook.times import utc_now, utc_z
from tests.conftest import ProxiedStack, StartStack

pytestmark = pytest.mark.slow

PORT = free_port()
TEMPLATE_PARAMETER = re.compile(r"\{\w+\}")


def _request(index: int) -> dict[str, Any]:
    return {
        "request_id": f"metrics-{index}",
        "event_type": {"slug": "intro"},
        "invitee": {
            "name": f"Metric {index}",
            "email": f"metric{index}@example.com",
            "timezone": "America/Chicago",
        },
    }


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _sandbox_calls(stats: list[dict[str, Any]]) -> Counter[tuple[str, str]]:
    calls: Counter[tuple[str, str]] = Counter()
    for entry in stats:
        path = TEMPLATE_PARAMETER.sub("{uuid}", entry["path"])
        status = "none" if entry["status"] is None else str(entry["status"])
        calls[(f"{entry['method']} {path}", status)] += entry["count"]
    return calls


@pytest.fixture(scope="module")
def stack(start_stack: StartStack) -> ProxiedStack:
    return start_stack("embedded", extra_env={"AUTOBOOK_METRICS_PORT": str(PORT)})


def test_a_workers_metrics_match_the_run_and_the_sandboxs_count(stack: ProxiedStack) -> None:
    before = _sandbox_calls(stack.admin.stats())
    stack.admin.set_faults(
        {"seed": 3, "endpoints": {"GET /event_type_available_times": {"error_500": 0.3}}}
    )
    results = stack.submit([_request(index) for index in range(4)])
    rows = stack.wait_terminal([result.request_id for result in results], timeout=60)
    booked = sum(1 for row in rows if row.status == "booked")
    assert booked == 4

    samples = _samples(httpx.get(f"http://127.0.0.1:{PORT}/metrics", timeout=10).text)

    assert samples[("autobook_requests_total", (("status", "booked"),))] == booked
    assert samples[("autobook_time_to_book_seconds_count", ())] == booked
    assert 0 < samples[("autobook_time_to_book_seconds_sum", ())] < 60 * booked
    for status in ("received", "searching", "waiting", "booking", "unknown"):
        assert samples[("autobook_requests_in_state", (("status", status),))] == 0
    assert samples[("autobook_oldest_waiting_seconds", ())] == 0
    assert samples[("autobook_sending_paused", ())] == 0

    # The booked sweep (issue 11) may be reading our bookings right now: both sides count its
    # calls, but one of them may be a call ahead. They must agree once it is done.
    deadline = time.monotonic() + 10
    while True:
        ours = Counter(
            {
                (dict(labels)["endpoint"], dict(labels)["status"]): int(value)
                for (name, labels), value in samples.items()
                if name == "autobook_calendly_calls_total" and value
            }
        )
        theirs = _sandbox_calls(stack.admin.stats()) - before
        if ours == theirs or time.monotonic() > deadline:
            break
        time.sleep(0.5)
        samples = _samples(httpx.get(f"http://127.0.0.1:{PORT}/metrics", timeout=10).text)
    assert ours == theirs
    assert ours[("GET /event_type_available_times", "500")] > 0  # the faults were counted
    assert ours[("POST /invitees", "201")] == booked
    assert samples.get(("autobook_calendly_429_total", ()), 0) == 0


def test_the_asgi_app_serves_the_queue_gauges_from_the_database(stack: ProxiedStack) -> None:
    # A scheduled follow-up: it stays `received` until tomorrow.
    tomorrow = utc_z(utc_now() + timedelta(days=1))
    (result,) = stack.submit([{**_request(99), "start_after": tomorrow}])
    assert result.status == "received"
    app = Starlette(routes=[Mount("/metrics", app=metrics.asgi_app(stack.settings))])

    async def scrape() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://intake") as client:
            return await client.get("/metrics/")

    response = asyncio.run(scrape())
    assert response.status_code == 200
    samples = _samples(response.text)
    assert samples[("autobook_requests_in_state", (("status", "received"),))] == 1
    assert samples[("autobook_requests_in_state", (("status", "waiting"),))] == 0
