"""The Calendly client against the sandbox over real HTTP: every method, every error class.

The sandbox (`autobook.sandbox.server.SandboxServer`) runs on 127.0.0.1 with its default seed and
the token `sandbox-token`. Each test starts from `POST /_sandbox/reset`. Admin calls
(`/_sandbox/...`) are made with plain httpx, as DESIGN §3 documents them, so these tests do not
depend on the client they check.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from autobook.calendly import (
    AvailableTime,
    CalendlyClient,
    EventType,
    InMemoryBudget,
    PlanLimits,
    ReadFailed,
    RetryPolicy,
    User,
    build_http_client,
)
from autobook.errors import (
    OutcomeUnknown,
    RateLimited,
    RequestRejected,
    SlotTaken,
    Unauthorized,
)

sandbox_server = pytest.importorskip(
    "autobook.sandbox.server", reason="the sandbox server is not available"
)

TOKEN = "sandbox-token"
TRACKING_KEYS = ("utm_campaign", "utm_source", "utm_medium", "utm_content", "utm_term")
CONNECT_TIMEOUT_SECONDS = 2.0
READ_TIMEOUT_SECONDS = 5.0


class Admin:
    """The sandbox's `/_sandbox/` API, over plain httpx."""

    def __init__(self, url: str) -> None:
        self.http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10
        )

    def reset(self) -> None:
        self.http.post("/_sandbox/reset").raise_for_status()

    def faults(self, body: dict[str, Any]) -> None:
        self.http.put("/_sandbox/faults", json=body).raise_for_status()

    def limits(self, body: dict[str, Any]) -> None:
        self.http.put("/_sandbox/limits", json=body).raise_for_status()

    def ledger(self) -> list[dict[str, Any]]:
        response = self.http.get("/_sandbox/ledger")
        response.raise_for_status()
        collection: list[dict[str, Any]] = response.json()["collection"]
        return collection

    def calls(self, method: str, path: str, status: int | None = None) -> int:
        response = self.http.get("/_sandbox/stats")
        response.raise_for_status()
        return sum(
            row["count"]
            for row in response.json()["requests"]
            if row["method"] == method
            and row["path"] == path
            and (status is None or row["status"] == status)
        )


@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    with sandbox_server.SandboxServer() as server:
        yield str(server.url).rstrip("/")


@pytest.fixture
def admin(sandbox_url: str) -> Iterator[Admin]:
    admin = Admin(sandbox_url)
    admin.reset()
    yield admin
    admin.reset()
    admin.http.close()


