"""Which matching slots a proposal offers, and how they read (`proposals.spread`, pure).

The rule (README, "Proposals"): distinct local days first, in the request's order; mornings
and afternoons alternate, starting with the part of the first match; offers listed in time
order. Labels read `Thu 3 Dec, 3:00 pm EST` in the display zone, across a DST change too.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from autobook.proposals.spread import AFTERNOON, MORNING, label, offers, part_of_day, spread

NEW_YORK = ZoneInfo("America/New_York")
TOKYO = ZoneInfo("Asia/Tokyo")
# US clocks go back from EDT to EST at 02:00 local on Sunday 1 Nov 2026 (06:00 UTC).
DST_END = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)


def _quarter_hours(day: date, zone: ZoneInfo, first: int = 9, last: int = 17) -> list[datetime]:
    """Every quarter-hour start from `first`:00 to before `last`:00 local, in UTC."""
    starts = []
    for hour in range(first, last):
        for minute in (0, 15, 30, 45):
            local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
            starts.append(local.astimezone(UTC))
    return starts


def _week(monday: date, zone: ZoneInfo = NEW_YORK, **hours: int) -> list[datetime]:
    return [s for n in range(5) for s in _quarter_hours(monday + timedelta(days=n), zone, **hours)]


def _parts(starts: list[datetime], zone: ZoneInfo = NEW_YORK) -> list[str]:
    return [part_of_day(s.astimezone(zone)) for s in starts]


def _days(starts: list[datetime], zone: ZoneInfo = NEW_YORK) -> list[date]:
    return [s.astimezone(zone).date() for s in starts]


def test_three_offers_over_a_week_are_three_days_morning_afternoon_morning() -> None:
    week = _week(date(2026, 12, 7))
    chosen = spread(week, 3, NEW_YORK)
    assert _days(chosen) == [date(2026, 12, 7), date(2026, 12, 8), date(2026, 12, 9)]
    assert _parts(chosen) == [MORNING, AFTERNOON, MORNING]
    assert chosen[0] == week[0]  # the first match is offered
    assert chosen != week[:3]  # never the three first quarter-hours of one morning


def test_the_first_part_is_that_of_the_first_match() -> None:
    afternoon_first = [s for s in _week(date(2026, 12, 7)) if s.astimezone(NEW_YORK).hour >= 12]
    mornings = [s for s in _week(date(2026, 12, 7)) if s.astimezone(NEW_YORK).hour < 12]
    chosen = spread(afternoon_first[:8] + mornings, 3, NEW_YORK)
    assert _parts(chosen)[0] == AFTERNOON


def test_one_day_gives_both_parts_before_a_second_slot_of_one_part() -> None:
    day = _quarter_hours(date(2026, 12, 8), NEW_YORK)
    chosen = spread(day, 2, NEW_YORK)
    assert _parts(chosen) == [MORNING, AFTERNOON]
    assert len(set(_days(spread(day, 4, NEW_YORK)))) == 1
    assert set(_parts(spread(day, 4, NEW_YORK))) == {MORNING, AFTERNOON}


def test_more_offers_than_days_come_back_to_each_day_for_its_other_part() -> None:
    two_days = _week(date(2026, 12, 7))[: 2 * 32]  # Monday and Tuesday, 32 starts each
    chosen = spread(two_days, 4, NEW_YORK)
    assert sorted(_days(chosen)) == [date(2026, 12, 7)] * 2 + [date(2026, 12, 8)] * 2
    by_day: dict[date, set[str]] = {}
    for start in chosen:
        local = start.astimezone(NEW_YORK)
        by_day.setdefault(local.date(), set()).add(part_of_day(local))
    assert all(parts == {MORNING, AFTERNOON} for parts in by_day.values())


def test_only_afternoons_still_spread_over_days() -> None:
    afternoons = _week(date(2026, 12, 7), first=13, last=17)
    chosen = spread(afternoons, 3, NEW_YORK)
    assert len(set(_days(chosen))) == 3
    assert _parts(chosen) == [AFTERNOON] * 3


def test_latest_first_order_offers_the_last_days() -> None:
    week = _week(date(2026, 12, 7))
    chosen = spread(list(reversed(week)), 3, NEW_YORK)
    assert _days(chosen) == [date(2026, 12, 9), date(2026, 12, 10), date(2026, 12, 11)]
    assert chosen == sorted(chosen)


def test_fewer_matches_than_wanted_are_all_offered_and_nothing_gives_nothing() -> None:
    some = _week(date(2026, 12, 7))[:2]
    assert spread(some, 5, NEW_YORK) == some
    assert spread([], 3, NEW_YORK) == []
    assert spread(some, 0, NEW_YORK) == []


def test_days_are_the_display_zone_s_days() -> None:
    # 23:00 and 23:30 UTC on Monday are Tuesday morning in Tokyo: one day there, not two.
    monday_late = [
        datetime(2026, 12, 7, 23, 0, tzinfo=UTC),
        datetime(2026, 12, 7, 23, 30, tzinfo=UTC),
    ]
    tuesday_late = [datetime(2026, 12, 8, 5, 0, tzinfo=UTC)]  # 14:00 Tuesday in Tokyo
    chosen = spread(monday_late + tuesday_late, 2, TOKYO)
    assert _days(chosen, TOKYO) == [date(2026, 12, 8)] * 2
    assert _parts(chosen, TOKYO) == [MORNING, AFTERNOON]
    assert len(set(_days(spread(monday_late + tuesday_late, 2, NEW_YORK)))) == 2


def test_spread_across_a_dst_change_keeps_local_days_and_parts() -> None:
    # Friday 30 Oct (EDT) to Tuesday 3 Nov (EST): local 11:00 is 15:00 UTC, then 16:00 UTC.
    days = [date(2026, 10, 30), date(2026, 11, 2), date(2026, 11, 3)]
    starts = [s for day in days for s in _quarter_hours(day, NEW_YORK)]
    chosen = spread(starts, 3, NEW_YORK)
    assert _days(chosen) == days
    assert _parts(chosen) == [MORNING, AFTERNOON, MORNING]
    assert [s.astimezone(NEW_YORK).hour for s in chosen] == [9, 12, 9]
    assert [s.hour for s in chosen] == [13, 17, 14]  # 9:00 EDT, then 12:00 and 9:00 EST, in UTC


def test_labels_read_in_the_display_zone() -> None:
    assert label(datetime(2026, 12, 3, 20, 0, tzinfo=UTC), NEW_YORK) == "Thu 3 Dec, 3:00 pm EST"
    assert label(datetime(2026, 12, 3, 5, 0, tzinfo=UTC), NEW_YORK) == "Thu 3 Dec, 12:00 am EST"
    assert label(datetime(2026, 12, 3, 17, 5, tzinfo=UTC), NEW_YORK) == "Thu 3 Dec, 12:05 pm EST"
    assert label(datetime(2026, 12, 3, 20, 0, tzinfo=UTC), TOKYO) == "Fri 4 Dec, 5:00 am JST"


def test_labels_and_local_times_follow_a_dst_change() -> None:
    before, after = DST_END - timedelta(hours=1), DST_END
    assert label(before, NEW_YORK) == "Sun 1 Nov, 1:00 am EDT"
    assert label(after, NEW_YORK) == "Sun 1 Nov, 1:00 am EST"  # the same wall time, an hour on
    shown = [offer.as_json() for offer in offers([before, after], NEW_YORK)]
    assert [o["choice"] for o in shown] == [1, 2]
    assert [o["start_time"] for o in shown] == ["2026-11-01T05:00:00Z", "2026-11-01T06:00:00Z"]
    assert shown[0]["start_time_local"] == "2026-11-01T01:00:00-04:00"
    assert shown[1]["start_time_local"] == "2026-11-01T01:00:00-05:00"
