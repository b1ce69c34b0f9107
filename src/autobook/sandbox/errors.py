"""Calendly's error bodies, byte for byte where API-NOTES §3 knows them.

Handlers raise :class:`ApiError`; the app turns it into a JSON response. Every body
has ``title`` and ``message``, and ``details`` only when Calendly is known (or, for
an unknown case, chosen) to send it: a bare ``400`` stays bare, as the live API's does.
Detail messages follow the dry-validation wording that Calendly's own strings use
(``is missing``, ``must be a string``). The 429 body is the sandbox's own choice:
Calendly documents the headers only.
"""

from __future__ import annotations

from typing import Any

INVALID_ARGUMENT = "Invalid Argument"
INVALID_MESSAGE = "The supplied parameters are invalid."
PERMISSION_DENIED = "Permission Denied"
NO_PERMISSION_MESSAGE = "You do not have permission to access this resource."
NOT_IN_ORGANIZATION_MESSAGE = "This user is not in your organization"
SPECIFY_ORGANIZATION_MESSAGE = (
    "Please also specify organization when requesting events for a user within your organization."
)
FREE_PLAN_MESSAGE = "The Scheduling API is only available on paid Calendly plans. Upgrade your plan to access this feature."  # noqa: E501
ALREADY_CANCELED_MESSAGE = "Event is already canceled"
EVENT_IN_PAST_MESSAGE = "Event in the past"
LOCATION_NOT_CONFIGURED_MESSAGE = "Specified location kind is not configured for this event type."

UNAUTHENTICATED_BODY = {"title": "Unauthenticated", "message": "The access token is invalid"}
NOT_FOUND_BODY = {
    "title": "Resource Not Found",
    "message": "The server could not find the requested resource.",
}
INTERNAL_ERROR_BODY = {
    "title": "Internal Server Error",
    "message": (
        "The server encountered an unexpected condition"
        " that prevented it from fulfilling the request."
    ),
}
TOO_MANY_REQUESTS_BODY = {
    "title": "Too Many Requests",
    "message": (
        "You have exceeded the rate limit."
        " Try again after the number of seconds in X-RateLimit-Reset."
    ),
}

Detail = dict[str, str]


class ApiError(Exception):
    """An error response: status plus a Calendly-shaped body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body.get('title')}")
        self.status = status
        self.body = body


def detail(parameter: str, message: str, code: str | None = None) -> Detail:
    item = {"parameter": parameter, "message": message}
    if code is not None:
        item["code"] = code
    return item


def invalid(details: list[Detail] | None = None, message: str = INVALID_MESSAGE) -> ApiError:
    """400 Invalid Argument; no ``details`` key at all when there are none."""
    body: dict[str, Any] = {"title": INVALID_ARGUMENT, "message": message}
    if details:
        body["details"] = details
    return ApiError(400, body)


def already_filled() -> ApiError:
    return invalid(
        [detail("event.start_time", "That start time has been filled", "already_filled")]
    )


def invalid_location_choice() -> ApiError:
    return invalid(
        [
            detail(
                "event.location_configuration.location",
                "invalid location choice",
                "invalid_location_choice",
            )
        ],
        message=LOCATION_NOT_CONFIGURED_MESSAGE,
    )


def permission_denied(message: str = NO_PERMISSION_MESSAGE) -> ApiError:
    return ApiError(403, {"title": PERMISSION_DENIED, "message": message})


def not_found() -> ApiError:
    return ApiError(404, dict(NOT_FOUND_BODY))


def unauthenticated() -> ApiError:
    return ApiError(401, dict(UNAUTHENTICATED_BODY))
