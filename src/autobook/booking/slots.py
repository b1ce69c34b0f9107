"""Pure slot search: which availability windows to poll, and which offered slot to book.

Responsibility: turn a request's constraints (days, hours, notice, earliest/latest, preference) into
the polling windows for `GET /event_type_available_times`, and pick the slot to book among the ones
Calendly offers. No I/O: dataclasses in, dataclasses out, and the clock (`now`) is passed in.

Invariants:
- Every instant handled here is an aware datetime; instants come back in UTC. A naive datetime is a
  bug in the caller and raises ValueError.
- Dates and hours are wall-clock values in `Constraints.timezone`. An hour range on a local date
  is turned into a real interval of instants (`hour_range_bounds`), and a meeting is compared with
  it in real elapsed time, so a DST change inside the range shortens or lengthens it.
- Wall-clock rule: a wall time W on local date D means the first instant at which the local clock
  on D reads W or later (`wall_clock_to_utc`). So an ambiguous W (in a fall-back fold) is its first
  occurrence (`fold=0`); a nonexistent W (in a spring-forward gap) is the instant of the jump, when
  the clock first reads past W. A range therefore opens the first time the clock reaches its start
  and closes the first time it reaches its end.
- Search windows are half-open `[start, end)`, contiguous, at most `max_window_days` long, never
  start before `now`, and together cover exactly the range in which a matching slot can start.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

Weekday = int  # 0 = Monday ... 6 = Sunday, as `date.weekday()`
Preference = Literal["earliest", "latest"]

WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL_WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PREFERENCES: tuple[Preference, ...] = ("earliest", "latest")

DEFAULT_MAX_WINDOW_DAYS = 7  # Calendly's legacy limit; every plan accepts it
MAX_WINDOW_DAYS_LIMIT = 31  # Calendly's current limit (release note 2026-07-09)
DEFAULT_LEAD_SECONDS = 120
# Calendly rejects a window that starts in the past; this margin covers the time between computing
# a window and Calendly receiving the request, whatever lead the caller passes.
MINIMUM_LEAD_SECONDS = 30
DEFAULT_HORIZON_DAYS = 90

MIDNIGHT = time(0)
_HOUR_RANGE_PATTERN = re.compile(r"^\s*([0-9]{1,2}):([0-9]{2})\s*-\s*([0-9]{1,2}):([0-9]{2})\s*$")


@dataclass(frozen=True)
class HourRange:
    """Local wall-clock hours `[start, end)` on one day, e.g. 13:00-17:00.

    `end == time(0)` means midnight at the end of the day ("24:00"), so `00:00-24:00` is the whole
    day. Otherwise `start < end`: a range never crosses midnight (give two ranges for that).
    """

    start: time
    end: time

    def __post_init__(self) -> None:
        if self.start.tzinfo is not None or self.end.tzinfo is not None:
            raise ValueError("hour range times are local wall-clock times and take no tzinfo")
        if not self.ends_at_midnight and self.start >= self.end:
            raise ValueError(f"hour range {self}: start must be before end")

    @property
    def ends_at_midnight(self) -> bool:
        return self.end == MIDNIGHT

    def __str__(self) -> str:
        end = "24:00" if self.ends_at_midnight else self.end.strftime("%H:%M")
        return f"{self.start.strftime('%H:%M')}-{end}"


def parse_hour_range(text: str) -> HourRange:
    """Parse "HH:MM-HH:MM", e.g. "13:00-17:00". An end of "24:00" (or "00:00") means midnight."""
    match = _HOUR_RANGE_PATTERN.match(text)
    if match is None:
        raise ValueError(f"hour range {text!r} must look like 'HH:MM-HH:MM', e.g. '13:00-17:00'")
    start_hour, start_minute, end_hour, end_minute = (int(group) for group in match.groups())
    if start_hour > 23 or start_minute > 59 or end_minute > 59 or end_hour > 24:
        raise ValueError(f"hour range {text!r} has a time out of range (00:00 to 24:00)")
    if end_hour == 24 and end_minute != 0:
        raise ValueError(f"hour range {text!r}: 24:00 is the latest end")
    end = MIDNIGHT if end_hour == 24 else time(end_hour, end_minute)
    start = time(start_hour, start_minute)
    if end != MIDNIGHT and start >= end:
        raise ValueError(
            f"hour range {text!r}: start must be before end "
            "(a range cannot cross midnight; split it in two)"
        )
    return HourRange(start, end)


def parse_weekday(text: str) -> Weekday:
    """Parse a day name ("wed", "Wednesday"; any case) into a Weekday (0 = Monday)."""
    name = text.strip().lower()
    for number, names in enumerate(zip(WEEKDAY_NAMES, _FULL_WEEKDAY_NAMES, strict=True)):
        if name in names:
            return number
    raise ValueError(f"unknown day {text!r}: use one of {', '.join(WEEKDAY_NAMES)}")


@dataclass(frozen=True)
class Constraints:
    """What a request accepts. Dates, days and hours are local to `timezone`.

    `earliest` and `latest` are inclusive local dates; `days=None` allows every day (an empty set
    allows none); `hours=()` allows any time of day, and then only the start's day is checked.
    """

    timezone: ZoneInfo
    earliest: date | None = None
    latest: date | None = None
    days: frozenset[Weekday] | None = None
    hours: tuple[HourRange, ...] = ()
    min_notice: timedelta = timedelta(0)
    prefer: Preference = "earliest"

    def __post_init__(self) -> None:
        if self.days is not None and not self.days <= frozenset(range(7)):
            raise ValueError(f"days must be weekdays 0 (Monday) to 6, not {sorted(self.days)}")
        if self.min_notice < timedelta(0):
            raise ValueError("min_notice cannot be negative")
        if self.prefer not in PREFERENCES:
            raise ValueError(f"prefer must be one of {PREFERENCES}, not {self.prefer!r}")


@dataclass(frozen=True)
class SearchWindow:
    """A polling window `[start, end)` in UTC for `GET /event_type_available_times`."""

    start: datetime
    end: datetime


@dataclass(frozen=True)
class Slot:
    """An offered start time (UTC, as Calendly lists it) and the seats left at it."""

    start: datetime
    invitees_remaining: int = 1


def wall_clock_to_utc(day: date, wall: time, tz: ZoneInfo) -> datetime:
    """The first instant (UTC) at which the clock in `tz` on local `day` reads `wall` or later.

    Unique wall times map to their instant; ambiguous ones (fall-back fold) to their first
    occurrence (`fold=0`); nonexistent ones (spring-forward gap) to the instant of the jump.
    """
    return _wall_clock_to_utc(datetime.combine(day, wall), tz)


@lru_cache(maxsize=4096)
def _wall_clock_to_utc(wall: datetime, tz: ZoneInfo) -> datetime:
    first_offset = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    second_offset = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if first_offset <= second_offset:
        # Equal for a unique wall time; for an ambiguous one fold=0 is the earlier occurrence.
        return first_offset
    # Nonexistent: fold=1 reads the wall time with the post-jump offset, which lands before the
    # jump, and fold=0 with the pre-jump offset, which lands after it. The jump lies between.
    return _offset_change_between(second_offset, first_offset, tz)


def _offset_change_between(before: datetime, after: datetime, tz: ZoneInfo) -> datetime:
    """The instant the UTC offset of `tz` changes, given one change in `(before, after]`."""
    # tzdata transitions fall on whole seconds, so bisecting whole POSIX seconds is exact.
    offset_before = before.astimezone(tz).utcoffset()
    low, high = math.floor(before.timestamp()), math.ceil(after.timestamp())
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, tz).utcoffset() == offset_before:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def hour_range_bounds(day: date, hours: HourRange, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The real interval `[open, close)` (UTC) that `hours` covers on local `day` in `tz`."""
    end_day = day + timedelta(days=1) if hours.ends_at_midnight else day
    return wall_clock_to_utc(day, hours.start, tz), wall_clock_to_utc(end_day, hours.end, tz)


