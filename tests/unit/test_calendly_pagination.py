"""Listings follow next_page_token over every page and never end early as if complete."""

from __future__ import annotations

import httpx
import pytest

from autobook.calendly import (
    CalendlyClient,
    PaginationError,
    ReadFailed,
    RetryPolicy,
    UnexpectedResponse,
    build_http_client,
)
from autobook.errors import RequestRejected

BASE_URL = "http://127.0.0.1:9"
ORG = "https://api.calendly.com/organizations/O1"


def pagination(next_token: str | None) -> dict[str, object]:
    return {
        "count": 2,
        "next_page": None
        if next_token is None
        else f"https://elsewhere/event_types?t={next_token}",
        "previous_page": None,
        "next_page_token": next_token,
        "previous_page_token": None,
    }


def item(uri: str) -> dict[str, str]:
    """Enough fields to be an event type, a scheduled event or an invitee."""
    return {
        "uri": uri,
        "event": "https://api.calendly.com/scheduled_events/E1",
        "start_time": "2026-12-02T18:00:00.000000Z",
        "end_time": "2026-12-02T18:30:00.000000Z",
    }


def page(uris: list[str], next_token: str | None) -> httpx.Response:
    return httpx.Response(
        200,
        json={"collection": [item(u) for u in uris], "pagination": pagination(next_token)},
    )


class Pages:
    """Serves pages keyed by the page_token received (None for the first page)."""

    def __init__(self, pages: dict[str | None, httpx.Response]) -> None:
        self.pages = pages
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.pages[request.url.params.get("page_token")]


def client_for(pages: Pages, *, max_attempts: int = 3) -> CalendlyClient:
    http = build_http_client(
        BASE_URL, "t", connect_timeout=1, read_timeout=1, transport=httpx.MockTransport(pages)
    )
    return CalendlyClient(http, retry=RetryPolicy(max_attempts=max_attempts, wait_multiplier=0))


def test_three_pages_are_all_read_in_order_on_the_same_path_and_filters() -> None:
    pages = Pages(
        {
            None: page(["a", "b"], "T2"),
            "T2": page(["c", "d"], "T3"),
            "T3": page(["e"], None),
        }
    )

    uris = [et.uri for et in client_for(pages).iter_event_types(organization=ORG, count=2)]

    assert uris == ["a", "b", "c", "d", "e"]
    assert [r.url.path for r in pages.requests] == ["/event_types"] * 3
    assert [r.url.params.get("page_token") for r in pages.requests] == [None, "T2", "T3"]
    assert all(r.url.params["organization"] == ORG for r in pages.requests)
    assert all(r.url.params["count"] == "2" for r in pages.requests)
    # next_page points at another host: it is never followed.
    assert all(r.url.host == "127.0.0.1" for r in pages.requests)


def test_pages_are_fetched_lazily() -> None:
    pages = Pages({None: page(["a"], "T2"), "T2": page(["b"], None)})

    iterator = client_for(pages).iter_event_types(organization=ORG)
    first = next(iterator)

    assert first.uri == "a"
    assert len(pages.requests) == 1


def test_an_error_on_a_middle_page_raises_after_the_items_already_read() -> None:
    not_found = httpx.Response(404, json={"title": "Resource Not Found", "message": "gone"})
    pages = Pages({None: page(["a"], "T2"), "T2": not_found})
    read: list[str] = []

    with pytest.raises(RequestRejected) as caught:
        read.extend(et.uri for et in client_for(pages).iter_event_types(organization=ORG))

    assert read == ["a"]
    assert caught.value.status == 404


def test_a_server_error_on_a_middle_page_is_retried_then_raised() -> None:
    pages = Pages({None: page(["a"], "T2"), "T2": httpx.Response(503, text="busy")})

    with pytest.raises(ReadFailed):
        list(client_for(pages, max_attempts=3).iter_scheduled_events(organization=ORG))

    assert [r.url.params.get("page_token") for r in pages.requests] == [None, "T2", "T2", "T2"]


def test_a_repeated_page_token_raises_instead_of_looping() -> None:
    pages = Pages({None: page(["a"], "T2"), "T2": page(["b"], "T3"), "T3": page(["c"], "T2")})

    with pytest.raises(PaginationError, match="repeated"):
        list(client_for(pages).iter_event_types(organization=ORG))

    assert len(pages.requests) == 3


def test_a_page_without_pagination_object_raises() -> None:
    pages = Pages({None: httpx.Response(200, json={"collection": [{"uri": "a"}]})})

    with pytest.raises(UnexpectedResponse, match="pagination"):
        list(client_for(pages).iter_event_types(organization=ORG))


def test_an_empty_page_with_a_next_token_is_followed() -> None:
    pages = Pages({None: page([], "T2"), "T2": page(["b"], None)})

    assert [et.uri for et in client_for(pages).iter_event_types(organization=ORG)] == ["b"]


def test_invitee_listing_paginates_too() -> None:
    pages = Pages({None: page(["i1"], "T2"), "T2": page(["i2"], None)})

    invitees = list(client_for(pages).iter_event_invitees("E1", email="ada@example.com"))

    assert [i.uri for i in invitees] == ["i1", "i2"]
    assert all(r.url.params["email"] == "ada@example.com" for r in pages.requests)
