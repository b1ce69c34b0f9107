"""The JSON answer for each recorded item, and its HTTP status (DESIGN §6).

| what happened                               | status | body                               |
|---------------------------------------------|--------|------------------------------------|
| recorded now, valid                         | 202    | request_id, status, status_url     |
| recorded (now or before), invalid           | 422    | title, detail, problems, and above |
| known, same body                            | 200    | the request, as `status --json`    |
| known, another body; another source's id    | 409    | title, detail, request_id          |

Another source's `request_id` is answered 409 without a word of what it holds.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from autobook import views
from autobook.intake import SubmitResult
from autobook.models import BookingRequestRow, RequestStatus

OTHER_SOURCE = (
    "request_id {} is taken by a request this source did not send: send it under another id"
)


def status_url(base_url: str, request_id: str) -> str:
    return f"{base_url.rstrip('/')}/v1/bookings/{quote(request_id, safe='')}"


def _problems(result: SubmitResult, mapping_problems: list[str]) -> list[dict[str, str]]:
    problems = [{"field": p.field, "problem": p.problem} for p in result.problems]
    for text in mapping_problems:
        field, _, problem = text.partition(": ")
        problems.append({"field": field, "problem": problem or text})
    return problems


def answer(
    result: SubmitResult,
    *,
    source_id: int,
    base_url: str,
    mapping_problems: list[str] | None = None,
) -> tuple[int, dict[str, Any]]:
    """The status and body for one recorded item (the 200's full record is added by the caller)."""
    summary = {
        "request_id": result.request_id,
        "status": result.status,
        "status_url": status_url(base_url, result.request_id),
    }
    if result.source_id != source_id:
        detail = OTHER_SOURCE.format(result.request_id)
        return 409, {"title": "Conflict", "detail": detail, "request_id": result.request_id}
    if result.conflict:
        return 409, {"title": "Conflict", "detail": result.conflict, **summary}
    if result.status == RequestStatus.INVALID:
        body = {
            "title": "Unprocessable Content",
            "detail": result.reason or "the request is invalid",
            "problems": _problems(result, mapping_problems or []),
            **summary,
        }
        return 422, body
    return (202 if result.created else 200), summary


def record_json(row: BookingRequestRow, base_url: str) -> dict[str, Any]:
    """What `GET /v1/bookings/{id}` (and a 200) shows: `status --json`'s keys and status_url."""
    return {**views.as_json(row), "status_url": status_url(base_url, row.request_id)}