def slot_matches(
    slot_start: datetime, duration: timedelta, constraints: Constraints, now: datetime
) -> bool:
    """Whether a meeting of `duration` starting at `slot_start` meets every constraint.

    It must start at least `min_notice` after `now`, on a local date within `[earliest, latest]`
    and on an allowed weekday, and lie wholly inside one hour range of that same local date.
    """
    _require_aware(now, "now")
    _require_aware(slot_start, "slot start")
    if duration <= timedelta(0):
        raise ValueError("a meeting's duration must be positive")
    if slot_start < now + constraints.min_notice:
        return False
    day = slot_start.astimezone(constraints.timezone).date()
    if constraints.earliest is not None and day < constraints.earliest:
        return False
    if constraints.latest is not None and day > constraints.latest:
        return False
    if constraints.days is not None and day.weekday() not in constraints.days:
        return False
    if not constraints.hours:
        return True
    slot_end = slot_start + duration
    for hours in constraints.hours:
        opens, closes = hour_range_bounds(day, hours, constraints.timezone)
        if opens <= slot_start and slot_end <= closes:
            return True
    return False


def choose_slot(
    slots: Iterable[Slot],
    duration: timedelta,
    constraints: Constraints,
    now: datetime,
    *,
    exclude: Collection[datetime] = (),
) -> Slot | None:
    """The matching slot to book by `constraints.prefer`, or None when no slot matches.

    Slots without seats left and starts in `exclude` (e.g. already refused as `already_filled`)
    are never chosen. The input need not be sorted; on equal starts the first one given wins.
    """
    ranked = matching_slots(slots, duration, constraints, now, exclude=exclude)
    return ranked[0] if ranked else None


