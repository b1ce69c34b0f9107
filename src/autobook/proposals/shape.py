"""The shape of a proposal request, validated by the booking request's own schema.

A proposal request is a booking request without its `request_id`, with `invitee` optional and
two keys of its own: `timezone` (required: the IANA zone the times are shown in) and `count`
(how many times to offer, 1 to `MAX_COUNT`, default `DEFAULT_COUNT`). The rest (`event_type`,
`window`, `prefer`, and `invitee` if given) is checked by `parse_request`, so every door words
a bad field the same way. Without an invitee, the window's dates are days in `timezone`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from autobook.errors import FieldProblem, InvalidRequest
from autobook.request_checks import check_timezone
from autobook.requests import BookingRequest, parse_request

DEFAULT_COUNT = 3
MAX_COUNT = 10
# Keys a proposal request takes; anything else is refused, as in a booking request.
KEYS = frozenset({"event_type", "timezone", "invitee", "window", "prefer", "count"})
# The booking schema needs an invitee and an id; a proposal has neither until a person chooses.
PLACEHOLDER_ID = "proposal"
PLACEHOLDER_EMAIL = "proposal@example.com"
PLACEHOLDER_NAME = "proposal"
PLACEHOLDER_NAME = "proposal"


@dataclass(frozen=True)
class ProposalRequest:
    request: BookingRequest  # event type, window and preference, as a booking would have them
    timezone: str  # where the offered times are shown
    count: int


def _count(raw: dict[str, Any], problems: list[FieldProblem]) -> int:
    value = raw.get("count", DEFAULT_COUNT)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_COUNT:
        problems.append(FieldProblem("count", f"must be a whole number from 1 to {MAX_COUNT}"))
        return DEFAULT_COUNT
    return value


def _timezone(raw: dict[str, Any], problems: list[FieldProblem]) -> str:
    value = raw.get("timezone")
    if not isinstance(value, str):
        problems.append(
            FieldProblem(
                "timezone",
                "is required: the IANA timezone the times are shown in, e.g. America/New_York",
            )
        )
        return "UTC"
    try:
        return check_timezone(value)
    except ValueError as exc:
        problems.append(FieldProblem("timezone", str(exc)))
        return "UTC"


def parse_proposal_request(raw: object) -> ProposalRequest:
    """Validate a proposal request; raise InvalidRequest naming every bad field."""
    if not isinstance(raw, dict):
        raise InvalidRequest(
            [FieldProblem("request", "must be a JSON object with event_type and timezone")]
        )
    problems = [
        FieldProblem(str(key)[:60], "is not a field of a proposal request")
        for key in raw
        if key not in KEYS
    ]
    count = _count(raw, problems)
    timezone = _timezone(raw, problems)
    booking: dict[str, Any] = {
        "request_id": PLACEHOLDER_ID,
        "invitee": raw.get("invitee")
        or {
            "name": PLACEHOLDER_NAME,
            "email": PLACEHOLDER_EMAIL,
            "timezone": timezone,
        },
        **{key: raw[key] for key in ("event_type", "window", "prefer") if key in raw},
    }
    if "event_type" not in raw:
        problems.append(FieldProblem("event_type", "is required: an event type URI or selector"))
    request: BookingRequest | None = None
    try:
        request = parse_request(booking)
    except InvalidRequest as exc:
        problems.extend(p for p in exc.problems if p.field != "event_type" or "event_type" in raw)
    if problems or request is None:
        raise InvalidRequest(problems)
    return ProposalRequest(request, timezone, count)
