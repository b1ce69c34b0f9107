"""The booked sweep's Calendly calls (issue 11), in-process against the sandbox over real HTTP,
every response checked against Calendly's schemas: the sweep reads the `/scheduled_events`
listing page by page and an invitee only for an event that changed, so its calls grow with
pages, not with bookings; a group event where one invitee canceled (the event stays active) is
found too; a sweep where nothing changed reads no invitee."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.calendly import CalendlyClient, RetryPolicy, build_http_client
from autobook.calendly.models import AvailableTime, EventType, Invitee
from autobook.webhooks.sweep import BookedSweep
from tests.support.booked import record_booked
from tests.support.conformance import conformance_hook
from tests.support.databases import migrated_session_factory, sqlite_url_in
from tests.support.sandbox import TOKEN, TRACKING_KEYS, running_sandbox

PAGE_SIZE = 2
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class Counted:
    """The client's calls by route (method and path with ids replaced)."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()

    def __call__(self, response: httpx.Response) -> None:
        parts = response.request.url.path.strip("/").split("/")
        shape = "/".join("{id}" if UUID.fullmatch(p) else p for p in parts)
        self.calls[f"{response.request.method} /{shape}"] += 1

    def total(self) -> int:
        return sum(self.calls.values())


@pytest.fixture
def sandbox() -> Iterator[Any]:
    with running_sandbox() as server:
        yield server


@pytest.fixture
def sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    with migrated_session_factory(sqlite_url_in(tmp_path)) as made:
        yield made


def _client(url: str, counted: Counted | None = None) -> CalendlyClient:
    http = build_http_client(url, TOKEN, connect_timeout=5, read_timeout=10)
    http.event_hooks["response"].append(conformance_hook)
    if counted is not None:
        http.event_hooks["response"].append(counted)
    return CalendlyClient(http, retry=RetryPolicy(max_attempts=2, wait_multiplier=0))


def _event_type(client: CalendlyClient, slug: str) -> EventType:
    me = client.get_current_user()
    assert me.current_organization is not None
    types = client.iter_event_types(organization=me.current_organization, active=True)
    return next(t for t in types if t.slug == slug)


def _slots(client: CalendlyClient, event_type: EventType) -> list[AvailableTime]:
    start = datetime.now(UTC) + timedelta(minutes=10)
    return client.list_available_times(event_type.uri, start, start + timedelta(days=7))


def _book(client: CalendlyClient, event_type: EventType, slot: AvailableTime) -> Invitee:
    body: dict[str, Any] = {
        "event_type": event_type.uri,
        "start_time": slot.start_time_raw,
        "invitee": {
            "name": "Ada Lovelace",
            "email": f"ada-{uuid.uuid4().hex[:8]}@example.com",
            "timezone": "America/New_York",
        },
        "tracking": dict.fromkeys(TRACKING_KEYS),
        "questions_and_answers": [
            {"question": q.name, "answer": "Acme", "position": q.position}
            for q in event_type.custom_questions
            if q.required
        ],
    }
    if event_type.locations:
        body["location"] = {"kind": event_type.locations[0].kind}
    return client.create_invitee(body)


def _record_booked(sessions: sessionmaker[Session], client: CalendlyClient, made: Invitee) -> str:
    assert made.event is not None
    event = client.get_scheduled_event(made.event)
    request_id = f"r-{uuid.uuid4().hex[:8]}"
    record_booked(
        sessions,
        request_id,
        now=datetime.now(UTC),
        event_type_uri=event.event_type,
        event_uri=event.uri,
        invitee_uri=made.uri,
        start_time=event.start_time,
        end_time=event.end_time,
        cancel_url=made.cancel_url,
        reschedule_url=made.reschedule_url,
    )
    return request_id


def _status(sessions: sessionmaker[Session], request_id: str) -> str:
    with sessions() as session:
        row = store.get_by_request_id(session, request_id)
        assert row is not None
        return str(row.status)


def _sweep(sessions: sessionmaker[Session], url: str, counted: Counted) -> BookedSweep:
    return BookedSweep(
        sessions,
        _client(url, counted),
        lambda: True,
        lambda: datetime.now(UTC),
        page_size=PAGE_SIZE,
    )


def test_calls_grow_with_pages_not_with_bookings(
    sandbox: Any, sessions: sessionmaker[Session]
) -> None:
    setup = _client(sandbox.url)
    intro = _event_type(setup, "intro")
    slots = _slots(setup, intro)
    assert len(slots) >= 8
    made = [_book(setup, intro, slot) for slot in slots[:8]]
    ids = [_record_booked(sessions, setup, invitee) for invitee in made]
    assert made[3].event is not None
    setup.cancel_event(made[3].event, reason="double booked")
    events_ahead = len(
        list(
            setup.iter_scheduled_events(
                organization=setup.get_current_user().current_organization,
                min_start_time=datetime.now(UTC),
            )
        )
    )

    counted = Counted()
    sweep = _sweep(sessions, sandbox.url, counted)
    opened = sweep.sweep()

    assert opened == [intro.uri]
    assert _status(sessions, ids[3]) == "canceled"
    assert {_status(sessions, i) for i in ids[:3] + ids[4:]} == {"booked"}
    pages = counted.calls["GET /scheduled_events"]
    # At most every page of the listing (it stops once all bookings are compared).
    assert 1 <= pages <= -(-events_ahead // PAGE_SIZE)
    # One read for the one event that changed; the seven unchanged bookings cost none.
    assert counted.calls["GET /scheduled_events/{id}/invitees/{id}"] == 1
    assert counted.total() == 1 + pages + 1  # /users/me once, the pages, the one invitee

    again = Counted()
    sweep._client = _client(sandbox.url, again)
    assert sweep.sweep() == []
    assert again.calls["GET /users/me"] == 0  # the scope is learned once per process
    assert again.total() == again.calls["GET /scheduled_events"]


def test_a_canceled_invitee_of_a_group_event_is_found(
    sandbox: Any, sessions: sessionmaker[Session]
) -> None:
    setup = _client(sandbox.url)
    webinar = _event_type(setup, "webinar")
    slot = _slots(setup, webinar)[0]
    staying, leaving = _book(setup, webinar, slot), _book(setup, webinar, slot)
    assert staying.event == leaving.event  # one event, two seats
    kept, gone = _record_booked(sessions, setup, staying), _record_booked(sessions, setup, leaving)
    page = str(leaving.cancel_url)  # the sandbox's own page
    assert httpx.post(page, data={"reason": "can't make it"}, timeout=10).status_code == 200
    assert leaving.event is not None
    assert setup.get_scheduled_event(leaving.event).status == "active"

    counted = Counted()
    assert _sweep(sessions, sandbox.url, counted).sweep() == [webinar.uri]

    assert _status(sessions, gone) == "canceled"
    assert _status(sessions, kept) == "booked"
    assert counted.calls["GET /scheduled_events/{id}/invitees"] == 1
    assert counted.calls["GET /scheduled_events/{id}/invitees/{id}"] == 0
