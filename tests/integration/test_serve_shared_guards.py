"""Two `autobook serve` processes share one rate limit and one replay memory per source.

Behind a load balancer, calls of one source land on any server: the count and the delivery ids
live in Redis when AUTOBOOK_REDIS_URL is set (`redis_pg`) and in the database otherwise
(`embedded`), never in one process's memory.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from tests.conftest import StartStack
from tests.support.intake import standard_webhooks_headers, start_intake

pytestmark = pytest.mark.slow

RATE = 4
SECONDS_PER_MINUTE = 60
# The limit counts per calendar minute: start early in one so the test stays inside it.
LATEST_START_IN_MINUTE = 45


def _request(request_id: str) -> dict[str, object]:
    return {
        "request_id": request_id,
        "event_type": {"slug": "intro"},
        "invitee": {"name": "Ada", "email": "ada@example.com", "timezone": "Europe/Paris"},
    }


@pytest.mark.parametrize("backend_name", ["embedded", "redis_pg"])
def test_rate_and_replays_are_shared_by_every_server(
    start_stack: StartStack, backend_name: str
) -> None:
    stack = start_stack(backend_name, workers=0)
    first = start_intake(stack, name="serve-a")
    second = start_intake(stack, name="serve-b")
    key = first.add_source("shared", "--rate", str(RATE))
    secret = first.add_source("signed", "--auth", "standard_webhooks")

    body = json.dumps(_request(f"{backend_name}-signed")).encode()
    signed = {"Content-Type": "application/json", **standard_webhooks_headers(secret, body)}
    assert httpx.post(first.signed_url("signed"), content=body, headers=signed).status_code == 202
    replay = httpx.post(second.signed_url("signed"), content=body, headers=signed)
    assert replay.status_code == 401
    assert "replayed" in replay.json()["detail"]

    if time.time() % SECONDS_PER_MINUTE > LATEST_START_IN_MINUTE:
        time.sleep(SECONDS_PER_MINUTE - time.time() % SECONDS_PER_MINUTE + 0.5)
    servers = [first, second] * RATE
    answers = [
        server.post(_request(f"{backend_name}-rate-{n}"), key=key)
        for n, server in enumerate(servers[: RATE + 1])
    ]
    assert [a.status_code for a in answers] == [202] * RATE + [429]
    assert int(answers[-1].headers["Retry-After"]) >= 1
