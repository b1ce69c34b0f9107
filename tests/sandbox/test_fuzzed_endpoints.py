"""Fuzzed query strings and bodies at the sandbox's other endpoints: never a 5xx, ledger readable.

`test_hostile_bodies` fuzzes `POST /invitees`; this module covers the rest of the sandbox's own
routes: the query strings of the four list endpoints (known parameters with hostile values,
timestamps at datetime's edges, URIs of real and made-up resources, unknown and repeated keys,
undecodable percent escapes), cancellation bodies, and the admin bodies of `PUT /_sandbox/faults`
and `PUT /_sandbox/limits`. After each example the sandbox must still answer a plain API call
and its ledger must read. Examples are bounded so the module stays well under 30 s.
"""

from __future__ import annotations

import json
import string
from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autobook.sandbox.server import SandboxServer
from tests.sandbox.seeds import (
    FUTURE_GROUP_EVENT_UUID,
    OWNER_EMAIL,
    PAST_EVENT_UUID,
    event_type_uri,
    user_uri,
)
from tests.support.sandbox import SandboxAdmin, auth_headers

FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# JSON bodies: every type, surrogates and controls included (the sandbox refuses lone
# surrogates with a 400; it must never store one).
ANY_TEXT = st.text(st.characters(codec=None, exclude_categories=()), max_size=20)
NUMBERS = (
    st.integers()
    | st.floats()
    | st.sampled_from([10**400, -(10**400), 2**63, 1e308, -1.0, 0.5, 60_001])
)
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | NUMBERS | ANY_TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(ANY_TEXT, inner, max_size=3),
    max_leaves=8,
)
URL_TEXT = st.text(st.characters(codec="utf-8"), max_size=30)
EVENT_UUIDS = st.sampled_from([FUTURE_GROUP_EVENT_UUID, PAST_EVENT_UUID]) | st.text(
    string.ascii_letters + string.digits + "-._~%", min_size=1, max_size=70
)


def _timestamps() -> st.SearchStrategy[str]:
    """ISO 8601 instants from year 1 to 9999, odd offsets and fractions, and near misses."""
    offsets = st.sampled_from(["Z", "z", "+14:00", "-23:59", "+0000", "-12", "", "+99:99"])
    fractions = st.sampled_from(["", ".5", ".123456", ".1234567890123"])
    return st.builds(
        lambda moment, fraction, offset: moment.isoformat(timespec="seconds") + fraction + offset,
        st.datetimes(),
        fractions,
        offsets,
    )


def _uris(base: str) -> st.SearchStrategy[str]:
    uuids = st.sampled_from(
        [str(event_type_uri("", "solo")).rsplit("/", 1)[1], "..", "%2e%2e", "x" * 65, ""]
    ) | st.text(string.ascii_letters + "-", max_size=10)
    collections = st.sampled_from(["event_types", "users", "organizations", "scheduled_events"])
    hosts = st.sampled_from([base, "https://api.calendly.com", "", "http://[::1", "ftp://x"])
    return st.builds(lambda h, c, u: f"{h}/{c}/{u}", hosts, collections, uuids)


def _query_values(base: str) -> st.SearchStrategy[str]:
    return (
        URL_TEXT
        | _timestamps()
        | _uris(base)
        | st.integers().map(str)
        | st.sampled_from(
            [
                "true",
                "FALSE",
                "active",
                "canceled",
                "name:asc,created_at:desc",
                "start_time:desc",
                ":",
                ",,",
                "0",
                "-1",
                "101",
                "9" * 40,
                "AAAAAAAAAAAAAAAAAAA",
                user_uri(base, OWNER_EMAIL),
                event_type_uri(base, "solo"),
            ]
        )
    )


ENDPOINT_PARAMS = {
    "/event_type_available_times": ["event_type", "start_time", "end_time"],
    "/event_types": [
        "organization",
        "user",
        "active",
        "admin_managed",
        "user_availability_schedule",
        "count",
        "sort",
        "page_token",
    ],
    "/scheduled_events": [
        "organization",
        "user",
        "group",
        "invitee_email",
        "status",
        "min_start_time",
        "max_start_time",
        "count",
        "sort",
        "page_token",
    ],
    "/scheduled_events/{uuid}/invitees": ["status", "email", "count", "sort", "page_token"],
}


@pytest.fixture
def raw(sandbox: SandboxServer, sandbox_admin: SandboxAdmin) -> Iterator[httpx.Client]:
    sandbox_admin.set_limits({"tier": "unlimited"})
    with httpx.Client(base_url=sandbox.url, headers=auth_headers(), timeout=30) as client:
        yield client


def _organization(raw: httpx.Client) -> str:
    organization: str = raw.get("/users/me").json()["resource"]["current_organization"]
    return organization


def _still_serving(raw: httpx.Client) -> None:
    """A plain API call answers, and the ledger and each booked event's invitees read."""
    assert raw.get("/users/me").status_code < 500
    ledger = raw.get("/_sandbox/ledger")
    assert ledger.status_code == 200, ledger.text[:300]
    for booking in ledger.json()["collection"]:
        event_uuid = booking["event"].rstrip("/").rsplit("/", 1)[1]
        assert raw.get(f"/scheduled_events/{event_uuid}").status_code == 200
        assert raw.get(f"/scheduled_events/{event_uuid}/invitees").status_code == 200


