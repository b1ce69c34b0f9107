"""GET /event_type_available_times: working hours, timezones, DST, bookings, the window rule."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from autobook.sandbox.server import SandboxServer
from tests.sandbox.conftest import Booker
from tests.sandbox.seeds import NOW, base_seed, event_type_uri
from tests.support.sandbox import FakeClock, calendly_client

AVAILABLE = "/event_type_available_times"
MONDAY = "2026-11-30T00:00:00Z"
NEXT_MONDAY = "2026-12-07T00:00:00Z"


def slots(client: httpx.Client, base: str, slug: str, start: str, end: str) -> list[dict[str, Any]]:
    response = client.get(
        AVAILABLE,
        params={"event_type": event_type_uri(base, slug), "start_time": start, "end_time": end},
    )
    assert response.status_code == 200, response.text
    assert set(response.json()) == {"collection"}
    collection: list[dict[str, Any]] = response.json()["collection"]
    return collection


def starts(
    client: httpx.Client, base: str, slug: str, start: str = MONDAY, end: str = NEXT_MONDAY
) -> list[str]:
    return [slot["start_time"] for slot in slots(client, base, slug, start, end)]


def test_solo_slots_are_the_hosts_weekday_hours_in_their_timezone(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    found = slots(client, sandbox.url, "solo", MONDAY, NEXT_MONDAY)
    # Nina works 09:00-17:00 in New York (UTC-5 in winter): 14:00Z to 22:00Z, every 30 minutes,
    # minus the hour of the seed's group event on Wednesday at 15:00Z.
    assert len(found) == 5 * 16 - 2
    assert found[0] == {
        "status": "available",
        "invitees_remaining": 1,
        "start_time": "2026-11-30T14:00:00.000000Z",
        "scheduling_url": "https://calendly.com/nina-owner/solo/2026-11-30T14:00:00Z?month=2026-11&date=2026-11-30",
    }
    assert found[15]["start_time"] == "2026-11-30T21:30:00.000000Z"
    assert found[-1]["start_time"] == "2026-12-04T21:30:00.000000Z"


def test_london_and_sydney_hosts_use_their_own_zones(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    london = starts(client, sandbox.url, "physical")  # 60 minutes, 09:00-17:00 GMT
    assert london[0] == "2026-11-30T09:00:00.000000Z"
    assert london[7] == "2026-11-30T16:00:00.000000Z"
    # Sydney's Monday 09:00-17:00 AEDT (UTC+11) is Sunday 22:00Z to Monday 06:00Z: the window
    # opens at Monday 00:00Z, in the middle of it.
    sydney = starts(client, sandbox.url, "outbound")
    assert sydney[0] == "2026-11-30T00:00:00.000000Z"
    assert "2026-11-30T05:30:00.000000Z" in sydney  # Monday 16:30 in Sydney
    assert "2026-11-30T06:00:00.000000Z" not in sydney
    assert "2026-11-30T22:00:00.000000Z" in sydney  # Tuesday 09:00 in Sydney


def test_working_hours_follow_new_york_across_the_dst_change(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    found = starts(client, sandbox.url, "solo", "2027-03-12T00:00:00Z", "2027-03-16T00:00:00Z")
    friday = [s for s in found if s.startswith("2027-03-12")]
    monday = [s for s in found if s.startswith("2027-03-15")]
    # 09:00 local both days: EST (UTC-5) before 2027-03-14, EDT (UTC-4) after.
    assert friday[0] == "2027-03-12T14:00:00.000000Z"
    assert monday[0] == "2027-03-15T13:00:00.000000Z"
    assert friday[-1] == "2027-03-12T21:30:00.000000Z"
    assert monday[-1] == "2027-03-15T20:30:00.000000Z"
    assert len(friday) == len(monday) == 16


def test_working_hours_follow_sydney_across_its_dst_end(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    found = starts(client, sandbox.url, "outbound", "2027-04-01T00:00:00Z", "2027-04-06T00:00:00Z")
    # Friday 2027-04-02 09:00 AEDT (UTC+11) vs Monday 2027-04-05 09:00 AEST (UTC+10).
    assert "2027-04-01T22:00:00.000000Z" in found
    assert "2027-04-04T23:00:00.000000Z" in found
    assert "2027-04-04T22:00:00.000000Z" not in found


def test_slots_start_strictly_in_the_future_and_respect_minimum_notice(
    client: httpx.Client, sandbox: SandboxServer, clock: FakeClock
) -> None:
    clock.set(NOW.replace(hour=15))  # Monday 10:00 in New York
    today = starts(client, sandbox.url, "solo", "2026-11-23T15:00:01Z", "2026-11-25T00:00:00Z")
    assert today[0] == "2026-11-23T15:30:00.000000Z"
    notice = starts(client, sandbox.url, "notice", "2026-11-23T15:00:01Z", "2026-11-25T00:00:00Z")
    # A day of notice: nothing before Tuesday 15:00Z.
    assert notice[0] == "2026-11-24T15:00:00.000000Z"


def test_a_booking_takes_its_hosts_time_from_every_event_type(
    booker: Booker, sandbox: SandboxServer
) -> None:
    booker.book("no-location", "2026-11-30T15:00:00Z")
    solo = starts(booker.client, sandbox.url, "solo")
    assert "2026-11-30T15:00:00.000000Z" not in solo
    assert "2026-11-30T14:30:00.000000Z" in solo
    fifteen = starts(booker.client, sandbox.url, "fifteen")
    assert "2026-11-30T14:45:00.000000Z" in fifteen
    assert "2026-11-30T15:15:00.000000Z" not in fifteen
    # Round robin still has Leo; collective needs Nina too.
    assert "2026-11-30T15:00:00.000000Z" in starts(booker.client, sandbox.url, "round-robin")
    assert "2026-11-30T15:00:00.000000Z" not in starts(booker.client, sandbox.url, "collective")


def test_round_robin_pools_hosts_and_collective_needs_all(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    monday = "2026-11-30T00:00:00Z", "2026-12-01T00:00:00Z"
    # Leo 09:00-17:00Z, Nina 14:00-22:00Z.
    round_robin = starts(client, sandbox.url, "round-robin", *monday)
    assert round_robin[0] == "2026-11-30T09:00:00.000000Z"
    assert round_robin[-1] == "2026-11-30T21:30:00.000000Z"
    assert len(round_robin) == 26
    collective = starts(client, sandbox.url, "collective", *monday)
    assert collective == [
        f"2026-11-30T{h}.000000Z"
        for h in ("14:00:00", "14:30:00", "15:00:00", "15:30:00", "16:00:00", "16:30:00")
    ]


def test_group_slots_report_remaining_capacity(booker: Booker, sandbox: SandboxServer) -> None:
    def remaining(start: str) -> int | None:
        found = slots(
            booker.client, sandbox.url, "group", "2026-12-02T00:00:00Z", "2026-12-03T00:00:00Z"
        )
        return next(
            (slot["invitees_remaining"] for slot in found if slot["start_time"] == start), None
        )

    seeded = "2026-12-02T15:00:00.000000Z"  # the seed has one invitee there
    assert remaining("2026-12-02T14:00:00.000000Z") == 3
    assert remaining(seeded) == 2
    booker.book("group", seeded, invitee={"name": "A", "email": "a@example.com", "timezone": "UTC"})
    assert remaining(seeded) == 1
    booker.book("group", seeded, invitee={"name": "B", "email": "b@example.com", "timezone": "UTC"})
    assert remaining(seeded) is None
    # The group event also keeps Nina busy for her other event types.
    assert seeded not in starts(booker.client, sandbox.url, "solo")


def test_an_inactive_event_type_offers_nothing(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    assert starts(client, sandbox.url, "inactive") == []


def test_event_type_uri_from_any_host_is_accepted(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    calendly_uri = event_type_uri("https://api.calendly.com", "solo")
    response = client.get(
        AVAILABLE,
        params={"event_type": calendly_uri, "start_time": MONDAY, "end_time": NEXT_MONDAY},
    )
    assert response.status_code == 200
    assert len(response.json()["collection"]) == 78


def _get(
    client: httpx.Client, base: str, start: str, end: str, slug: str = "solo"
) -> httpx.Response:
    return client.get(
        AVAILABLE,
        params={"event_type": event_type_uri(base, slug), "start_time": start, "end_time": end},
    )


def test_a_start_in_the_past_or_now_gets_the_bare_invalid_argument(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    bare = {"title": "Invalid Argument", "message": "The supplied parameters are invalid."}
    for start in ("2026-11-23T11:59:00Z", "2026-11-23T12:00:00Z"):
        response = _get(client, sandbox.url, start, "2026-11-25T00:00:00Z")
        assert response.status_code == 400
        assert response.json() == bare


def test_an_end_not_after_the_start_is_refused(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    for end in (MONDAY, "2026-11-29T00:00:00Z"):
        response = _get(client, sandbox.url, MONDAY, end)
        assert response.status_code == 400
        assert response.json()["details"] == [
            {"parameter": "end_time", "message": "must be greater than start_time"}
        ]


def test_the_window_is_at_most_seven_days_by_default(
    client: httpx.Client, sandbox: SandboxServer
) -> None:
    assert _get(client, sandbox.url, MONDAY, "2026-12-07T00:00:00Z").status_code == 200
    response = _get(client, sandbox.url, MONDAY, "2026-12-07T00:00:01Z")
    assert response.status_code == 400
    assert response.json() == {
        "title": "Invalid Argument",
        "message": "The supplied parameters are invalid.",
        "details": [
            {
                "parameter": "end_time",
                "message": "Date range can be no greater than 1 week (7 days)",
            }
        ],
    }


def test_the_window_can_be_thirty_one_days(clock: FakeClock) -> None:
    with (
        SandboxServer(seed=base_seed(), clock=clock, max_window_days=31) as server,
        calendly_client(server.url) as client,
    ):
        month = _get(client, server.url, MONDAY, "2026-12-31T00:00:00Z")
        assert month.status_code == 200
        # 23 weekdays from Nov 30 to Dec 30, minus the seed's group hour.
        assert len(month.json()["collection"]) == 16 * 23 - 2
        too_long = _get(client, server.url, MONDAY, "2026-12-31T00:00:01Z")
        assert too_long.status_code == 400
        assert too_long.json()["details"] == [
            {
                "parameter": "end_time",
                "message": "Date must be in the future and no greater than 31 days from start_time.",  # noqa: E501
            }
        ]


@pytest.mark.parametrize(
    ("params", "problems"),
    [
        ({}, ["event_type", "start_time", "end_time"]),
        ({"event_type": "solo", "start_time": MONDAY, "end_time": NEXT_MONDAY}, ["event_type"]),
        (
            {"event_type": "URI", "start_time": "tomorrow", "end_time": "2026-12-01"},
            ["start_time", "end_time"],
        ),
        (
            {"event_type": "URI", "start_time": "2026-11-30T00:00:00", "end_time": NEXT_MONDAY},
            ["start_time"],
        ),
    ],
)
def test_missing_or_malformed_parameters_are_named(
    client: httpx.Client, sandbox: SandboxServer, params: dict[str, str], problems: list[str]
) -> None:
    query = {
        key: (event_type_uri(sandbox.url, "solo") if value == "URI" else value)
        for key, value in params.items()
    }
    response = client.get(AVAILABLE, params=query)
    assert response.status_code == 400
    assert [item["parameter"] for item in response.json()["details"]] == problems


def test_an_unknown_event_type_is_not_found(client: httpx.Client, sandbox: SandboxServer) -> None:
    uri = f"{sandbox.url}/event_types/00000000-0000-0000-0000-000000000000"
    response = client.get(
        AVAILABLE, params={"event_type": uri, "start_time": MONDAY, "end_time": NEXT_MONDAY}
    )
    assert response.status_code == 404
    assert response.json() == {
        "title": "Resource Not Found",
        "message": "The server could not find the requested resource.",
    }