class ClientFactory:
    """Builds clients on the sandbox and closes their connections at teardown."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._http: list[httpx.Client] = []

    def __call__(
        self,
        token: str = TOKEN,
        *,
        read_timeout: float = READ_TIMEOUT_SECONDS,
        budget: InMemoryBudget | None = None,
    ) -> CalendlyClient:
        http = build_http_client(
            self.url, token, connect_timeout=CONNECT_TIMEOUT_SECONDS, read_timeout=read_timeout
        )
        self._http.append(http)
        policy = RetryPolicy(max_attempts=3, wait_multiplier=0)
        return CalendlyClient(http, budget=budget, retry=policy)

    def close(self) -> None:
        for http in self._http:
            http.close()


@pytest.fixture
def make_client(sandbox_url: str, admin: Admin) -> Iterator[ClientFactory]:
    factory = ClientFactory(sandbox_url)
    yield factory
    factory.close()


@pytest.fixture
def client(make_client: ClientFactory) -> CalendlyClient:
    return make_client()


@pytest.fixture
def me(client: CalendlyClient) -> User:
    return client.get_current_user()


@pytest.fixture
def demo(client: CalendlyClient, me: User) -> EventType:
    assert me.current_organization is not None
    types = client.iter_event_types(organization=me.current_organization, active=True)
    return next(t for t in types if t.slug == "demo")


def open_slots(client: CalendlyClient, event_type: EventType) -> list[AvailableTime]:
    start = datetime.now(UTC) + timedelta(minutes=10)
    slots = client.list_available_times(event_type.uri, start, start + timedelta(days=7))
    assert slots, "the default seed offers demo slots every working day"
    return slots


def booking_body(event_type: EventType, slot: AvailableTime, email: str) -> dict[str, Any]:
    question = event_type.custom_questions[0]
    tracking: dict[str, str | None] = dict.fromkeys(TRACKING_KEYS)
    tracking["utm_content"] = f"ab-{uuid.uuid4().hex[:12]}"  # the correlation token
    tracking["salesforce_uuid"] = "00Q5e00000AbCdE"
    assert event_type.locations is not None
    return {
        "event_type": event_type.uri,
        "start_time": slot.start_time_raw,
        "invitee": {"name": "Ada Lovelace", "email": email, "timezone": "America/New_York"},
        "location": {"kind": event_type.locations[0].kind},
        "questions_and_answers": [
            {"question": question.name, "answer": "Acme", "position": question.position}
        ],
        "tracking": tracking,
        "event_guests": ["cc@example.com"],
    }


def unique_email() -> str:
    return f"ada-{uuid.uuid4().hex[:10]}@example.com"


# -- reads -----------------------------------------------------------------------------------------


def test_current_user_resolves_with_its_organization(client: CalendlyClient, me: User) -> None:
    again = client.get_user(me.uri)

    assert me.current_organization
    assert me.email
    assert again == me
    assert client.last_rate_limit is not None
    assert client.last_rate_limit.limit is not None


def test_event_types_are_read_over_every_page(
    client: CalendlyClient, me: User, admin: Admin
) -> None:
    assert me.current_organization is not None

    one_by_one = list(client.iter_event_types(organization=me.current_organization, count=1))
    all_at_once = list(client.iter_event_types(organization=me.current_organization))

    assert len(one_by_one) >= 3
    assert [t.uri for t in one_by_one] == [t.uri for t in all_at_once]
    assert len({t.uri for t in one_by_one}) == len(one_by_one)
    assert admin.calls("GET", "/event_types") == len(one_by_one) + 1


def test_an_event_type_reads_back_by_uri_with_its_questions_and_locations(
    client: CalendlyClient, demo: EventType
) -> None:
    again = client.get_event_type(demo.uri)

    assert again == demo
    assert [q.name for q in demo.custom_questions] == ["Company"]
    assert demo.locations is not None
    assert [loc.kind for loc in demo.locations] == ["zoom_conference", "outbound_call"]


def test_available_times_are_future_utc_starts_with_raw_strings(
    client: CalendlyClient, demo: EventType
) -> None:
    slots = open_slots(client, demo)

    now = datetime.now(UTC)
    assert all(s.start_time > now for s in slots)
    assert all(s.start_time_raw.endswith("Z") for s in slots)
    assert [s.start_time for s in slots] == sorted(s.start_time for s in slots)


# -- the booking round trip ------------------------------------------------------------------------


def test_book_find_list_and_cancel_round_trip(
    client: CalendlyClient, me: User, demo: EventType, admin: Admin
) -> None:
    assert me.current_organization is not None
    slot = open_slots(client, demo)[0]
    email = unique_email()
    body = booking_body(demo, slot, email)

    invitee = client.create_invitee(body)

    assert invitee.email == email
    assert invitee.cancel_url
    assert invitee.reschedule_url
    assert invitee.tracking == body["tracking"]
    assert invitee.event is not None
    assert client.get_invitee(invitee.uri).uri == invitee.uri

    event = client.get_scheduled_event(invitee.event)
    assert event.start_time == slot.start_time
    assert event.event_type == demo.uri
    assert [g.email for g in event.event_guests] == ["cc@example.com"]
    assert event.location is not None
    assert event.location.get("type") in {"zoom", "zoom_conference"}

    found = list(
        client.iter_scheduled_events(
            organization=me.current_organization,
            invitee_email=email,
            min_start_time=slot.start_time - timedelta(minutes=1),
            max_start_time=slot.start_time + timedelta(minutes=1),
            status="active",
        )
    )
    assert [e.uri for e in found] == [event.uri]

    invitees = list(client.iter_event_invitees(event.uri, email=email))
    assert [i.uri for i in invitees] == [invitee.uri]
    assert invitees[0].tracking is not None
    assert invitees[0].tracking["utm_content"] == body["tracking"]["utm_content"]

    cancellation = client.cancel_event(event.uri, reason="integration test")
    assert cancellation.canceler_type == "host"
    assert client.get_scheduled_event(event.uri).status == "canceled"

    [booking] = [b for b in admin.ledger() if b["email"] == email]
    assert booking["status"] == "canceled"
    assert datetime.fromisoformat(booking["start_time"]) == slot.start_time


# -- errors ----------------------------------------------------------------------------------------


def test_booking_a_filled_slot_is_slot_taken(client: CalendlyClient, demo: EventType) -> None:
    slot = open_slots(client, demo)[0]
    client.create_invitee(booking_body(demo, slot, unique_email()))

    with pytest.raises(SlotTaken) as caught:
        client.create_invitee(booking_body(demo, slot, unique_email()))

    assert caught.value.status == 400
    assert "already_filled" in caught.value.codes


def test_a_slot_stolen_just_before_the_post_is_slot_taken(
    client: CalendlyClient, demo: EventType, admin: Admin
) -> None:
    email = unique_email()
    admin.faults({"seed": 5, "endpoints": {"POST /invitees": {"steal_slot": 1.0}}})

    with pytest.raises(SlotTaken):
        client.create_invitee(booking_body(demo, open_slots(client, demo)[0], email))

    assert [b for b in admin.ledger() if b["email"] == email] == []


def test_a_429_on_a_booking_is_raised_not_retried(
    client: CalendlyClient, demo: EventType, admin: Admin
) -> None:
    admin.faults({"seed": 2, "endpoints": {"POST /invitees": {"error_429": 1.0}}})

    with pytest.raises(RateLimited) as caught:
        client.create_invitee(booking_body(demo, open_slots(client, demo)[0], unique_email()))

    assert caught.value.retry_after >= 1
    assert admin.calls("POST", "/invitees") == 1


def test_a_bad_token_is_unauthorized_and_never_echoed(make_client: ClientFactory) -> None:
    bad_token = "not-the-sandbox-token-" + uuid.uuid4().hex
    client = make_client(bad_token)

    with pytest.raises(Unauthorized) as caught:
        client.get_current_user()

    assert caught.value.status == 401
    assert bad_token not in str(caught.value)
    assert bad_token not in repr(caught.value.info)


def test_an_unknown_uuid_is_rejected_with_404(client: CalendlyClient) -> None:
    with pytest.raises(RequestRejected) as caught:
        client.get_event_type(str(uuid.uuid4()))

    assert type(caught.value) is RequestRejected
    assert caught.value.status == 404


def test_a_wrong_location_kind_is_rejected_with_its_reason(
    client: CalendlyClient, demo: EventType
) -> None:
    body = booking_body(demo, open_slots(client, demo)[0], unique_email())
    body["location"] = {"kind": "physical", "location": "1 Main St"}

    with pytest.raises(RequestRejected) as caught:
        client.create_invitee(body)

    assert type(caught.value) is RequestRejected
    assert caught.value.status == 400
    assert caught.value.details


def test_a_dropped_booking_response_is_outcome_unknown_and_not_retried(
    client: CalendlyClient, me: User, demo: EventType, admin: Admin
) -> None:
    assert me.current_organization is not None
    slot = open_slots(client, demo)[0]
    email = unique_email()
    admin.faults({"seed": 7, "endpoints": {"POST /invitees": {"drop_after_commit": 1.0}}})

    with pytest.raises(OutcomeUnknown):
        client.create_invitee(booking_body(demo, slot, email))

    admin.faults({})
    bookings = [b for b in admin.ledger() if b["email"] == email]
    assert len(bookings) == 1, "sent once, booked once: an unknown outcome is never retried"
    assert bookings[0]["dropped"] is True
    # The booking is there to be reconciled.
    found = list(
        client.iter_scheduled_events(organization=me.current_organization, invitee_email=email)
    )
    assert [e.start_time for e in found] == [slot.start_time]


def test_a_500_after_commit_is_outcome_unknown(
    client: CalendlyClient, demo: EventType, admin: Admin
) -> None:
    email = unique_email()
    admin.faults({"seed": 1, "endpoints": {"POST /invitees": {"error_500_after_commit": 1.0}}})

    with pytest.raises(OutcomeUnknown) as caught:
        client.create_invitee(booking_body(demo, open_slots(client, demo)[0], email))

    assert caught.value.status == 500
    assert len([b for b in admin.ledger() if b["email"] == email]) == 1


def test_a_get_that_fails_with_500_is_retried_then_raised(
    client: CalendlyClient, admin: Admin
) -> None:
    admin.faults({"seed": 3, "endpoints": {"GET /users/me": {"error_500": 1.0}}})

    with pytest.raises(ReadFailed):
        client.get_current_user()

    assert admin.calls("GET", "/users/me", 500) == 3


def test_a_slow_get_times_out_as_a_read_failure(make_client: ClientFactory, admin: Admin) -> None:
    admin.faults({"seed": 3, "endpoints": {"GET /users/me": {"latency_ms": 800}}})
    client = make_client(read_timeout=0.3)

    with pytest.raises(ReadFailed):
        client.get_current_user()
    # The sandbox still answers the abandoned calls later; let them land before the next test
    # resets its counters, or they would be counted there.
    time.sleep(1.0)


def test_calendly_429_is_rate_limited_with_the_reset(client: CalendlyClient, admin: Admin) -> None:
    admin.limits({"tier": "custom", "general_per_minute": 2})
    client.get_current_user()
    client.get_current_user()

    with pytest.raises(RateLimited) as caught:
        client.get_current_user()

    assert 1 <= caught.value.retry_after <= 60
    assert client.last_rate_limit is not None
    assert client.last_rate_limit.remaining == 0


def test_the_budget_stops_calls_before_calendly_would_refuse_them(
    make_client: ClientFactory, admin: Admin
) -> None:
    admin.limits({"tier": "custom", "general_per_minute": 3})
    budget = InMemoryBudget(PlanLimits(general_per_minute=3, reserved_for_bookings=0))
    client = make_client(budget=budget)
    for _ in range(3):
        client.get_current_user()

    with pytest.raises(RateLimited):
        client.get_current_user()

    assert admin.calls("GET", "/users/me", 429) == 0
    assert admin.calls("GET", "/users/me") == 3
