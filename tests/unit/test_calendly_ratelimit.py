"""X-RateLimit-* headers are parsed on every response and never break a call."""

from __future__ import annotations

import httpx
import pytest

from autobook.calendly import CalendlyClient, RateLimitInfo, RetryPolicy, build_http_client
from autobook.calendly.ratelimit import parse_rate_limit_headers, retry_after_seconds
from autobook.errors import RequestRejected


def headers(**values: str) -> httpx.Headers:
    return httpx.Headers({f"X-RateLimit-{k.title()}": v for k, v in values.items()})


def test_all_three_headers_are_parsed() -> None:
    info = parse_rate_limit_headers(headers(limit="500", remaining="498", reset="42"))

    assert info == RateLimitInfo(limit=500, remaining=498, reset_seconds=42.0)


def test_header_names_are_case_insensitive() -> None:
    raw = httpx.Headers({"x-ratelimit-limit": "10", "X-RATELIMIT-REMAINING": "0"})

    assert parse_rate_limit_headers(raw) == RateLimitInfo(10, 0, None)


@pytest.mark.parametrize("garbage", ["", "  ", "abc", "-1", "inf", "nan", "1e999", "10/min"])
def test_garbage_values_become_unknown(garbage: str) -> None:
    info = parse_rate_limit_headers(headers(limit=garbage, remaining="5", reset=garbage))

    assert info == RateLimitInfo(limit=None, remaining=5, reset_seconds=None)


def test_no_headers_means_no_info() -> None:
    assert parse_rate_limit_headers(httpx.Headers({"Content-Type": "application/json"})) is None


def test_fractional_reset_is_kept() -> None:
    info = parse_rate_limit_headers(headers(reset="1.5"))

    assert info is not None
    assert info.reset_seconds == 1.5


def test_retry_after_prefers_ratelimit_reset_then_retry_after_then_60() -> None:
    assert retry_after_seconds(httpx.Headers({"X-RateLimit-Reset": "12"})) == 12.0
    assert retry_after_seconds(httpx.Headers({"Retry-After": "7"})) == 7.0
    assert retry_after_seconds(httpx.Headers({"X-RateLimit-Reset": "x", "Retry-After": "7"})) == 7.0
    assert retry_after_seconds(httpx.Headers({})) == 60.0


def test_a_zero_reset_still_waits_a_little() -> None:
    assert retry_after_seconds(httpx.Headers({"X-RateLimit-Reset": "0"})) == 1.0


def test_client_records_the_last_responses_rate_limit_even_on_errors() -> None:
    answers = [
        httpx.Response(
            200,
            json={"resource": {"uri": "u"}},
            headers={"X-RateLimit-Limit": "500", "X-RateLimit-Remaining": "499"},
        ),
        httpx.Response(
            404,
            json={"title": "Resource Not Found"},
            headers={"X-RateLimit-Remaining": "498", "X-RateLimit-Reset": "59"},
        ),
        httpx.Response(200, json={"resource": {"uri": "u"}}, headers={"X-RateLimit-Limit": "?"}),
    ]
    http = build_http_client(
        "http://127.0.0.1:9",
        "t",
        connect_timeout=1,
        read_timeout=1,
        transport=httpx.MockTransport(lambda request: answers.pop(0)),
    )
    client = CalendlyClient(http, retry=RetryPolicy.for_testing())
    assert client.last_rate_limit is None

    client.get_current_user()
    assert client.last_rate_limit == RateLimitInfo(500, 499, None)

    with pytest.raises(RequestRejected):
        client.get_user("nope")
    assert client.last_rate_limit == RateLimitInfo(None, 498, 59.0)

    client.get_current_user()
    assert client.last_rate_limit is None
