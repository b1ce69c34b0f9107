"""Bounds in time: a request's instants and dates must lie within `HORIZON_DAYS` of now.

`autobook.requests` is pure and reads no clock, so this check runs at intake, where the clock
is known. A date in year 9999 or an instant at the edge of what `datetime` can hold passed the
schema, then overflowed in the worker (`date + 1 day`), which failed the request after a
traceback; two years either way covers every real booking and follow-up.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from autobook.errors import FieldProblem
from autobook.requests import BookingRequest

HORIZON_DAYS = 2 * 366


def _instant_problem(moment: datetime | None, now: datetime) -> str | None:
    if moment is None:
        return None
    low, high = now - timedelta(days=HORIZON_DAYS), now + timedelta(days=HORIZON_DAYS)
    if low <= moment <= high:
        return None
    return (
        "is more than two years from now: give an instant between "
        f"{low:%Y-%m-%dT%H:%MZ} and {high:%Y-%m-%dT%H:%MZ}"
    )


def _day_problem(day: date | None, now: datetime) -> str | None:
    if day is None:
        return None
    low = (now - timedelta(days=HORIZON_DAYS)).date()
    high = (now + timedelta(days=HORIZON_DAYS)).date()
    if low <= day <= high:
        return None
    return f"is more than two years from now: give a day between {low} and {high}"


def horizon_problems(request: BookingRequest, now: datetime) -> list[FieldProblem]:
    """A problem for each instant or window date of `request` beyond the horizon."""
    window = request.window
    checks = [
        ("start_after", _instant_problem(request.start_after, now)),
        ("keep_trying_until", _instant_problem(request.keep_trying_until, now)),
        ("window.earliest", _day_problem(window.earliest if window else None, now)),
        ("window.latest", _day_problem(window.latest if window else None, now)),
    ]
    return [FieldProblem(path, text) for path, text in checks if text is not None]
