"""`booking.resolve`: event types by URI or selector, over every page, with a TTL cache.

A real `CalendlyClient` talks to a small fake Calendly on `httpx.MockTransport`: it serves the
organization's event types two per page, so every selector test also proves that every page is
read, and it counts requests, so the cache tests can tell a cached answer from a fresh one.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx
import pytest

from autobook.booking.resolve import EventTypeNotFound, EventTypeResolver
from autobook.calendly import CalendlyClient, RetryPolicy, build_http_client
from autobook.errors import RequestRejected
from autobook.requests import EventTypeSelector

BASE_URL = "http://calendly.test"
ORGANIZATION = f"{BASE_URL}/organizations/org-1"
PAGE_SIZE = 2
TTL_SECONDS = 60.0
USERS = {
    "taylor": ("Taylor Reed", "taylor@acme.com"),
    "oliver": ("Oliver Hughes", "Oliver@Acme.com"),
}


def _event_type(
    uuid: str, name: str, slug: str, owner: str, *, active: bool = True
) -> dict[str, Any]:
    return {
        "uri": f"{BASE_URL}/event_types/{uuid}",
        "name": name,
        "slug": slug,
        "active": active,
        "duration": 30,
        "profile": {"type": "User", "name": USERS[owner][0], "owner": f"{BASE_URL}/users/{owner}"},
        "locations": None,
    }


EVENT_TYPES = [
    _event_type("et-1", "15 Minute Intro", "intro", "taylor"),
    _event_type("et-2", "30 Minute Demo", "demo", "taylor"),
    _event_type("et-3", "30 Minute Demo", "demo-uk", "oliver"),
    _event_type("et-4", "Legacy Discovery Call", "legacy", "taylor", active=False),
    _event_type("et-5", "Phone Call", "phone-call", "oliver", active=False),
    _event_type("et-6", "Phone Call", "phone-call-2", "oliver"),
    _event_type("et-7", "Onsite Visit", "onsite-visit", "oliver"),
]


class FakeCalendly:
    """Users and a paginated list of event types; counts every request by path."""

    def __init__(self, event_types: list[dict[str, Any]], organization: str | None = ORGANIZATION):
        self.event_types = event_types
        self.organization = organization
        self.calls: Counter[str] = Counter()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.calls[path] += 1
        if path == "/users/me":
            return self._resource(
                {"uri": f"{BASE_URL}/users/taylor", "current_organization": self.organization}
            )
        if path.startswith("/users/"):
            uuid = path.rsplit("/", 1)[-1]
            name, email = USERS[uuid]
            return self._resource({"uri": f"{BASE_URL}/users/{uuid}", "name": name, "email": email})
        if path == "/event_types":
            assert request.url.params["organization"] == ORGANIZATION
            start = int(request.url.params.get("page_token") or 0)
            page = self.event_types[start : start + PAGE_SIZE]
            following = start + PAGE_SIZE
            token = str(following) if following < len(self.event_types) else None
            pagination = {"count": len(page), "next_page_token": token, "next_page": None}
            return httpx.Response(200, json={"collection": page, "pagination": pagination})
        if path.startswith("/event_types/"):
            uuid = path.rsplit("/", 1)[-1]
            (found,) = [et for et in self.event_types if et["uri"].endswith(f"/{uuid}")]
            return self._resource(found)
        return httpx.Response(404, json={"title": "Resource Not Found", "message": path})

    @staticmethod
    def _resource(body: dict[str, Any]) -> httpx.Response:
        return httpx.Response(200, json={"resource": body})


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _resolver(fake: FakeCalendly, clock: Clock | None = None) -> EventTypeResolver:
    http = build_http_client(
        BASE_URL, "token", connect_timeout=1, read_timeout=2, transport=httpx.MockTransport(fake)
    )
    client = CalendlyClient(http, retry=RetryPolicy.for_testing())
    return EventTypeResolver(client, ttl_seconds=TTL_SECONDS, monotonic=clock or Clock())


@pytest.fixture
def fake() -> FakeCalendly:
    return FakeCalendly(EVENT_TYPES)


def _uuid(uri: str) -> str:
    return uri.rsplit("/", 1)[-1]


# -- selectors ---------------------------------------------------------------------------------


def test_slug_on_the_last_page_is_found(fake: FakeCalendly) -> None:
    found = _resolver(fake).by_selector(EventTypeSelector(slug="onsite-visit"))
    assert _uuid(found.uri) == "et-7"
    assert fake.calls["/event_types"] == 4  # seven types, two per page: every page was read


def test_name_matches_in_any_case_and_with_extra_spaces(fake: FakeCalendly) -> None:
    found = _resolver(fake).by_selector(EventTypeSelector(name="  15 minute INTRO "))
    assert _uuid(found.uri) == "et-1"


def test_a_name_shared_by_two_active_types_is_ambiguous_and_names_their_owners(
    fake: FakeCalendly,
) -> None:
    with pytest.raises(EventTypeNotFound) as caught:
        _resolver(fake).by_selector(EventTypeSelector(name="30 Minute Demo"))
    message = caught.value.message
    assert message.startswith("event_type: ")
    assert "2 event types match" in message
    assert "Taylor Reed" in message
    assert "Oliver Hughes" in message
    assert "owner" in message


@pytest.mark.parametrize(
    ("owner", "expected"), [("taylor@acme.com", "et-2"), ("OLIVER@acme.COM", "et-3")]
)
def test_owner_email_in_any_case_chooses_among_types_of_the_same_name(
    fake: FakeCalendly, owner: str, expected: str
) -> None:
    selector = EventTypeSelector(name="30 minute demo", owner=owner)
    assert _uuid(_resolver(fake).by_selector(selector).uri) == expected


def test_owner_who_has_no_such_type_is_not_found(fake: FakeCalendly) -> None:
    with pytest.raises(EventTypeNotFound) as caught:
        _resolver(fake).by_selector(EventTypeSelector(slug="intro", owner="oliver@acme.com"))
    assert "slug 'intro' and owner 'oliver@acme.com'" in caught.value.message


def test_unknown_slug_is_not_found_and_says_which(fake: FakeCalendly) -> None:
    with pytest.raises(EventTypeNotFound) as caught:
        _resolver(fake).by_selector(EventTypeSelector(slug="nope"))
    assert caught.value.message == "event_type: no active event type matches slug 'nope'"


def test_an_inactive_match_is_not_found_and_says_it_is_inactive(fake: FakeCalendly) -> None:
    with pytest.raises(EventTypeNotFound) as caught:
        _resolver(fake).by_selector(EventTypeSelector(name="Legacy Discovery Call"))
    assert "inactive" in caught.value.message


def test_an_inactive_twin_is_ignored_when_one_active_type_matches(fake: FakeCalendly) -> None:
    found = _resolver(fake).by_selector(EventTypeSelector(name="Phone Call"))
    assert _uuid(found.uri) == "et-6"


def test_not_found_is_a_rejection_so_the_request_ends_rejected() -> None:
    assert issubclass(EventTypeNotFound, RequestRejected)


def test_a_token_without_organization_is_rejected() -> None:
    fake = FakeCalendly(EVENT_TYPES, organization=None)
    with pytest.raises(RequestRejected, match="no current organization"):
        _resolver(fake).by_selector(EventTypeSelector(slug="intro"))


# -- cache -------------------------------------------------------------------------------------


def test_the_listing_is_read_once_within_the_ttl_and_again_after_it(fake: FakeCalendly) -> None:
    clock = Clock()
    resolver = _resolver(fake, clock)
    for slug in ("intro", "demo", "onsite-visit"):
        resolver.by_selector(EventTypeSelector(slug=slug))
    assert fake.calls["/event_types"] == 4
    assert fake.calls["/users/me"] == 1  # the organization is looked up once
    clock.now += TTL_SECONDS + 1
    resolver.by_selector(EventTypeSelector(slug="intro"))
    assert fake.calls["/event_types"] == 8
    assert fake.calls["/users/me"] == 1


def test_a_renamed_type_is_seen_after_the_ttl(fake: FakeCalendly) -> None:
    clock = Clock()
    resolver = _resolver(fake, clock)
    resolver.by_selector(EventTypeSelector(slug="intro"))
    fake.event_types = [{**EVENT_TYPES[0], "slug": "intro-v2"}, *EVENT_TYPES[1:]]
    with pytest.raises(EventTypeNotFound):
        resolver.by_selector(EventTypeSelector(slug="intro-v2"))  # still the cached listing
    clock.now += TTL_SECONDS + 1
    assert _uuid(resolver.by_selector(EventTypeSelector(slug="intro-v2")).uri) == "et-1"


def test_owner_emails_are_looked_up_once_per_owner(fake: FakeCalendly) -> None:
    resolver = _resolver(fake)
    for _ in range(3):
        resolver.by_selector(EventTypeSelector(name="30 Minute Demo", owner="taylor@acme.com"))
    assert fake.calls["/users/taylor"] == 1
    assert fake.calls["/users/oliver"] == 1


def test_by_uri_is_cached_within_the_ttl(fake: FakeCalendly) -> None:
    clock = Clock()
    resolver = _resolver(fake, clock)
    uri = f"{BASE_URL}/event_types/et-2"
    assert resolver.by_uri(uri).slug == "demo"
    assert resolver.by_uri(uri).slug == "demo"
    assert fake.calls["/event_types/et-2"] == 1
    clock.now += TTL_SECONDS + 1
    resolver.by_uri(uri)
    assert fake.calls["/event_types/et-2"] == 2


def test_a_listing_fills_the_uri_cache(fake: FakeCalendly) -> None:
    resolver = _resolver(fake)
    resolver.by_selector(EventTypeSelector(slug="intro"))
    assert resolver.by_uri(f"{BASE_URL}/event_types/et-5").active is False
    assert fake.calls["/event_types/et-5"] == 0


def test_a_uri_minted_by_another_host_is_read_by_its_id(fake: FakeCalendly) -> None:
    found = _resolver(fake).by_uri("https://api.calendly.com/event_types/et-7")
    assert found.slug == "onsite-visit"
