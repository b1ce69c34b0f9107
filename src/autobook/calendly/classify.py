"""Every outcome of a Calendly call, mapped to what the caller must do next.

This is the only place that turns `httpx` exceptions and HTTP statuses into `autobook.errors`. The
deciding question is "can this request have taken effect?": a GET never has an effect, so any
failure of a GET is safe to retry; a POST may have, so after an ambiguous failure it must be
reconciled, never re-sent blindly.

| outcome                                         | GET (no effect)    | POST (may have effect) |
|-------------------------------------------------|--------------------|------------------------|
| ConnectError, ConnectTimeout, PoolTimeout,      | RequestNotSent     | RequestNotSent         |
|   ProxyError                                    |                    |                        |
| ReadTimeout, WriteTimeout, ReadError,           | ReadFailed         | OutcomeUnknown         |
|   WriteError, RemoteProtocolError, any other    |  (RequestNotSent)  |                        |
|   request error (DecodingError, ...)            |                    |                        |
| UnsupportedProtocol (bad base URL)              | CalendlyError      | CalendlyError          |
| 5xx, 408                                        | ReadFailed         | OutcomeUnknown         |
| 401                                             | Unauthorized       | Unauthorized           |
| 429                                             | RateLimited        | RateLimited            |
| 400 with details code `already_filled`          | SlotTaken          | SlotTaken              |
| other 4xx (400, 403, 404, 409, 422, ...)        | RequestRejected    | RequestRejected        |
| 1xx, 3xx                                        | UnexpectedResponse | OutcomeUnknown         |
| 2xx whose body cannot be read                   | UnexpectedResponse | OutcomeUnknown         |

`RateLimited.retry_after` is `X-RateLimit-Reset` in seconds (else `Retry-After`, else 60).
`ReadFailed` subclasses `RequestNotSent` because the caller's next step is the same (retry with
backoff); its own name says that the request did reach the network.

Invariants: messages name the method and the path without its query string (queries carry invitee
emails), then Calendly's title, message and details; they never include request headers, so never
the token. Error bodies that are not JSON still give a message (status, reason and a short excerpt).
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from autobook.errors import (
    CalendlyError,
    CalendlyErrorInfo,
    ErrorDetail,
    OutcomeUnknown,
    RateLimited,
    RequestNotSent,
    RequestRejected,
    SlotTaken,
    Unauthorized,
)

from .ratelimit import retry_after_seconds

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
"""Methods that never change anything on Calendly: every failure of theirs is retryable."""

SLOT_TAKEN_CODE = "already_filled"
MAX_BODY_EXCERPT_CHARS = 200

_NOT_SENT_ERRORS = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError)


class ReadFailed(RequestNotSent):
    """A GET failed in transit or on Calendly's side; a GET has no effect, so retry with backoff."""


class UnexpectedResponse(CalendlyError):
    """Calendly answered with something autobook cannot read; retrying is unlikely to help."""


class PaginationError(UnexpectedResponse):
    """Calendly's pagination repeated a page token: the listing cannot be trusted to be complete."""


def may_have_effect(method: str) -> bool:
    """True when a failed call of this method may still have changed something on Calendly."""
    return method.upper() not in SAFE_METHODS


def describe_route(request: httpx.Request) -> str:
    """`METHOD /path`, without scheme, host or query (the query may carry personal data)."""
    return f"{request.method} {request.url.path}"


def _body_excerpt(text: str) -> str:
    collapsed = " ".join(text.split())
    if len(collapsed) > MAX_BODY_EXCERPT_CHARS:
        return collapsed[:MAX_BODY_EXCERPT_CHARS] + "…"
    return collapsed


def _details_from(raw: object) -> list[ErrorDetail]:
    if not isinstance(raw, list):
        return []
    details: list[ErrorDetail] = []
    for item in raw:
        if not isinstance(item, dict):
            continue
        message, parameter, code = item.get("message"), item.get("parameter"), item.get("code")
        details.append(
            ErrorDetail(
                message=str(message) if message is not None else "",
                parameter=str(parameter) if parameter is not None else None,
                code=str(code) if code is not None else None,
            )
        )
    return details