def matching_slots(
    slots: Iterable[Slot],
    duration: timedelta,
    constraints: Constraints,
    now: datetime,
    *,
    exclude: Collection[datetime] = (),
) -> list[Slot]:
    """Every matching slot, best first by `constraints.prefer`; one per start (the first given).

    Slots without seats left and starts in `exclude` are left out.
    """
    excluded = frozenset(exclude)
    by_start: dict[datetime, Slot] = {}
    for slot in slots:
        if slot.invitees_remaining < 1 or slot.start in excluded or slot.start in by_start:
            continue
        if slot_matches(slot.start, duration, constraints, now):
            by_start[slot.start] = slot
    return sorted(by_start.values(), key=lambda s: s.start, reverse=constraints.prefer == "latest")


def search_windows(
    constraints: Constraints,
    now: datetime,
    *,
    max_window_days: int = DEFAULT_MAX_WINDOW_DAYS,
    lead: timedelta = timedelta(seconds=DEFAULT_LEAD_SECONDS),
    horizon: timedelta | None = timedelta(days=DEFAULT_HORIZON_DAYS),
    grid_origin: datetime | None = None,
) -> list[SearchWindow]:
    """The windows to poll, in order, covering every instant a matching slot may start.

    The range runs from the latest of the start of local `earliest`, `now + lead` (at least
    `MINIMUM_LEAD_SECONDS`) and `now + min_notice`, to the end of local `latest`, or to
    `start + horizon` when there is no `latest`. It is cut into the fewest windows of at most
    `max_window_days` (1 to 31), all full-length but the last. An empty range gives `[]`.

    With `grid_origin`, the range is cut at `grid_origin + k * max_window_days` instead, so that
    every window lies in one cell of a grid that all requests share (`grid_cell`): their polls
    of a cell are the same call, whatever their own range.
    """
    _require_aware(now, "now")
    if not 1 <= max_window_days <= MAX_WINDOW_DAYS_LIMIT:
        raise ValueError(f"max_window_days must be 1 to {MAX_WINDOW_DAYS_LIMIT}")
    start, end = search_range(constraints, now, lead=lead, horizon=horizon)
    step = timedelta(days=max_window_days)
    windows: list[SearchWindow] = []
    while start < end:
        cut = start + step
        if grid_origin is not None:
            cut = grid_cell(start, grid_origin, max_window_days).end
        windows.append(SearchWindow(start, min(cut, end)))
        start = windows[-1].end
    return windows


def grid_cell(instant: datetime, origin: datetime, cell_days: int) -> SearchWindow:
    """The cell `[origin + k * cell_days, origin + (k + 1) * cell_days)` holding `instant`."""
    _require_aware(instant, "instant")
    step = timedelta(days=cell_days)
    index = (instant - origin) // step
    return SearchWindow(origin + index * step, origin + (index + 1) * step)


def search_range(
    constraints: Constraints,
    now: datetime,
    *,
    lead: timedelta = timedelta(seconds=DEFAULT_LEAD_SECONDS),
    horizon: timedelta | None = timedelta(days=DEFAULT_HORIZON_DAYS),
) -> tuple[datetime, datetime]:
    """The UTC range `[start, end)` that `search_windows` covers; empty when `start >= end`."""
    _require_aware(now, "now")
    now = now.astimezone(UTC)
    tz = constraints.timezone
    margin = max(lead, timedelta(seconds=MINIMUM_LEAD_SECONDS), constraints.min_notice)
    start = now + margin
    if constraints.earliest is not None:
        start = max(start, wall_clock_to_utc(constraints.earliest, MIDNIGHT, tz))
    if constraints.latest is not None:
        end = wall_clock_to_utc(constraints.latest + timedelta(days=1), MIDNIGHT, tz)
    elif horizon is not None:
        # The horizon counts from where the search starts: a request for days two months
        # ahead is searched over those days, not cut off at `now + horizon`.
        end = start + horizon
    else:
        raise ValueError("without a latest date, the search needs a horizon")
    return start, end


def _require_aware(moment: datetime, name: str) -> None:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime, not naive {moment.isoformat()}")
