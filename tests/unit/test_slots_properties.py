"""Property tests of booking/slots.py across DST transitions in several zones.

Every check compares the module with an independent oracle written here: it never calls
`slot_matches` or `wall_clock_to_utc` to decide what is right. The oracle reads the local wall
clock on a grid of real instants (UTC quarter hours) and takes "wall time W on local day D" to mean
the first grid instant whose wall clock reads W or later, which is the rule the module documents.
A quarter-hour grid is exact for these zones: every UTC offset and every transition instant of the
years covered is a whole quarter hour, which `_transitions` checks at import.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from itertools import cycle, pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from autobook.booking.slots import (
    MAX_WINDOW_DAYS_LIMIT,
    MINIMUM_LEAD_SECONDS,
    Constraints,
    HourRange,
    Slot,
    choose_slot,
    grid_cell,
    hour_range_bounds,
    search_windows,
    slot_matches,
    wall_clock_to_utc,
)

ZONES = (
    "America/New_York",
    "Europe/London",
    "Australia/Sydney",
    "Asia/Kolkata",
    "Pacific/Chatham",  # +12:45 / +13:45
    "Australia/Lord_Howe",  # 30-minute DST shift
    "America/Havana",  # springs forward at midnight: some days start at 01:00
    "America/Santiago",  # falls back at midnight: 23:00-24:00 happens twice
    "America/Nuuk",  # springs forward at 23:00 into the next day
    "Europe/Dublin",  # "negative DST" in tzdata
    "Africa/Casablanca",  # offset drops during Ramadan
    "UTC",
)
FIRST_DAY, LAST_DAY = date(2026, 1, 1), date(2027, 12, 31)
QUARTER = timedelta(minutes=15)
MINUTES_PER_DAY = 24 * 60
QUARTERS_PER_DAY = 24 * 4
# Generous bounds on any UTC offset, for the oracle's scan around a local day.
SCAN_MARGIN = timedelta(hours=15)
MAX_GRID_SLOTS = 300


@dataclass(frozen=True)
class Transition:
    """A change of UTC offset: when, on which local day, and the wall clock either side of it."""

    instant: datetime
    day: date
    wall_quarters: tuple[int, int]  # quarter hour of the local day just before and just after


def _transitions(zone: ZoneInfo) -> tuple[Transition, ...]:
    """The zone's offset changes in the years covered, each checked to be quarter-hour aligned."""
    found = []
    moment = datetime.combine(FIRST_DAY - timedelta(days=10), time(), tzinfo=UTC)
    while moment.date() <= LAST_DAY + timedelta(days=10):
        offset = moment.astimezone(zone).utcoffset()
        assert offset is not None
        assert offset % QUARTER == timedelta(0), zone.key
        next_day = moment + timedelta(days=1)
        if next_day.astimezone(zone).utcoffset() != offset:
            instant = moment
            while instant.astimezone(zone).utcoffset() == offset:
                instant += timedelta(minutes=1)
            assert instant.minute % 15 == 0, f"{zone.key} changes offset off the grid at {instant}"
            before = (instant - QUARTER).astimezone(zone) + QUARTER
            after = instant.astimezone(zone)
            found.append(
                Transition(instant, after.date(), (_quarter_of_day(before), _quarter_of_day(after)))
            )
        moment = next_day
    return tuple(found)


def _quarter_of_day(moment: datetime) -> int:
    return (moment.hour * 60 + moment.minute) // 15


TRANSITIONS: dict[str, tuple[Transition, ...]] = {key: _transitions(ZoneInfo(key)) for key in ZONES}


# --- the oracle ------------------------------------------------------------------------------


