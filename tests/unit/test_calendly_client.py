"""Each client method sends the documented request to the base URL and parses the answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import httpx
import pytest

from autobook import __version__
from autobook.calendly import (
    USER_AGENT,
    CalendlyClient,
    RetryPolicy,
    build_http_client,
    format_utc,
)

BASE_URL = "http://127.0.0.1:9"
FOREIGN = "https://api.calendly.com"  # URIs minted by another host: only their ids are used
EVENT_UUID = "cdd4c933-653b-4373-937a-3f9b08111a4a"
INVITEE_UUID = "8b5e2bc5-52bb-4dc1-8ad0-41ef0d6084b8"
LAST_PAGE = {
    "count": 0,
    "next_page": None,
    "previous_page": None,
    "next_page_token": None,
    "previous_page_token": None,
}


class Recorder:
    """A MockTransport handler that records requests and answers with `respond`."""

    def __init__(self, respond: Callable[[httpx.Request], httpx.Response]) -> None:
        self.requests: list[httpx.Request] = []
        self._respond = respond

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self._respond(request)

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]


def make_client(
    respond: Callable[[httpx.Request], httpx.Response],
) -> tuple[CalendlyClient, Recorder]:
    recorder = Recorder(respond)
    http = build_http_client(
        BASE_URL, "tok", connect_timeout=1, read_timeout=2, transport=httpx.MockTransport(recorder)
    )
    return CalendlyClient(http, retry=RetryPolicy.for_testing()), recorder


def resource(
    body: dict[str, object], status: int = 200
) -> Callable[[httpx.Request], httpx.Response]:
    return lambda request: httpx.Response(status, json={"resource": body})


def empty_collection(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"collection": [], "pagination": LAST_PAGE})


def test_build_http_client_sets_auth_user_agent_and_explicit_timeouts() -> None:
    http = build_http_client(BASE_URL + "/", "secret-token", connect_timeout=3, read_timeout=20)

    assert http.headers["Authorization"] == "Bearer secret-token"
    assert http.headers["User-Agent"] == USER_AGENT
    assert USER_AGENT.startswith(f"autobook/{__version__} ")
    assert http.timeout == httpx.Timeout(connect=3, read=20, write=20, pool=3)
    assert http.follow_redirects is False
    assert http.build_request("GET", "/users/me").url == BASE_URL + "/users/me"


def test_a_base_url_with_a_path_prefix_keeps_it() -> None:
    http = build_http_client("http://127.0.0.1:9/calendly/", "t", connect_timeout=1, read_timeout=1)

    assert http.build_request("GET", "/users/me").url == "http://127.0.0.1:9/calendly/users/me"


def test_build_http_client_accepts_a_secret_wrapper() -> None:
    class Secret:
        def get_secret_value(self) -> str:
            return "wrapped"

    http = build_http_client(BASE_URL, Secret(), connect_timeout=1, read_timeout=1)

    assert http.headers["Authorization"] == "Bearer wrapped"


def test_build_http_client_refuses_an_empty_token() -> None:
    with pytest.raises(ValueError, match="token"):
        build_http_client(BASE_URL, "", connect_timeout=1, read_timeout=1)


def test_requests_carry_the_user_agent_and_token() -> None:
    client, recorder = make_client(resource({"uri": f"{FOREIGN}/users/U1"}))

    client.get_current_user()

    assert recorder.last.headers["user-agent"] == USER_AGENT
    assert recorder.last.headers["authorization"] == "Bearer tok"


def test_get_current_user_calls_users_me() -> None:
    body = {"uri": f"{FOREIGN}/users/U1", "current_organization": f"{FOREIGN}/organizations/O1"}
    client, recorder = make_client(resource(body))

    user = client.get_current_user()

    assert recorder.last.method == "GET"
    assert recorder.last.url == f"{BASE_URL}/users/me"
    assert user.current_organization == f"{FOREIGN}/organizations/O1"


def test_a_uri_from_another_host_goes_to_the_base_url_with_its_uuid() -> None:
    client, recorder = make_client(resource({"uri": f"{FOREIGN}/users/U1"}))

    client.get_user(f"{FOREIGN}/users/U1")
    client.get_user("U1")

    assert [str(r.url) for r in recorder.requests] == [f"{BASE_URL}/users/U1"] * 2


def test_get_event_type_by_uri() -> None:
    client, recorder = make_client(resource({"uri": f"{FOREIGN}/event_types/E1", "name": "Demo"}))

    event_type = client.get_event_type(f"{FOREIGN}/event_types/E1/")

    assert recorder.last.url.path == "/event_types/E1"
    assert event_type.name == "Demo"


def test_an_id_cannot_escape_its_path_segment() -> None:
    client, recorder = make_client(resource({"uri": "x"}))

    client.get_event_type("a b?c=d#e")

    assert recorder.last.url.path == "/event_types/a b"
    assert recorder.last.url.raw_path.startswith(b"/event_types/a%20b")
    with pytest.raises(ValueError, match="resource"):
        client.get_event_type(f"{FOREIGN}/event_types/..")


def test_iter_event_types_sends_organization_active_and_count() -> None:
    client, recorder = make_client(empty_collection)

    assert (
        list(client.iter_event_types(organization=f"{FOREIGN}/organizations/O1", active=True)) == []
    )

    params = recorder.last.url.params
    assert recorder.last.url.path == "/event_types"
    assert params["organization"] == f"{FOREIGN}/organizations/O1"
    assert params["active"] == "true"
    assert params["count"] == "100"
    assert "user" not in params


def test_iter_event_types_needs_a_scope_and_a_valid_count() -> None:
    client, recorder = make_client(empty_collection)

    with pytest.raises(ValueError, match="organization or user"):
        client.iter_event_types()
    with pytest.raises(ValueError, match="count"):
        client.iter_event_types(user="u", count=101)
    assert recorder.requests == []


def test_list_available_times_sends_utc_times_and_keeps_raw_starts() -> None:
    raw = "2026-12-02T18:00:00.000000Z"
    body = {"collection": [{"status": "available", "invitees_remaining": 1, "start_time": raw}]}
    client, recorder = make_client(lambda request: httpx.Response(200, json=body))
    new_york = timezone(timedelta(hours=-5))

    slots = client.list_available_times(
        f"{FOREIGN}/event_types/E1",
        datetime(2026, 12, 1, 9, 0, tzinfo=new_york),
        datetime(2026, 12, 8, 9, 0, tzinfo=new_york),
    )

    params = recorder.last.url.params
    assert recorder.last.url.path == "/event_type_available_times"
    assert params["event_type"] == f"{FOREIGN}/event_types/E1"
    assert params["start_time"] == "2026-12-01T14:00:00.000000Z"
    assert params["end_time"] == "2026-12-08T14:00:00.000000Z"
    assert [s.start_time_raw for s in slots] == [raw]
    assert slots[0].start_time == datetime(2026, 12, 2, 18, tzinfo=UTC)


def test_naive_datetimes_are_refused_before_any_call() -> None:
    client, recorder = make_client(empty_collection)

    with pytest.raises(ValueError, match="timezone-aware"):
        client.list_available_times("e", datetime(2026, 12, 1), datetime(2026, 12, 2))
    assert recorder.requests == []


def test_format_utc_has_microseconds_and_z() -> None:
    assert (
        format_utc(datetime(2026, 1, 2, 3, 4, 5, 678, tzinfo=UTC)) == "2026-01-02T03:04:05.000678Z"
    )


def test_create_invitee_posts_the_body_unchanged_and_parses_the_invitee() -> None:
    invitee_uri = f"{FOREIGN}/scheduled_events/{EVENT_UUID}/invitees/{INVITEE_UUID}"
    answer = {"uri": invitee_uri, "event": f"{FOREIGN}/scheduled_events/{EVENT_UUID}"}
    client, recorder = make_client(resource(answer, status=201))
    body = {
        "event_type": f"{FOREIGN}/event_types/E1",
        "start_time": "2026-12-02T18:00:00.000000Z",
        "invitee": {"name": "Ada", "email": "ada@example.com", "timezone": "UTC"},
        "tracking": {"utm_content": None, "salesforce_uuid": "00Q"},
    }

    invitee = client.create_invitee(body)

    assert recorder.last.method == "POST"
    assert recorder.last.url == f"{BASE_URL}/invitees"
    assert json.loads(recorder.last.content) == body
    assert recorder.last.headers["content-type"] == "application/json"
    assert invitee.uri == invitee_uri


def test_cancel_event_posts_the_reason_to_the_cancellation_path() -> None:
    answer = {"canceled_by": "Host", "reason": "dup", "canceler_type": "host"}
    client, recorder = make_client(resource(answer, status=201))

    cancellation = client.cancel_event(f"{FOREIGN}/scheduled_events/{EVENT_UUID}", reason="dup")
    client.cancel_event(EVENT_UUID)

    assert recorder.requests[0].url.path == f"/scheduled_events/{EVENT_UUID}/cancellation"
    assert json.loads(recorder.requests[0].content) == {"reason": "dup"}
    assert json.loads(recorder.requests[1].content) == {}
    assert cancellation.canceler_type == "host"


def test_iter_scheduled_events_sends_every_filter() -> None:
    client, recorder = make_client(empty_collection)

    list(
        client.iter_scheduled_events(
            organization=f"{FOREIGN}/organizations/O1",
            invitee_email="ada@example.com",
            status="active",
            min_start_time=datetime(2026, 12, 2, 17, 59, tzinfo=UTC),
            max_start_time=datetime(2026, 12, 2, 18, 1, tzinfo=UTC),
            sort="start_time:asc",
            count=50,
        )
    )

    params = recorder.last.url.params
    assert recorder.last.url.path == "/scheduled_events"
    assert dict(params) == {
        "organization": f"{FOREIGN}/organizations/O1",
        "invitee_email": "ada@example.com",
        "status": "active",
        "min_start_time": "2026-12-02T17:59:00.000000Z",
        "max_start_time": "2026-12-02T18:01:00.000000Z",
        "sort": "start_time:asc",
        "count": "50",
    }


def test_get_scheduled_event_and_its_invitees() -> None:
    event_uri = f"{FOREIGN}/scheduled_events/{EVENT_UUID}"

    def respond(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/invitees"):
            invitee = {
                "uri": f"{event_uri}/invitees/{INVITEE_UUID}",
                "event": event_uri,
                "email": "ada@example.com",
            }
            return httpx.Response(200, json={"collection": [invitee], "pagination": LAST_PAGE})
        event = {
            "uri": event_uri,
            "status": "active",
            "start_time": "2026-12-02T18:00:00.000000Z",
            "end_time": "2026-12-02T18:30:00.000000Z",
        }
        return httpx.Response(200, json={"resource": event})

    client, recorder = make_client(respond)

    event = client.get_scheduled_event(event_uri)
    invitees = list(client.iter_event_invitees(event_uri, email="ada@example.com", status="active"))

    assert recorder.requests[0].url.path == f"/scheduled_events/{EVENT_UUID}"
    assert recorder.requests[1].url.path == f"/scheduled_events/{EVENT_UUID}/invitees"
    assert recorder.requests[1].url.params["email"] == "ada@example.com"
    assert recorder.requests[1].url.params["status"] == "active"
    assert event.status == "active"
    assert [i.email for i in invitees] == ["ada@example.com"]


def test_get_invitee_uses_both_ids_of_the_uri() -> None:
    uri = f"{FOREIGN}/scheduled_events/{EVENT_UUID}/invitees/{INVITEE_UUID}"
    client, recorder = make_client(resource({"uri": uri, "event": uri.rsplit("/invitees/")[0]}))

    client.get_invitee(uri)

    assert recorder.last.url.path == f"/scheduled_events/{EVENT_UUID}/invitees/{INVITEE_UUID}"
    with pytest.raises(ValueError, match="invitee URI"):
        client.get_invitee(f"{FOREIGN}/scheduled_events/{EVENT_UUID}")


def test_prioritized_client_shares_the_connection() -> None:
    client, recorder = make_client(resource({"uri": "u"}))

    client.prioritized().get_current_user()

    assert len(recorder.requests) == 1
