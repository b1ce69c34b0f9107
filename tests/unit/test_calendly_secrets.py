"""The API token never appears in an error, its chain, or a log line; nor do query emails."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable

import httpx
import pytest

from autobook.calendly import CalendlyClient, RetryPolicy, build_http_client
from autobook.errors import CalendlyError

TOKEN = "eyJraWQiOiIxY2UxZTEzNjE3ZGNmNzY2YjNjZWJjY2Y4ZGM1YmFmYThhNjVlNjg0MDIzZjdjMzJiZTgzNDliMjM4MDEzNWI0IiwidHlwIjoiUEFUIiwiYWxnIjoiRVMyNTYifQ"  # noqa: E501
EMAIL = "ada.lovelace@example.com"


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> CalendlyClient:
    http = build_http_client(
        "http://127.0.0.1:9",
        TOKEN,
        connect_timeout=1,
        read_timeout=1,
        transport=httpx.MockTransport(handler),
    )
    return CalendlyClient(http, retry=RetryPolicy(max_attempts=2, wait_multiplier=0))


def everything_about(error: BaseException) -> str:
    """The text of an error as any logger or traceback printer could render it, chain included."""
    parts: list[str] = []
    current: BaseException | None = error
    while current is not None:
        parts += [str(current), repr(current), repr(vars(current))]
        request = (
            getattr(current, "request", None) if isinstance(current, httpx.HTTPError) else None
        )
        if request is not None:
            parts += [repr(request), str(request.url)]
        current = current.__cause__ or current.__context__
    parts.append("".join(traceback.format_exception(error)))
    if isinstance(error, CalendlyError):
        parts.append(repr(error.info))
    return "\n".join(parts)


def echo_headers(status: int) -> Callable[[httpx.Request], httpx.Response]:
    """A misbehaving server that quotes the request's headers in its error body."""

    def handler(request: httpx.Request) -> httpx.Response:
        auth = request.headers["authorization"]
        return httpx.Response(
            status,
            json={
                "title": f"Bad header {auth}",
                "message": f"got Authorization: {auth}",
                "details": [{"parameter": auth, "message": auth, "code": "x"}],
                "echo": {"authorization": auth},
            },
        )

    return handler


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
def test_token_echoed_by_the_server_is_redacted_from_errors(status: int) -> None:
    with pytest.raises(CalendlyError) as caught:
        client_for(echo_headers(status)).create_invitee({"invitee": {"email": EMAIL}})

    text = everything_about(caught.value)
    assert TOKEN not in text
    assert "[redacted]" in caught.value.message


def test_token_echoed_in_a_non_json_body_is_redacted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text=f"<pre>{request.headers['authorization']}</pre>")

    with pytest.raises(CalendlyError) as caught:
        client_for(handler).get_current_user()

    assert TOKEN not in everything_about(caught.value)


@pytest.mark.parametrize(
    "exc_type",
    [httpx.ConnectError, httpx.ReadTimeout, httpx.RemoteProtocolError, httpx.PoolTimeout],
)
def test_transport_errors_do_not_expose_the_token_or_the_query(
    exc_type: type[httpx.TransportError],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated failure", request=request)

    with pytest.raises(CalendlyError) as caught:
        list(client_for(handler).iter_scheduled_events(organization="o", invitee_email=EMAIL))

    text = everything_about(caught.value)
    assert TOKEN not in text
    assert "ada.lovelace" not in caught.value.message


def test_logs_carry_neither_token_nor_query_emails(caplog: pytest.LogCaptureFixture) -> None:
    calls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            raise httpx.ReadTimeout("slow", request=request)
        pagination = {"next_page_token": None, "next_page": None}
        return httpx.Response(200, json={"collection": [], "pagination": pagination})

    caplog.set_level(logging.DEBUG)
    list(client_for(handler).iter_scheduled_events(organization="o", invitee_email=EMAIL))

    assert caplog.records, "the client logs its calls and retries"
    assert any("retrying" in r.getMessage() for r in caplog.records)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert TOKEN not in logged
    assert "ada.lovelace" not in logged
    assert "GET /scheduled_events" in logged


def test_the_http_client_repr_hides_the_token() -> None:
    http = build_http_client("http://127.0.0.1:9", TOKEN, connect_timeout=1, read_timeout=1)
    request = http.build_request("GET", "/users/me")

    assert TOKEN not in repr(http.headers)
    assert TOKEN not in repr(request)
    assert TOKEN not in repr(CalendlyClient(http).__dict__.get("_redactor"))