@lru_cache(maxsize=1024)
def _wall_clock_around(zone_key: str, day: date) -> tuple[list[datetime], list[datetime]]:
    """Grid instants around local `day` and the highest wall-clock reading seen up to each."""
    zone = ZoneInfo(zone_key)
    instant = datetime.combine(day, time(), tzinfo=UTC) - SCAN_MARGIN
    stop = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC) + SCAN_MARGIN
    instants: list[datetime] = []
    high_water: list[datetime] = []
    while instant <= stop:
        wall = instant.astimezone(zone).replace(tzinfo=None)
        instants.append(instant)
        high_water.append(max(wall, high_water[-1]) if high_water else wall)
        instant += QUARTER
    return instants, high_water


def oracle_first_instant(zone: ZoneInfo, day: date, minute_of_day: int) -> datetime:
    """The first instant at which the clock reads `minute_of_day` (0..1440) of `day` or later."""
    target = datetime.combine(day, time()) + timedelta(minutes=minute_of_day)
    instants, high_water = _wall_clock_around(zone.key, target.date())
    index = bisect.bisect_left(high_water, target)
    assert 0 < index < len(instants), "the oracle's scan must surround the target"
    return instants[index]


def minute_of_day(wall: time, is_end: bool) -> int:
    minutes = wall.hour * 60 + wall.minute
    return MINUTES_PER_DAY if is_end and minutes == 0 else minutes


def oracle_matches(start: datetime, duration: timedelta, c: Constraints, now: datetime) -> bool:
    if start < now + c.min_notice:
        return False
    day = start.astimezone(c.timezone).date()
    if (c.earliest is not None and day < c.earliest) or (c.latest is not None and day > c.latest):
        return False
    if c.days is not None and day.weekday() not in c.days:
        return False
    if not c.hours:
        return True
    for hours in c.hours:
        opens = oracle_first_instant(c.timezone, day, minute_of_day(hours.start, is_end=False))
        closes = oracle_first_instant(c.timezone, day, minute_of_day(hours.end, is_end=True))
        if opens <= start and start + duration <= closes:
            return True
    return False


# --- strategies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scenario:
    constraints: Constraints
    now: datetime
    focus: datetime  # where offered slots cluster: a DST transition, or some day's midnight


@st.composite
def hour_ranges(draw: st.DrawFn, hot_quarters: tuple[int, ...]) -> HourRange:
    """Quarter-hour ranges, their ends often near the wall-clock times of a DST transition."""

    def boundary() -> int:
        if hot_quarters and draw(st.integers(0, 3)) > 0:
            near = draw(st.sampled_from(hot_quarters)) + draw(st.integers(-4, 4))
            return min(max(near, 0), QUARTERS_PER_DAY)
        return draw(st.integers(0, QUARTERS_PER_DAY))

    first, second = sorted((boundary(), boundary()))
    if first == second:
        first, second = (first, first + 1) if first < QUARTERS_PER_DAY else (first - 1, first)
    return HourRange(_quarter_time(first), _quarter_time(second % QUARTERS_PER_DAY))


