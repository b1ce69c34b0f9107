"""Concrete cases for booking/slots.py: DST in several zones, constraints, choice, windows.

Expected instants are worked out by hand from each zone's rules (noted beside each case), so a
wrong offset or a wrong fold would show here even if the property tests shared a mistake.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from autobook.booking.slots import (
    MINIMUM_LEAD_SECONDS,
    Constraints,
    HourRange,
    Preference,
    SearchWindow,
    Slot,
    choose_slot,
    hour_range_bounds,
    parse_hour_range,
    parse_weekday,
    search_windows,
    slot_matches,
    wall_clock_to_utc,
)

NEW_YORK = ZoneInfo("America/New_York")
LONDON = ZoneInfo("Europe/London")
SYDNEY = ZoneInfo("Australia/Sydney")
KOLKATA = ZoneInfo("Asia/Kolkata")
CHATHAM = ZoneInfo("Pacific/Chatham")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
HAVANA = ZoneInfo("America/Havana")
UTC_ZONE = ZoneInfo("UTC")

LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
MINUTE = timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def hours(
    text: str,
    tz: ZoneInfo,
    *,
    earliest: date | None = None,
    latest: date | None = None,
    prefer: Preference = "earliest",
) -> Constraints:
    return Constraints(
        timezone=tz,
        earliest=earliest,
        latest=latest,
        hours=(parse_hour_range(text),),
        prefer=prefer,
    )


def bounds(text: str, day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    return hour_range_bounds(day, parse_hour_range(text), tz)


# --- parsing ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "start", "end"),
    [
        ("13:00-17:00", time(13), time(17)),
        (" 9:30 - 10:00 ", time(9, 30), time(10)),
        ("00:00-24:00", time(0), time(0)),
        ("22:00-00:00", time(22), time(0)),
        ("23:15-24:00", time(23, 15), time(0)),
    ],
)
def test_parse_hour_range_accepts_well_formed_ranges(text: str, start: time, end: time) -> None:
    assert parse_hour_range(text) == HourRange(start, end)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "13-17",
        "13:00",
        "13:00-",
        "17:00-13:00",
        "13:00-13:00",
        "24:00-24:00",
        "10:60-11:00",
        "10:00-24:30",
        "25:00-26:00",
        "1300-1700",
        "noon-five",
        "13:00-17:00-18:00",
    ],
)
def test_parse_hour_range_rejects_malformed_text_naming_it(text: str) -> None:
    with pytest.raises(ValueError, match="hour range") as caught:
        parse_hour_range(text)
    assert repr(text) in str(caught.value)


def test_hour_range_prints_midnight_end_as_24_00() -> None:
    assert str(parse_hour_range("22:00-24:00")) == "22:00-24:00"
    assert str(parse_hour_range("09:05-17:30")) == "09:05-17:30"


def test_hour_range_rejects_start_after_end_and_aware_times() -> None:
    with pytest.raises(ValueError, match="start must be before end"):
        HourRange(time(17), time(9))
    with pytest.raises(ValueError, match="tzinfo"):
        HourRange(time(9, tzinfo=UTC), time(17))


@pytest.mark.parametrize(
    ("text", "weekday"),
    [("mon", 0), ("Wed", 2), ("THURSDAY", 3), (" sun ", 6), ("saturday", 5)],
)
def test_parse_weekday_accepts_short_and_full_names(text: str, weekday: int) -> None:
    assert parse_weekday(text) == weekday


def test_parse_weekday_rejects_unknown_names() -> None:
    with pytest.raises(ValueError, match="unknown day 'wednes'"):
        parse_weekday("wednes")


def test_constraints_reject_bad_days_notice_and_preference() -> None:
    with pytest.raises(ValueError, match="days"):
        Constraints(timezone=UTC_ZONE, days=frozenset({7}))
    with pytest.raises(ValueError, match="min_notice"):
        Constraints(timezone=UTC_ZONE, min_notice=-MINUTE)
    with pytest.raises(ValueError, match="prefer"):
        Constraints(timezone=UTC_ZONE, prefer="soonest")  # type: ignore[arg-type]


# --- wall clock to UTC across DST ------------------------------------------------------------


@pytest.mark.parametrize(
    ("day", "wall", "tz", "expected"),
    [
        # New York springs forward 02:00 EST -> 03:00 EDT at 07:00Z: 02:00-02:59 don't exist.
        (date(2027, 3, 14), time(2), NEW_YORK, utc(2027, 3, 14, 7)),
        (date(2027, 3, 14), time(2, 30), NEW_YORK, utc(2027, 3, 14, 7)),
        (date(2027, 3, 14), time(1, 59), NEW_YORK, utc(2027, 3, 14, 6, 59)),
        (date(2027, 3, 14), time(3), NEW_YORK, utc(2027, 3, 14, 7)),
        # New York falls back 02:00 EDT -> 01:00 EST at 06:00Z: 01:xx happens twice, first in EDT.
        (date(2026, 11, 1), time(1), NEW_YORK, utc(2026, 11, 1, 5)),
        (date(2026, 11, 1), time(1, 30), NEW_YORK, utc(2026, 11, 1, 5, 30)),
        (date(2026, 11, 1), time(2), NEW_YORK, utc(2026, 11, 1, 7)),
        # Havana springs forward at midnight: its day starts at 01:00 CDT (05:00Z).
        (date(2027, 3, 14), time(0), HAVANA, utc(2027, 3, 14, 5)),
        # Lord Howe springs forward by 30 minutes, 02:00 -> 02:30 (+10:30 -> +11), at 15:30Z.
        (date(2026, 10, 4), time(2, 10), LORD_HOWE, utc(2026, 10, 3, 15, 30)),
        # Chatham is +12:45 in winter.
        (date(2027, 6, 15), time(9), CHATHAM, utc(2027, 6, 14, 20, 15)),
    ],
)
def test_wall_clock_maps_to_first_instant_the_clock_reaches_it(
    day: date, wall: time, tz: ZoneInfo, expected: datetime
) -> None:
    assert wall_clock_to_utc(day, wall, tz) == expected


# --- slot_matches ----------------------------------------------------------------------------


def test_new_york_morning_hour_follows_the_offset_change() -> None:
    nine_to_ten = hours("09:00-10:00", NEW_YORK)
    # After 2027-03-14 New York is UTC-4: 09:00 local is 13:00Z.
    assert slot_matches(utc(2027, 3, 15, 13), HOUR, nine_to_ten, LONG_AGO)
    assert not slot_matches(utc(2027, 3, 15, 14), HOUR, nine_to_ten, LONG_AGO)
    # Before it, UTC-5: 09:00 local is 14:00Z.
    assert slot_matches(utc(2027, 3, 12, 14), HOUR, nine_to_ten, LONG_AGO)
    assert not slot_matches(utc(2027, 3, 12, 13), HOUR, nine_to_ten, LONG_AGO)


def test_new_york_spring_forward_range_is_two_real_hours() -> None:
    one_to_four = hours("01:00-04:00", NEW_YORK)
    assert bounds("01:00-04:00", date(2027, 3, 14), NEW_YORK) == (
        utc(2027, 3, 14, 6),
        utc(2027, 3, 14, 8),
    )
    assert slot_matches(utc(2027, 3, 14, 6), 2 * HOUR, one_to_four, LONG_AGO)
    assert not slot_matches(utc(2027, 3, 14, 6), 2 * HOUR + MINUTE, one_to_four, LONG_AGO)
    assert not slot_matches(utc(2027, 3, 14, 6), 3 * HOUR, one_to_four, LONG_AGO)
    # The same range is three real hours the day after.
    assert slot_matches(utc(2027, 3, 15, 5), 3 * HOUR, one_to_four, LONG_AGO)


def test_new_york_fall_back_range_counts_the_repeated_hour() -> None:
    one_to_two = hours("01:00-02:00", NEW_YORK)
    assert bounds("01:00-02:00", date(2026, 11, 1), NEW_YORK) == (
        utc(2026, 11, 1, 5),
        utc(2026, 11, 1, 7),
    )
    assert slot_matches(utc(2026, 11, 1, 5), 2 * HOUR, one_to_two, LONG_AGO)
    # 06:00Z is the second 01:00 (EST), still inside.
    assert slot_matches(utc(2026, 11, 1, 6), HOUR, one_to_two, LONG_AGO)


def test_range_ending_in_a_fold_closes_at_the_first_occurrence() -> None:
    midnight_to_one_thirty = hours("00:00-01:30", NEW_YORK)
    assert bounds("00:00-01:30", date(2026, 11, 1), NEW_YORK)[1] == utc(2026, 11, 1, 5, 30)
    assert slot_matches(utc(2026, 11, 1, 5), 30 * MINUTE, midnight_to_one_thirty, LONG_AGO)
    # 06:00Z reads 01:00 EST, but the range closed at the first 01:30 (05:30Z).
    assert not slot_matches(utc(2026, 11, 1, 6), 15 * MINUTE, midnight_to_one_thirty, LONG_AGO)


def test_london_spring_forward_range_inside_the_gap_is_short() -> None:
    day = date(2027, 3, 28)  # 01:00 GMT -> 02:00 BST at 01:00Z
    assert bounds("00:00-03:00", day, LONDON) == (utc(2027, 3, 28, 0), utc(2027, 3, 28, 2))
    assert bounds("01:30-02:30", day, LONDON) == (utc(2027, 3, 28, 1), utc(2027, 3, 28, 1, 30))
    gap_range = hours("01:30-02:30", LONDON)
    assert slot_matches(utc(2027, 3, 28, 1), 30 * MINUTE, gap_range, LONG_AGO)
    assert not slot_matches(utc(2027, 3, 28, 1), 45 * MINUTE, gap_range, LONG_AGO)


def test_sydney_fall_back_uses_the_local_date_not_the_utc_date() -> None:
    # 2027-04-04 03:00 AEDT -> 02:00 AEST at 2027-04-03 16:00Z; 02:00-03:00 is two real hours.
    day = date(2027, 4, 4)
    assert bounds("02:00-03:00", day, SYDNEY) == (utc(2027, 4, 3, 15), utc(2027, 4, 3, 17))
    only_that_day = hours("02:00-03:00", SYDNEY, earliest=day, latest=day)
    assert slot_matches(utc(2027, 4, 3, 15), 2 * HOUR, only_that_day, LONG_AGO)
    assert not slot_matches(utc(2027, 4, 3, 15), 2 * HOUR + MINUTE, only_that_day, LONG_AGO)


def test_sydney_spring_forward_range_loses_an_hour() -> None:
    # 2026-10-04 02:00 AEST -> 03:00 AEDT at 2026-10-03 16:00Z.
    two_to_four = hours("02:00-04:00", SYDNEY)
    assert bounds("02:00-04:00", date(2026, 10, 4), SYDNEY) == (
        utc(2026, 10, 3, 16),
        utc(2026, 10, 3, 17),
    )
    assert slot_matches(utc(2026, 10, 3, 16), HOUR, two_to_four, LONG_AGO)
    assert not slot_matches(utc(2026, 10, 3, 16), HOUR + MINUTE, two_to_four, LONG_AGO)


@pytest.mark.parametrize("day", [date(2027, 1, 15), date(2027, 7, 15)])
def test_kolkata_hours_are_the_same_instants_all_year(day: date) -> None:
    nine_to_ten = hours("09:00-10:00", KOLKATA)
    opens = datetime.combine(day, time(3, 30), tzinfo=UTC)
    assert slot_matches(opens, HOUR, nine_to_ten, LONG_AGO)
    assert not slot_matches(opens + 30 * MINUTE, HOUR, nine_to_ten, LONG_AGO)
    assert not slot_matches(opens - 30 * MINUTE, 30 * MINUTE, nine_to_ten, LONG_AGO)


def test_chatham_quarter_hour_offset_and_its_dst_change() -> None:
    nine_to_ten = hours("09:00-10:00", CHATHAM)
    # +13:45 in the southern summer, +12:45 in winter: local 09:00 falls at :15 UTC.
    assert slot_matches(utc(2027, 1, 14, 19, 15), HOUR, nine_to_ten, LONG_AGO)
    assert not slot_matches(utc(2027, 1, 14, 19), HOUR, nine_to_ten, LONG_AGO)
    assert slot_matches(utc(2027, 6, 14, 20, 15), HOUR, nine_to_ten, LONG_AGO)
    # 2027-04-04 03:45 -> 02:45 (at 14:00Z): 02:00-05:00 is four real hours.
    assert bounds("02:00-05:00", date(2027, 4, 4), CHATHAM) == (
        utc(2027, 4, 3, 12, 15),
        utc(2027, 4, 3, 16, 15),
    )


def test_lord_howe_half_hour_shift_stretches_and_shrinks_ranges() -> None:
    # 2027-04-04 02:00 (+11) -> 01:30 (+10:30): 01:00-03:00 is 2h30 of real time.
    assert bounds("01:00-03:00", date(2027, 4, 4), LORD_HOWE) == (
        utc(2027, 4, 3, 14),
        utc(2027, 4, 3, 16, 30),
    )
    # 2026-10-04 02:00 (+10:30) -> 02:30 (+11): the same range is 1h30.
    assert bounds("01:00-03:00", date(2026, 10, 4), LORD_HOWE) == (
        utc(2026, 10, 3, 14, 30),
        utc(2026, 10, 3, 16),
    )
    one_to_three = hours("01:00-03:00", LORD_HOWE)
    assert slot_matches(utc(2027, 4, 3, 14), 150 * MINUTE, one_to_three, LONG_AGO)
    assert not slot_matches(utc(2026, 10, 3, 14, 30), 2 * HOUR, one_to_three, LONG_AGO)


def test_whole_day_range_on_a_day_that_starts_at_one_am_is_23_hours() -> None:
    opens, closes = bounds("00:00-24:00", date(2027, 3, 14), HAVANA)
    assert (opens, closes) == (utc(2027, 3, 14, 5), utc(2027, 3, 15, 4))


def test_range_ending_at_24_00_allows_meetings_up_to_midnight() -> None:
    late = hours("22:00-24:00", NEW_YORK)
    assert slot_matches(utc(2027, 3, 16, 3), HOUR, late, LONG_AGO)  # 23:00-24:00 EDT
    assert not slot_matches(utc(2027, 3, 16, 3), 90 * MINUTE, late, LONG_AGO)


def test_meeting_must_fit_inside_one_range_not_across_two() -> None:
    two_ranges = Constraints(
        timezone=KOLKATA, hours=(parse_hour_range("09:00-10:00"), parse_hour_range("10:00-11:00"))
    )
    assert slot_matches(utc(2027, 1, 15, 4, 30), HOUR, two_ranges, LONG_AGO)  # 10:00-11:00
    assert not slot_matches(utc(2027, 1, 15, 4), HOUR, two_ranges, LONG_AGO)  # 09:30-10:30


def test_weekdays_are_local_weekdays() -> None:
    mondays = Constraints(timezone=SYDNEY, days=frozenset({0}))
    # 2027-03-14T22:00Z is Sunday in UTC, Monday 09:00 AEDT in Sydney.
    assert slot_matches(utc(2027, 3, 14, 22), HOUR, mondays, LONG_AGO)
    assert not slot_matches(utc(2027, 3, 14, 12), HOUR, mondays, LONG_AGO)
    assert not slot_matches(
        utc(2027, 3, 14, 22), HOUR, Constraints(SYDNEY, days=frozenset()), LONG_AGO
    )


def test_earliest_and_latest_are_inclusive_local_days() -> None:
    day = date(2027, 3, 15)
    only_the_15th = Constraints(timezone=NEW_YORK, earliest=day, latest=day)
    assert slot_matches(utc(2027, 3, 15, 4), MINUTE, only_the_15th, LONG_AGO)  # 00:00 EDT
    assert slot_matches(utc(2027, 3, 16, 3, 59), MINUTE, only_the_15th, LONG_AGO)  # 23:59 EDT
    assert not slot_matches(utc(2027, 3, 15, 3, 59), MINUTE, only_the_15th, LONG_AGO)
    assert not slot_matches(utc(2027, 3, 16, 4), MINUTE, only_the_15th, LONG_AGO)


def test_min_notice_boundary_is_inclusive() -> None:
    now = utc(2027, 5, 1, 12)
    two_hours_notice = Constraints(timezone=UTC_ZONE, min_notice=2 * HOUR)
    assert slot_matches(now + 2 * HOUR, HOUR, two_hours_notice, now)
    assert not slot_matches(now + 2 * HOUR - timedelta(microseconds=1), HOUR, two_hours_notice, now)
    assert not slot_matches(now - HOUR, HOUR, Constraints(timezone=UTC_ZONE), now)


def test_no_hours_means_any_time_of_day() -> None:
    anytime = Constraints(timezone=NEW_YORK)
    assert slot_matches(utc(2027, 3, 14, 7), 4 * HOUR, anytime, LONG_AGO)  # 03:00 EDT


def test_slot_given_in_another_offset_is_the_same_instant() -> None:
    nine_to_ten = hours("09:00-10:00", NEW_YORK)
    paris_time = datetime(2027, 3, 15, 14, tzinfo=timezone(timedelta(hours=1)))  # 13:00Z
    assert slot_matches(paris_time, HOUR, nine_to_ten, LONG_AGO)


def test_naive_datetimes_and_empty_durations_are_refused() -> None:
    anytime = Constraints(timezone=UTC_ZONE)
    with pytest.raises(ValueError, match="now must be an aware"):
        slot_matches(utc(2027, 1, 1), HOUR, anytime, datetime(2026, 1, 1))
    with pytest.raises(ValueError, match="slot start must be an aware"):
        slot_matches(datetime(2027, 1, 1), HOUR, anytime, LONG_AGO)
    with pytest.raises(ValueError, match="duration"):
        slot_matches(utc(2027, 1, 1), timedelta(0), anytime, LONG_AGO)


# --- choose_slot -----------------------------------------------------------------------------

AFTERNOONS = hours("13:00-17:00", NEW_YORK)
# 2027-03-15 in New York (EDT): 13:00-17:00 is 17:00Z-21:00Z.
OFFERED = [
    Slot(utc(2027, 3, 15, 20)),  # 16:00, fits a 30-minute meeting
    Slot(utc(2027, 3, 15, 16)),  # 12:00, too early
    Slot(utc(2027, 3, 15, 18)),
    Slot(utc(2027, 3, 15, 17)),
    Slot(utc(2027, 3, 15, 21)),  # 17:00, too late
]


def test_choose_earliest_matching_slot_from_unsorted_offers() -> None:
    chosen = choose_slot(OFFERED, 30 * MINUTE, AFTERNOONS, LONG_AGO)
    assert chosen == Slot(utc(2027, 3, 15, 17))


def test_choose_latest_matching_slot_when_preferred() -> None:
    latest = hours("13:00-17:00", NEW_YORK, prefer="latest")
    assert choose_slot(OFFERED, 30 * MINUTE, latest, LONG_AGO) == Slot(utc(2027, 3, 15, 20))
    # A longer meeting no longer fits at 16:00.
    assert choose_slot(OFFERED, 90 * MINUTE, latest, LONG_AGO) == Slot(utc(2027, 3, 15, 18))


def test_choose_skips_excluded_starts_whatever_their_offset() -> None:
    excluded = [datetime(2027, 3, 15, 13, tzinfo=NEW_YORK)]  # == 17:00Z
    chosen = choose_slot(OFFERED, 30 * MINUTE, AFTERNOONS, LONG_AGO, exclude=excluded)
    assert chosen == Slot(utc(2027, 3, 15, 18))


def test_choose_skips_slots_without_seats() -> None:
    offers = [Slot(utc(2027, 3, 15, 17), invitees_remaining=0), Slot(utc(2027, 3, 15, 18), 3)]
    assert choose_slot(offers, 30 * MINUTE, AFTERNOONS, LONG_AGO) == offers[1]


def test_choose_returns_none_when_nothing_matches() -> None:
    assert choose_slot(OFFERED, 5 * HOUR, AFTERNOONS, LONG_AGO) is None
    assert choose_slot([], HOUR, AFTERNOONS, LONG_AGO) is None
    assert choose_slot(OFFERED, 30 * MINUTE, AFTERNOONS, utc(2027, 3, 16)) is None


def test_choose_keeps_the_first_of_equal_starts() -> None:
    first, second = Slot(utc(2027, 3, 15, 17), 1), Slot(utc(2027, 3, 15, 17), 2)
    assert choose_slot([first, second], HOUR, AFTERNOONS, LONG_AGO) is first


# --- search_windows --------------------------------------------------------------------------


def test_windows_start_at_now_plus_lead_and_end_at_local_end_of_latest() -> None:
    now = utc(2026, 12, 1, 12)
    constraints = Constraints(timezone=NEW_YORK, latest=date(2026, 12, 20))
    windows = search_windows(constraints, now)
    start, end = now + 2 * MINUTE, utc(2026, 12, 21, 5)  # midnight EST after the 20th
    assert windows == [
        SearchWindow(start, start + timedelta(days=7)),
        SearchWindow(start + timedelta(days=7), start + timedelta(days=14)),
        SearchWindow(start + timedelta(days=14), end),
    ]


def test_window_over_a_dst_day_starts_and_ends_at_local_midnights() -> None:
    day = date(2027, 3, 14)
    constraints = Constraints(timezone=NEW_YORK, earliest=day, latest=day)
    windows = search_windows(constraints, utc(2027, 3, 1))
    assert windows == [SearchWindow(utc(2027, 3, 14, 5), utc(2027, 3, 15, 4))]  # 23 hours


def test_windows_honour_max_window_days_up_to_31() -> None:
    now = utc(2027, 1, 1)
    constraints = Constraints(timezone=UTC_ZONE, latest=date(2027, 3, 1))
    windows = search_windows(constraints, now, max_window_days=31)
    assert [w.end - w.start <= timedelta(days=31) for w in windows] == [True, True]
    for bad in (0, 32):
        with pytest.raises(ValueError, match="max_window_days"):
            search_windows(constraints, now, max_window_days=bad)


def test_windows_are_empty_when_latest_has_passed() -> None:
    constraints = Constraints(timezone=NEW_YORK, latest=date(2027, 3, 14))
    assert search_windows(constraints, utc(2027, 3, 15, 4)) == []
    assert search_windows(constraints, utc(2027, 3, 15, 3, 59)) == []  # within the lead


def test_windows_without_latest_reach_the_horizon() -> None:
    now = utc(2027, 1, 1)
    windows = search_windows(Constraints(timezone=UTC_ZONE), now, horizon=timedelta(days=10))
    assert windows[-1].end == windows[0].start + timedelta(days=10)
    with pytest.raises(ValueError, match="horizon"):
        search_windows(Constraints(timezone=UTC_ZONE), now, horizon=None)


def test_the_horizon_counts_from_earliest_not_from_now() -> None:
    now = utc(2027, 1, 1)
    constraints = Constraints(timezone=UTC_ZONE, earliest=date(2027, 5, 1))
    windows = search_windows(constraints, now, horizon=timedelta(days=10))
    assert windows[0].start == utc(2027, 5, 1)
    assert windows[-1].end == utc(2027, 5, 11)


def test_windows_skip_the_minimum_notice_and_keep_a_minimum_lead() -> None:
    now = utc(2027, 1, 1)
    notice = Constraints(timezone=UTC_ZONE, min_notice=3 * HOUR)
    assert search_windows(notice, now)[0].start == now + 3 * HOUR
    no_lead = search_windows(Constraints(timezone=UTC_ZONE), now, lead=timedelta(0))
    assert no_lead[0].start == now + timedelta(seconds=MINIMUM_LEAD_SECONDS)