def parse_error_info(response: httpx.Response) -> CalendlyErrorInfo:
    """Calendly's error body (`title`, `message`, `details[]`, extras such as `required_scopes`).

    A body that is not a JSON object still yields a message: the reason phrase and an excerpt.
    """
    try:
        body: Any = json.loads(response.content) if response.content else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if not isinstance(body, dict):
        excerpt = _body_excerpt(response.text) if response.content else ""
        return CalendlyErrorInfo(
            status=response.status_code,
            title=response.reason_phrase or None,
            message=excerpt or None,
        )
    title, message = body.get("title"), body.get("message")
    extra = {k: v for k, v in body.items() if k not in {"title", "message", "details"}}
    return CalendlyErrorInfo(
        status=response.status_code,
        title=str(title) if title is not None else None,
        message=str(message) if message is not None else None,
        details=_details_from(body.get("details")),
        extra=extra,
    )


def _describe_info(route: str, info: CalendlyErrorInfo) -> str:
    parts = [f"{route}: {info.status}"]
    if info.title:
        parts.append(f" {info.title}")
    if info.message:
        parts.append(f": {info.message}")
    if info.details:
        rendered = "; ".join(
            (f"{d.parameter}: " if d.parameter else "")
            + d.message
            + (f" [{d.code}]" if d.code else "")
            for d in info.details
        )
        parts.append(f" ({rendered})")
    return "".join(parts)


def classify_response(response: httpx.Response) -> CalendlyError:
    """The error for a response that is not a success (any status outside 2xx)."""
    request = response.request
    route = describe_route(request)
    info = parse_error_info(response)
    message = _describe_info(route, info)
    status = response.status_code
    if status == httpx.codes.UNAUTHORIZED:
        return Unauthorized(message, info)
    if status == httpx.codes.TOO_MANY_REQUESTS:
        return RateLimited(message, info, retry_after=retry_after_seconds(response.headers))
    if status == httpx.codes.BAD_REQUEST and any(d.code == SLOT_TAKEN_CODE for d in info.details):
        return SlotTaken(message, info)
    if status >= 500 or status == httpx.codes.REQUEST_TIMEOUT:
        if may_have_effect(request.method):
            return OutcomeUnknown(f"{message} (the request may have taken effect)", info)
        return ReadFailed(message, info)
    if 400 <= status < 500:
        return RequestRejected(message, info)
    # 1xx and 3xx: Calendly never answers so; a POST that got one may still have been processed.
    if may_have_effect(request.method):
        return OutcomeUnknown(
            f"{message} (unexpected status; the request may have taken effect)", info
        )
    return UnexpectedResponse(f"{message} (unexpected status)", info)


def classify_unreadable_success(response: httpx.Response, problem: str) -> CalendlyError:
    """The error for a 2xx whose body does not hold the expected resource."""
    route = describe_route(response.request)
    info = CalendlyErrorInfo(status=response.status_code, message=problem)
    message = f"{route}: {response.status_code} but {problem}"
    if may_have_effect(response.request.method):
        return OutcomeUnknown(f"{message} (it took effect; reconcile to learn the result)", info)
    return UnexpectedResponse(message, info)


def classify_transport_error(request: httpx.Request, exc: httpx.RequestError) -> CalendlyError:
    """The error for a call that got no response at all."""
    route = describe_route(request)
    cause = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, _NOT_SENT_ERRORS):
        return RequestNotSent(f"{route}: not sent ({cause})")
    if isinstance(exc, httpx.UnsupportedProtocol):
        return CalendlyError(f"{route}: the Calendly URL is not usable ({cause})")
    if may_have_effect(request.method):
        return OutcomeUnknown(f"{route}: no response ({cause}); the request may have taken effect")
    return ReadFailed(f"{route}: no response ({cause})")