def _query_string(pairs: list[tuple[str, str]], garbage: str) -> str:
    encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in pairs)
    return f"{encoded}&{garbage}" if garbage else encoded


@FUZZ
@given(data=st.data())
def test_fuzzed_query_strings_never_get_a_5xx(
    raw: httpx.Client, sandbox: SandboxServer, data: st.DataObject
) -> None:
    template = data.draw(st.sampled_from(sorted(ENDPOINT_PARAMS)))
    known = ENDPOINT_PARAMS[template]
    names = st.sampled_from([*known, "organization"]) | URL_TEXT
    pairs = data.draw(st.lists(st.tuples(names, _query_values(sandbox.url)), max_size=6))
    if data.draw(st.booleans()):  # the usual scope, so the fuzz gets past the first 400
        pairs.append(("organization", _organization(raw)))
    garbage = data.draw(st.sampled_from(["", "%ff%fe=%c0", "&&=&", "count", "a=%", "=x"]))
    path = template.replace("{uuid}", quote(data.draw(EVENT_UUIDS), safe=""))
    response = raw.get(f"{path}?{_query_string(pairs, garbage)}")
    assert response.status_code < 500, (path, pairs, response.text[:300])
    event(f"{template} {response.status_code}")  # --hypothesis-show-statistics: reach
    _still_serving(raw)


@FUZZ
@given(
    event_uuid=EVENT_UUIDS,
    body=JSON_VALUES | st.fixed_dictionaries({}, optional={"reason": JSON_VALUES | ANY_TEXT}),
)
def test_fuzzed_cancellation_bodies_never_get_a_5xx(
    raw: httpx.Client, sandbox_admin: SandboxAdmin, event_uuid: str, body: object
) -> None:
    sandbox_admin.reset()
    sandbox_admin.set_limits({"tier": "unlimited"})
    content = json.dumps(body, ensure_ascii=True).encode()  # surrogates travel as \\udXXX
    path = f"/scheduled_events/{quote(event_uuid, safe='')}/cancellation"
    response = raw.post(path, content=content)
    assert response.status_code < 500, response.text[:300]
    event(f"cancellation {response.status_code}")
    _still_serving(raw)


ENDPOINT_KEYS = st.sampled_from(
    ["POST /invitees", "GET /event_types", "GET /users/me", "GET /nowhere", ""]
)
KNOBS = st.sampled_from(
    [
        "latency_ms",
        "error_429",
        "error_500",
        "error_500_after_commit",
        "drop_after_commit",
        "steal_slot",
        "other",
    ]
)
FAULT_BODIES = JSON_VALUES | st.fixed_dictionaries(
    {},
    optional={
        "seed": JSON_VALUES,
        "endpoints": st.dictionaries(
            ENDPOINT_KEYS | ANY_TEXT,
            JSON_VALUES | st.dictionaries(KNOBS, NUMBERS | JSON_VALUES, max_size=4),
            max_size=3,
        ),
    },
)
LIMIT_KEYS = st.sampled_from(
    [
        "tier",
        "general_per_minute",
        "invitees_per_minute",
        "invitees_per_hour",
        "invitees_per_day",
    ]
)
TIER_NAMES = st.sampled_from(["free", "trial", "standard", "enterprise", "unlimited", "custom"])
PLANS = JSON_VALUES | st.dictionaries(LIMIT_KEYS, TIER_NAMES | NUMBERS | JSON_VALUES, max_size=5)
USER_KEYS = st.sampled_from([OWNER_EMAIL, OWNER_EMAIL.upper(), "nobody@x", ""]) | ANY_TEXT
LIMIT_BODIES = PLANS | st.fixed_dictionaries(
    {"users": JSON_VALUES | st.dictionaries(USER_KEYS, PLANS, max_size=3)}
)


@FUZZ
@given(body=FAULT_BODIES)
def test_fuzzed_fault_settings_never_get_a_5xx(
    raw: httpx.Client, sandbox_admin: SandboxAdmin, body: object
) -> None:
    response = raw.put("/_sandbox/faults", content=json.dumps(body, ensure_ascii=True).encode())
    assert response.status_code < 500, response.text[:300]
    event(f"faults {response.status_code}")
    assert raw.get("/_sandbox/faults").status_code == 200
    sandbox_admin.set_faults({})  # faults it accepted may inject 500s on purpose
    _still_serving(raw)


@FUZZ
@given(body=LIMIT_BODIES)
def test_fuzzed_limit_settings_never_get_a_5xx(
    raw: httpx.Client, sandbox_admin: SandboxAdmin, sandbox: SandboxServer, body: object
) -> None:
    response = raw.put("/_sandbox/limits", content=json.dumps(body, ensure_ascii=True).encode())
    assert response.status_code < 500, response.text[:300]
    event(f"limits {response.status_code}")
    assert raw.get("/_sandbox/limits").status_code == 200
    # Whatever plan was accepted, calls under it are counted and answered (429 or 403 at most).
    for _ in range(2):
        assert raw.get("/users/me").status_code < 500
        booking = raw.post("/invitees", json={"event_type": event_type_uri(sandbox.url, "solo")})
        assert booking.status_code < 500, booking.text[:300]
    _still_serving(raw)
    sandbox_admin.set_limits({"tier": "unlimited"})
