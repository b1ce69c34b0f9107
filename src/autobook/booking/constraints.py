"""Turn a request's `window` and `prefer` into the pure `slots.Constraints`."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from autobook.booking.slots import Constraints, HourRange, parse_hour_range, parse_weekday
from autobook.requests import BookingRequest


def constraints_for(request: BookingRequest) -> Constraints:
    window = request.window
    zone_name = (window.timezone if window and window.timezone else None) or (
        request.invitee.timezone
    )
    days = None
    hours: tuple[HourRange, ...] = ()
    if window is not None:
        if window.days:
            days = frozenset(parse_weekday(day) for day in window.days)
        if window.hours:
            hours = tuple(parse_hour_range(text) for text in window.hours)
    return Constraints(
        timezone=ZoneInfo(zone_name),
        earliest=window.earliest if window else None,
        latest=window.latest if window else None,
        days=days,
        hours=hours,
        min_notice=timedelta(minutes=(window.min_notice_minutes or 0) if window else 0),
        prefer=request.prefer,
    )