def _quarter_time(quarter: int) -> time:
    return time(quarter // 4, quarter % 4 * 15)


@st.composite
def scenarios(draw: st.DrawFn, latest_span_days: int = 5) -> Scenario:
    """Random constraints, mostly around one of the zone's DST transitions."""
    key = draw(st.sampled_from(ZONES))
    transitions = TRANSITIONS[key]
    if transitions and draw(st.integers(0, 4)) > 0:
        transition = draw(st.sampled_from(transitions))
        day, focus = transition.day, transition.instant
        hot_quarters: tuple[int, ...] = transition.wall_quarters
        day += timedelta(days=draw(st.sampled_from([0, 0, 0, -1, 1])))
    else:
        day = draw(st.dates(FIRST_DAY, LAST_DAY))
        focus = datetime.combine(day, time(), tzinfo=UTC)
        hot_quarters = ()
    now = (
        focus
        - timedelta(minutes=draw(st.integers(-6 * 60, 3 * MINUTES_PER_DAY)))
        + timedelta(seconds=draw(st.integers(0, 59)), microseconds=draw(st.integers(0, 999_999)))
    )
    earliest = draw(st.none() | st.integers(-2, 1).map(lambda n: day + timedelta(days=n)))
    latest_from = earliest or day
    if draw(st.integers(0, 9)) == 0:  # now and then, an empty range
        latest: date | None = latest_from - timedelta(days=1)
    else:
        latest = draw(
            st.none()
            | st.integers(0, latest_span_days).map(lambda n: latest_from + timedelta(days=n))
        )
    if draw(st.integers(0, 4)) == 0:
        hours: tuple[HourRange, ...] = ()  # any time of day
    else:
        hours = tuple(draw(st.lists(hour_ranges(hot_quarters), min_size=1, max_size=3)))
    constraints = Constraints(
        timezone=ZoneInfo(key),
        earliest=earliest,
        latest=latest,
        days=draw(st.none() | st.frozensets(st.integers(0, 6), min_size=2)),
        hours=hours,
        min_notice=timedelta(minutes=15 * draw(st.just(0) | st.integers(0, 4 * 48))),
        prefer=draw(st.sampled_from(["earliest", "latest"])),
    )
    return Scenario(constraints, now, focus)


@st.composite
def slot_grids(draw: st.DrawFn, focus: datetime) -> list[Slot]:
    """Offered slots on a regular UTC grid around `focus`, with a repeating pattern of seats."""
    base = focus + QUARTER * draw(st.integers(-4 * 12, 4))
    step = timedelta(minutes=draw(st.sampled_from([15, 30, 60, 5])))
    # Some slot has seats left; some may have none.
    seats = cycle([*draw(st.lists(st.integers(0, 3), max_size=5)), draw(st.integers(1, 3))])
    span = timedelta(hours=draw(st.integers(1, 48)))
    count = min(MAX_GRID_SLOTS, span // step)
    return [Slot(base + step * index, next(seats)) for index in range(count)]


durations = st.sampled_from([15, 30, 45, 60, 90, 120, 180]).map(lambda m: timedelta(minutes=m))


# --- properties ------------------------------------------------------------------------------


@pytest.mark.parametrize("zone_key", ZONES)
def test_every_quarter_hour_around_each_transition_maps_as_the_oracle_says(zone_key: str) -> None:
    zone = ZoneInfo(zone_key)
    days = {t.day + timedelta(days=n) for t in TRANSITIONS[zone_key] for n in (-1, 0, 1)}
    for day in sorted(days or {FIRST_DAY, LAST_DAY}):
        for quarter in range(QUARTERS_PER_DAY):
            expected = oracle_first_instant(zone, day, quarter * 15)
            assert wall_clock_to_utc(day, _quarter_time(quarter), zone) == expected, (day, quarter)
        whole_day = HourRange(time(0), time(0))
        assert hour_range_bounds(day, whole_day, zone) == (
            oracle_first_instant(zone, day, 0),
            oracle_first_instant(zone, day, MINUTES_PER_DAY),
        )


@settings(deadline=None, max_examples=300)
@given(data=st.data(), duration=durations)
def test_slot_matches_agrees_with_the_wall_clock_oracle(
    data: st.DataObject, duration: timedelta
) -> None:
    scenario = data.draw(scenarios())
    constraints, now = scenario.constraints, scenario.now
    matching = 0
    for slot in data.draw(slot_grids(scenario.focus)):
        expected = oracle_matches(slot.start, duration, constraints, now)
        assert slot_matches(slot.start, duration, constraints, now) == expected, slot.start
        matching += expected
    event("some slots match" if matching else "no slot matches")


@settings(deadline=None, max_examples=300)
@given(data=st.data(), duration=durations)
def test_chosen_slot_meets_every_constraint_and_no_preferred_one_was_skipped(
    data: st.DataObject, duration: timedelta
) -> None:
    scenario = data.draw(scenarios())
    constraints, now = scenario.constraints, scenario.now
    slots = data.draw(slot_grids(scenario.focus))
    excluded_pattern = [*data.draw(st.lists(st.booleans(), max_size=4)), False]
    exclude = {slot.start for slot, out in zip(slots, cycle(excluded_pattern)) if out}

    chosen = choose_slot(slots, duration, constraints, now, exclude=exclude)

    eligible = [
        slot.start
        for slot in slots
        if slot.invitees_remaining > 0
        and slot.start not in exclude
        and oracle_matches(slot.start, duration, constraints, now)
    ]
    event("a slot was chosen" if chosen else "no slot was chosen")
    if chosen is None:
        assert eligible == []
        return
    assert chosen in slots
    assert chosen.start not in exclude
    assert chosen.invitees_remaining > 0
    assert oracle_matches(chosen.start, duration, constraints, now)
    best = min(eligible) if constraints.prefer == "earliest" else max(eligible)
    assert chosen.start == best


@settings(deadline=None, max_examples=200)
@given(
    data=st.data(),
    max_window_days=st.integers(1, MAX_WINDOW_DAYS_LIMIT),
    lead=st.integers(0, 600).map(lambda s: timedelta(seconds=s)),
    horizon=st.integers(1, 120).map(lambda d: timedelta(days=d)),
)
def test_windows_are_bounded_contiguous_future_and_cover_exactly_the_range(
    data: st.DataObject, max_window_days: int, lead: timedelta, horizon: timedelta
) -> None:
    scenario = data.draw(scenarios(latest_span_days=120))
    constraints, now = scenario.constraints, scenario.now

    windows = search_windows(
        constraints, now, max_window_days=max_window_days, lead=lead, horizon=horizon
    )

    tz = constraints.timezone
    start = now + max(lead, timedelta(seconds=MINIMUM_LEAD_SECONDS), constraints.min_notice)
    if constraints.earliest is not None:
        start = max(start, oracle_first_instant(tz, constraints.earliest, 0))
    if constraints.latest is not None:
        end = oracle_first_instant(tz, constraints.latest, MINUTES_PER_DAY)
    else:
        end = start + horizon
    if start >= end:
        assert windows == []
        return
    longest = timedelta(days=max_window_days)
    assert windows[0].start == start
    assert windows[-1].end == end
    assert len(windows) == math.ceil((end - start) / longest)
    for window in windows:
        assert window.start >= now
        assert window.start.utcoffset() == timedelta(0) == window.end.utcoffset()
        assert timedelta(0) < window.end - window.start <= longest
    for earlier, later in pairwise(windows):
        assert earlier.end == later.start


@settings(deadline=None, max_examples=100)
@given(data=st.data(), duration=durations)
def test_windows_contain_every_matching_slot_far_enough_ahead(
    data: st.DataObject, duration: timedelta
) -> None:
    scenario = data.draw(scenarios())
    constraints, now = scenario.constraints, scenario.now
    horizon = timedelta(days=data.draw(st.integers(1, 10)))
    lead = timedelta(minutes=2)
    windows = search_windows(constraints, now, lead=lead, horizon=horizon)
    for slot in data.draw(slot_grids(scenario.focus)):
        if slot.start < now + lead or slot.start >= now + horizon:
            continue
        if oracle_matches(slot.start, duration, constraints, now):
            assert any(w.start <= slot.start < w.end for w in windows), slot.start


@given(st.integers(min_value=1, max_value=31), st.integers(min_value=0, max_value=10_000))
def test_grid_windows_cover_the_same_range_each_inside_one_cell(days: int, minutes: int) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC) + timedelta(minutes=minutes)
    origin = datetime(2024, 1, 1, tzinfo=UTC)
    constraints = Constraints(timezone=ZoneInfo("UTC"))
    plain = search_windows(constraints, now, max_window_days=days)
    gridded = search_windows(constraints, now, max_window_days=days, grid_origin=origin)
    assert gridded[0].start == plain[0].start
    assert gridded[-1].end == plain[-1].end
    for before, after in pairwise(gridded):
        assert before.end == after.start
    for window in gridded:
        cell = grid_cell(window.start, origin, days)
        assert cell.start <= window.start < window.end <= cell.end
    assert len(gridded) <= len(plain) + 1
