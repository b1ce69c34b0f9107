"""Rate limits per plan tier, fixed windows on the clock, and the X-RateLimit-* headers."""

from __future__ import annotations

import httpx
import pytest

from autobook.sandbox.server import SandboxServer
from tests.sandbox.conftest import Booker
from tests.sandbox.seeds import OWNER_EMAIL, user_uri
from tests.support.sandbox import FakeClock, SandboxAdmin, auth_headers

TOO_MANY = {
    "title": "Too Many Requests",
    "message": "You have exceeded the rate limit. Try again after the number of seconds in X-RateLimit-Reset.",  # noqa: E501
}


def rate_headers(response: httpx.Response) -> tuple[int, int, int]:
    return (
        int(response.headers["X-RateLimit-Limit"]),
        int(response.headers["X-RateLimit-Remaining"]),
        int(response.headers["X-RateLimit-Reset"]),
    )


def test_every_response_carries_the_headers(
    client: httpx.Client, sandbox: SandboxServer, clock: FakeClock
) -> None:
    clock.advance(seconds=15)
    responses = [
        client.get("/users/me"),
        client.get("/event_types"),  # 400
        client.get("/event_types/nope"),  # 404
        client.post("/scheduled_events/nope/cancellation"),  # 404
        httpx.get(f"{sandbox.url}/nowhere", headers=auth_headers()),  # unmatched route
        httpx.get(f"{sandbox.url}/users/me", headers=auth_headers("wrong")),  # 401
        httpx.get(f"{sandbox.url}/_sandbox/stats", headers=auth_headers()),  # admin
    ]
    for response in responses:
        limit, remaining, reset = rate_headers(response)
        assert limit == 500
        assert 0 < remaining <= 500
        assert reset == 45


def test_requests_count_down_and_admin_calls_do_not(
    client: httpx.Client, sandbox_admin: SandboxAdmin
) -> None:
    assert rate_headers(client.get("/users/me"))[1] == 499
    sandbox_admin.stats()
    sandbox_admin.ledger()
    assert rate_headers(client.get("/users/me"))[1] == 498


def test_the_general_limit_refuses_with_429_until_the_window_resets(
    client: httpx.Client, sandbox_admin: SandboxAdmin, clock: FakeClock
) -> None:
    sandbox_admin.set_limits({"tier": "custom", "general_per_minute": 5})
    remaining = [rate_headers(client.get("/users/me"))[1] for _ in range(5)]
    assert remaining == [4, 3, 2, 1, 0]
    clock.advance(seconds=20)
    refused = client.get("/users/me")
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/json"
    assert refused.json() == TOO_MANY
    assert rate_headers(refused) == (5, 0, 40)
    # A refused request takes nothing: still refused, not further in debt.
    assert client.get("/users/me").status_code == 429
    clock.advance(seconds=40)
    assert client.get("/users/me").status_code == 200


def test_standard_bookings_are_limited_per_minute_hour_and_day(
    booker: Booker, sandbox_admin: SandboxAdmin, clock: FakeClock
) -> None:
    sandbox_admin.set_limits({"users": {OWNER_EMAIL: {"tier": "standard"}}})

    def post() -> httpx.Response:
        return booker.client.post("/invitees", json={})  # counted like any booking attempt

    for minute in range(5):
        assert [post().status_code for _ in range(10)] == [400] * 10
        refused = post()
        assert refused.status_code == 429
        # The 50th of the hour exhausts the hour too; the window that ends last is reported.
        assert rate_headers(refused)[:2] == ((10, 0) if minute < 4 else (50, 0))
        assert booker.client.get("/users/me").status_code == 200  # reads use the general budget
        clock.advance(minutes=1)
    refused = post()  # 12:05: a fresh minute, but 50 this hour
    assert refused.status_code == 429
    assert rate_headers(refused) == (50, 0, 55 * 60)
    clock.advance(hours=1)
    for _ in range(5):
        assert [post().status_code for _ in range(10)] == [400] * 10
        clock.advance(minutes=1)
    refused = post()  # 13:10: 100 today
    assert rate_headers(refused) == (100, 0, (10 * 60 + 50) * 60)
    clock.set(clock().replace(hour=23, minute=0))
    refused = post()
    assert refused.status_code == 429
    assert rate_headers(refused) == (100, 0, 3600)


def test_trial_allows_five_bookings_a_day(booker: Booker, sandbox_admin: SandboxAdmin) -> None:
    sandbox_admin.set_limits({"tier": "trial"})
    assert [booker.client.post("/invitees", json={}).status_code for _ in range(6)] == [400] * 5 + [
        429
    ]


def test_booking_headers_report_the_tightest_window(
    booker: Booker, sandbox_admin: SandboxAdmin
) -> None:
    sandbox_admin.set_limits({"tier": "standard"})
    assert rate_headers(booker.client.post("/invitees", json={}))[:2] == (10, 9)
    assert rate_headers(booker.client.get("/users/me"))[:2] == (500, 498)


def test_unlimited_never_refuses(client: httpx.Client, sandbox_admin: SandboxAdmin) -> None:
    sandbox_admin.set_limits({"tier": "unlimited"})
    limit, remaining, _ = rate_headers(client.get("/users/me"))
    assert limit == remaining == 1_000_000_000


def test_limits_can_be_set_per_user_and_read_back(
    sandbox: SandboxServer, sandbox_admin: SandboxAdmin
) -> None:
    leo = user_uri(sandbox.url, "leo@test.example")
    custom = {"tier": "custom", "general_per_minute": 7, "invitees_per_minute": 2}
    answer = sandbox_admin.set_limits({"users": {leo: custom, OWNER_EMAIL: {"tier": "trial"}}})
    assert answer == sandbox_admin.limits()
    assert answer["users"][leo] == {
        "email": "leo@test.example",
        "tier": "custom",
        "general_per_minute": 7,
        "invitees_per_minute": 2,
        "invitees_per_hour": None,
        "invitees_per_day": None,
        "scheduling_api": True,
    }
    assert answer["users"][user_uri(sandbox.url, OWNER_EMAIL)]["invitees_per_day"] == 5
    assert answer["users"][user_uri(sandbox.url, "sam@test.example")]["tier"] == "standard"


@pytest.mark.parametrize(
    "body",
    [
        {"tier": "platinum"},
        {"tier": "standard", "general_per_minute": 3},
        {"tier": "custom", "general_per_minute": -1},
        {"users": {"nobody@example.com": {"tier": "trial"}}},
        {"users": ["x"]},
        [1],
    ],
)
def test_bad_limits_are_refused(sandbox: SandboxServer, body: object) -> None:
    response = httpx.put(f"{sandbox.url}/_sandbox/limits", json=body, headers=auth_headers())
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Argument"
    assert response.json()["details"]
