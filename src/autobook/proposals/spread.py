"""Which of the matching slots to offer a person, and how to show them. Pure: no I/O, no clock.

The spread rule (documented in the README, "Proposals"):
- The matching slots are taken in the request's order (earliest first; latest first for
  `prefer: latest`), and grouped by local day in the display timezone.
- Each offer goes to a day not offered yet, in that order, while one is left; then a second
  round goes through the days again, and so on.
- Parts of the day alternate, morning (before 12:00 local) and afternoon (from 12:00): the
  first offer takes the part of the first matching slot, the next one the other part, and so on.
  A day with nothing in the wanted part gives its first slot of the other part; a day visited
  again gives the part it has not given yet.
- Within a day and part, the first slot in the request's order.
So three offers over a week are three days, morning, afternoon, morning: never the three first
quarter-hours of one morning. The offers are listed in time order, numbered from 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from autobook.times import utc_z

NOON = time(12, 0)
MORNING, AFTERNOON = "morning", "afternoon"


def part_of_day(local: datetime) -> str:
    return MORNING if local.time() < NOON else AFTERNOON


def _other(part: str) -> str:
    return AFTERNOON if part == MORNING else MORNING


def spread(starts: Sequence[datetime], count: int, zone: ZoneInfo) -> list[datetime]:
    """Up to `count` of `starts` (in the request's order), spread as the module says."""
    by_day: dict[date, list[datetime]] = {}
    for start in starts:
        by_day.setdefault(start.astimezone(zone).date(), []).append(start)
    if not by_day or count <= 0:
        return []
    days = list(by_day)  # insertion order: the request's order
    wanted = part_of_day(starts[0].astimezone(zone))
    chosen: list[datetime] = []
    used: dict[date, set[str]] = {}
    while len(chosen) < count and any(by_day.values()):
        for day in days:
            if len(chosen) >= count:
                break
            left = by_day[day]
            if not left:
                continue
            part = wanted if wanted not in used.get(day, set()) else _other(wanted)
            pick = next((s for s in left if part_of_day(s.astimezone(zone)) == part), left[0])
            left.remove(pick)
            chosen.append(pick)
            picked = part_of_day(pick.astimezone(zone))
            used.setdefault(day, set()).add(picked)
            wanted = _other(picked)
    return sorted(chosen)


def label(start: datetime, zone: ZoneInfo) -> str:
    """`Thu 3 Dec, 3:00 pm EST`: how a person reads the time, in their own zone."""
    local = start.astimezone(zone)
    hour = local.hour % 12 or 12
    half = "am" if local.hour < 12 else "pm"
    return f"{local:%a} {local.day} {local:%b}, {hour}:{local:%M} {half} {local:%Z}"


@dataclass(frozen=True)
class Offer:
    """One offered time: its number, the UTC instant, and how it reads in the display zone."""

    choice: int
    start: datetime
    zone: ZoneInfo

    def as_json(self) -> dict[str, object]:
        local = self.start.astimezone(self.zone)
        return {
            "choice": self.choice,
            "start_time": utc_z(self.start),
            "start_time_local": local.isoformat(),
            "label": label(self.start, self.zone),
        }


def offers(starts: Sequence[datetime], zone: ZoneInfo) -> list[Offer]:
    return [Offer(number, start, zone) for number, start in enumerate(starts, start=1)]
