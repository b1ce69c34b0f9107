"""`already_filled` where an earlier attempt of ours was unclear: the booking may be our own.

Calendly's listings may lag behind its writes; the sandbox's never do. This test plays the lag
with a transport around the real sandbox (in this process, the booking service run by hand):

1. our POST is made, but the answer is lost (the transport raises a read timeout after it);
2. both reconcile looks miss it (the transport hides the scheduled events), so the attempt is
   declared absent and the request searches again, on an availability snapshot that still
   lists the slot (the transport replays the first answer);
3. the new POST for that slot meets `already_filled`: our own earlier booking holds it. The
   request must reconcile with every token sent for that slot, and adopt that booking, never
   book another slot (which is what it did before: two bookings for one request).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from autobook import db, intake, store
from autobook.booking.availability import AvailabilitySnapshots
from autobook.booking.context import BookingContext
from autobook.booking.resolve import EventTypeResolver
from autobook.booking.service import BookingService
from autobook.calendly.budget import InMemoryBudget
from autobook.calendly.client import CalendlyClient, build_http_client
from autobook.calendly.retry import RetryPolicy
from autobook.config import load_settings
from autobook.models import AttemptState, RequestStatus
from autobook.times import utc_now
from tests.faults.invariants import booking_request, email_for
from tests.support.databases import sqlite_url_in
from tests.support.sandbox import TOKEN, admin, running_sandbox

MAX_RUNS = 10


class LaggingCalendly(httpx.BaseTransport):
    """The sandbox, with a lost answer, hidden events and a stale availability on demand."""

    def __init__(self) -> None:
        self.inner = httpx.HTTPTransport()
        self.lose_next_post_answer = False
        self.hide_events = False
        self.availability: dict[str, bytes] = {}  # the first answer per query, replayed

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == "/event_type_available_times" and str(request.url) in self.availability:
            return httpx.Response(200, content=self.availability[str(request.url)])
        response = self.inner.handle_request(request)
        response.read()
        if path == "/event_type_available_times" and response.status_code == 200:
            self.availability[str(request.url)] = response.content
        if request.method == "POST" and path == "/invitees" and self.lose_next_post_answer:
            self.lose_next_post_answer = False
            raise httpx.ReadTimeout("the answer was lost", request=request)
        if path == "/scheduled_events" and self.hide_events:
            body = json.loads(response.content)
            body["collection"] = []
            return httpx.Response(200, json=body, headers={"Content-Type": "application/json"})
        return httpx.Response(
            response.status_code, content=response.content, headers=response.headers
        )


@pytest.fixture
def lagging(tmp_path: Path) -> Iterator[tuple[BookingService, LaggingCalendly, str]]:
    with running_sandbox() as sandbox, admin(sandbox.url) as sandbox_admin:
        sandbox_admin.set_limits({"tier": "unlimited"})
        url = sqlite_url_in(tmp_path)
        db.upgrade(url)
        settings = load_settings(
            data_dir=tmp_path,
            database_url=url,
            calendly_url=sandbox.url,
            calendly_token=TOKEN,
            testing=True,
            reconcile_grace_seconds=0,
        )
        transport = LaggingCalendly()
        http = build_http_client(sandbox.url, TOKEN, read_timeout=5, transport=transport)
        client = CalendlyClient(
            http, budget=InMemoryBudget(plan="unlimited"), retry=RetryPolicy.for_testing()
        )
        context = BookingContext(
            settings=settings,
            sessions=db.make_session_factory(db.make_engine(url)),
            client=client,
            resolver=EventTypeResolver(client, ttl_seconds=300),
            snapshots=AvailabilitySnapshots(client, ttl_seconds=0),
            clock=utc_now,
            worker_id="test:1",
            post_call=timedelta(seconds=5),
        )
        yield BookingService(context), transport, sandbox.url
        http.close()


def test_already_filled_after_an_unclear_attempt_at_that_slot_adopts_our_own_booking(
    lagging: tuple[BookingService, LaggingCalendly, str],
) -> None:
    service, transport, sandbox_url = lagging
    sessions = service.ctx.sessions
    with sessions.begin() as session:
        pk = intake.record(session, booking_request("unclear"), now=utc_now()).request_pk

    def run_once() -> store.BookingRequestRow:
        service.run(pk)
        with sessions() as session:
            return store.get(session, pk)

    transport.lose_next_post_answer = True
    transport.hide_events = True
    assert run_once().status is RequestStatus.UNKNOWN  # booked at Calendly, answer lost
    runs = 1
    while True:  # both looks miss it; the new POST meets already_filled; looks again
        row = run_once()
        runs += 1
        with sessions() as session:
            states = [a.state for a in store.attempts_for(session, pk)]
        if len(states) == 2 or row.status.is_terminal or runs > MAX_RUNS:
            break
    assert states == [AttemptState.NOT_FOUND, AttemptState.UNKNOWN], row.reason
    transport.hide_events = False  # Calendly's listing caught up
    while not row.status.is_terminal and runs <= MAX_RUNS:
        row = run_once()
        runs += 1
    assert row.status is RequestStatus.BOOKED, row.reason
    with admin(sandbox_url) as sandbox_admin:
        ours = [
            entry
            for entry in sandbox_admin.ledger()
            if entry["email"] == email_for("unclear") and entry["status"] == "active"
        ]
    assert len(ours) == 1
    assert ours[0]["uri"] == row.invitee_uri
    with sessions() as session:
        attempts = store.attempts_for(session, pk)
    assert [a.state for a in attempts] == [AttemptState.NOT_FOUND, AttemptState.ADOPTED]
    assert attempts[0].slot_start == attempts[1].slot_start
    assert attempts[0].correlation_token in (ours[0]["tracking"] or {}).values()
