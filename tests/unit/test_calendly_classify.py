"""Every outcome of a Calendly call maps to the error class that says what to do next."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from autobook.calendly import CalendlyClient, RetryPolicy, build_http_client
from autobook.calendly.classify import (
    PaginationError,
    ReadFailed,
    UnexpectedResponse,
    classify_response,
    classify_transport_error,
    parse_error_info,
)
from autobook.errors import (
    CalendlyError,
    OutcomeUnknown,
    RateLimited,
    RequestNotSent,
    RequestRejected,
    SlotTaken,
    Unauthorized,
)

BASE_URL = "https://api.calendly.test"
ALREADY_FILLED = {
    "title": "Invalid Argument",
    "message": "The supplied parameters are invalid.",
    "details": [
        {
            "parameter": "event.start_time",
            "message": "That start time has been filled",
            "code": "already_filled",
        }
    ],
}
WRONG_LOCATION = {
    "title": "Invalid Argument",
    "message": "Specified location kind is not configured for this event type.",
    "details": [
        {
            "parameter": "event.location_configuration.location",
            "message": "invalid location choice",
            "code": "invalid_location_choice",
        }
    ],
}
UNAUTHENTICATED = {"title": "Unauthenticated", "message": "The access token is invalid"}
NOT_FOUND = {
    "title": "Resource Not Found",
    "message": "The server could not find the requested resource.",
}
FORBIDDEN_SCOPE = {
    "title": "Insufficient scope",
    "message": "This operation requires the scopes listed in the 'required_scopes' array.",
    "required_scopes": ["scheduled_events:write"],
}


def response(
    status: int,
    *,
    method: str = "POST",
    path: str = "/invitees",
    json: object = None,
    text: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    request = httpx.Request(method, BASE_URL + path)
    if text is not None:
        return httpx.Response(status, text=text, headers=headers, request=request)
    return httpx.Response(status, json=json, headers=headers, request=request)


def client_for(handler: Callable[[httpx.Request], httpx.Response]) -> CalendlyClient:
    http = build_http_client(
        BASE_URL,
        "test-token",
        connect_timeout=1,
        read_timeout=1,
        transport=httpx.MockTransport(handler),
    )
    return CalendlyClient(http, retry=RetryPolicy.for_testing())


def test_400_already_filled_is_slot_taken_with_its_code() -> None:
    error = classify_response(response(400, json=ALREADY_FILLED))

    assert type(error) is SlotTaken
    assert isinstance(error, RequestRejected)
    assert error.codes == ["already_filled"]
    assert error.status == 400
    assert "That start time has been filled" in error.message


def test_other_400_is_rejected_with_parameter_message_and_code() -> None:
    error = classify_response(response(400, json=WRONG_LOCATION))

    assert type(error) is RequestRejected
    assert error.title == "Invalid Argument"
    assert error.details[0].parameter == "event.location_configuration.location"
    assert error.details[0].code == "invalid_location_choice"
    assert "event.location_configuration.location" in error.message
    assert "Specified location kind is not configured" in error.message


def test_400_without_details_is_rejected() -> None:
    body = {"title": "Invalid Argument", "message": "The supplied parameters are invalid."}
    error = classify_response(response(400, method="GET", path="/event_types", json=body))

    assert type(error) is RequestRejected
    assert error.details == []
    assert (
        error.message
        == "GET /event_types: 400 Invalid Argument: The supplied parameters are invalid."
    )


def test_401_is_unauthorized() -> None:
    error = classify_response(response(401, method="GET", path="/users/me", json=UNAUTHENTICATED))

    assert type(error) is Unauthorized
    assert isinstance(error, RequestRejected)
    assert error.info.message == "The access token is invalid"


@pytest.mark.parametrize(
    ("status", "body"), [(403, FORBIDDEN_SCOPE), (404, NOT_FOUND), (409, {"title": "Conflict"})]
)
def test_403_404_and_other_4xx_are_rejected(status: int, body: dict[str, object]) -> None:
    error = classify_response(response(status, json=body))

    assert type(error) is RequestRejected
    assert error.status == status


def test_403_insufficient_scope_keeps_required_scopes() -> None:
    error = classify_response(response(403, json=FORBIDDEN_SCOPE))

    assert error.info.extra == {"required_scopes": ["scheduled_events:write"]}


def test_429_is_rate_limited_for_the_reset_seconds() -> None:
    headers = {"X-RateLimit-Limit": "10", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "17"}
    error = classify_response(response(429, text="", headers=headers))

    assert isinstance(error, RateLimited)
    assert error.retry_after == 17.0


@pytest.mark.parametrize("reset", [None, "", "soon", "-3", "nan"])
def test_429_without_a_usable_reset_waits_60_seconds(reset: str | None) -> None:
    headers = {} if reset is None else {"X-RateLimit-Reset": reset}
    error = classify_response(response(429, json={"message": "slow down"}, headers=headers))

    assert isinstance(error, RateLimited)
    assert error.retry_after == 60.0


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408])
def test_5xx_on_post_is_outcome_unknown(status: int) -> None:
    error = classify_response(response(status, json={"title": "Internal Server Error"}))

    assert type(error) is OutcomeUnknown


@pytest.mark.parametrize("status", [500, 503, 408])
def test_5xx_on_get_is_a_retryable_read_failure(status: int) -> None:
    error = classify_response(response(status, method="GET", path="/event_types", json={}))

    assert type(error) is ReadFailed
    assert isinstance(error, RequestNotSent)


def test_3xx_on_post_is_outcome_unknown_and_on_get_unexpected() -> None:
    post = classify_response(response(302, text="", headers={"Location": "/elsewhere"}))
    get = classify_response(response(302, method="GET", path="/users/me", text=""))

    assert type(post) is OutcomeUnknown
    assert type(get) is UnexpectedResponse


def test_a_non_json_error_body_still_gives_a_useful_message() -> None:
    html = "<html><body><h1>502 Bad Gateway</h1>\n\n<p>cloudflare</p></body></html>"
    error = classify_response(response(502, text=html))

    assert error.info.title == "Bad Gateway"
    assert "502 Bad Gateway" in error.message
    assert "cloudflare" in error.message


def test_a_long_non_json_body_is_cut_in_the_message() -> None:
    info = parse_error_info(response(500, text="x" * 5000))

    assert info.message is not None
    assert len(info.message) < 300


def test_malformed_details_are_skipped_not_fatal() -> None:
    body = {"title": "Invalid Argument", "message": "m", "details": ["junk", {"message": "ok"}, 3]}
    info = parse_error_info(response(400, json=body))

    assert [d.message for d in info.details] == ["ok"]


def test_the_message_never_carries_the_query_string() -> None:
    request = httpx.Request("GET", BASE_URL + "/scheduled_events?invitee_email=ada%40example.com")
    error = classify_response(httpx.Response(500, json={}, request=request))

    assert "ada" not in error.message
    assert "GET /scheduled_events" in error.message


# -- transport failures ----------------------------------------------------------------------------

NOT_SENT = [
    httpx.ConnectError("refused"),
    httpx.ConnectTimeout("connect timed out"),
    httpx.PoolTimeout("pool full"),
]
AMBIGUOUS = [
    httpx.ReadTimeout("read timed out"),
    httpx.WriteTimeout("write timed out"),
    httpx.ReadError("reset"),
    httpx.WriteError("broken pipe"),
    httpx.RemoteProtocolError("Server disconnected without sending a response."),
]


@pytest.mark.parametrize("exc", NOT_SENT, ids=lambda e: type(e).__name__)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_connect_phase_failures_are_not_sent(method: str, exc: httpx.TransportError) -> None:
    error = classify_transport_error(httpx.Request(method, BASE_URL + "/invitees"), exc)

    assert type(error) is RequestNotSent


@pytest.mark.parametrize("exc", AMBIGUOUS, ids=lambda e: type(e).__name__)
def test_failures_after_sending_a_post_are_outcome_unknown(exc: httpx.TransportError) -> None:
    error = classify_transport_error(httpx.Request("POST", BASE_URL + "/invitees"), exc)

    assert type(error) is OutcomeUnknown
    assert type(exc).__name__ in error.message


@pytest.mark.parametrize("exc", AMBIGUOUS, ids=lambda e: type(e).__name__)
def test_failures_after_sending_a_get_are_read_failures(exc: httpx.TransportError) -> None:
    error = classify_transport_error(httpx.Request("GET", BASE_URL + "/users/me"), exc)

    assert type(error) is ReadFailed


def test_a_bad_url_scheme_is_a_plain_calendly_error_not_retryable() -> None:
    exc = httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'.")
    error = classify_transport_error(httpx.Request("GET", "ftp://x/users/me"), exc)

    assert type(error) is CalendlyError


# -- through the client ----------------------------------------------------------------------------


def test_client_raises_slot_taken_from_post_invitees() -> None:
    client = client_for(lambda request: httpx.Response(400, json=ALREADY_FILLED))

    with pytest.raises(SlotTaken) as caught:
        client.create_invitee({"event_type": "e", "start_time": "s", "invitee": {}})

    assert caught.value.codes == ["already_filled"]


def test_client_wraps_transport_errors_and_chains_the_cause() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(OutcomeUnknown) as caught:
        client_for(handler).create_invitee({})

    assert isinstance(caught.value.__cause__, httpx.ReadTimeout)


def test_a_201_with_an_unreadable_body_is_outcome_unknown() -> None:
    client = client_for(lambda request: httpx.Response(201, text="<html>oops</html>"))

    with pytest.raises(OutcomeUnknown) as caught:
        client.create_invitee({})

    assert caught.value.status == 201


def test_a_201_whose_resource_breaks_the_schema_is_outcome_unknown_without_its_values() -> None:
    body = {"resource": {"email": "ada@example.com"}}  # no uri
    client = client_for(lambda request: httpx.Response(201, json=body))

    with pytest.raises(OutcomeUnknown) as caught:
        client.create_invitee({})

    assert "uri" in caught.value.message
    assert "ada@example.com" not in caught.value.message
    assert caught.value.__cause__ is None


def test_a_200_get_without_resource_is_unexpected() -> None:
    client = client_for(lambda request: httpx.Response(200, json={"collection": []}))

    with pytest.raises(UnexpectedResponse):
        client.get_current_user()


def test_pagination_error_is_an_unexpected_response() -> None:
    assert issubclass(PaginationError, UnexpectedResponse)
    assert not issubclass(PaginationError, RequestNotSent)
