"""The seed schema, its error messages, stable UUIDs, and what the default seed covers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from autobook.sandbox.seed import Seed, SeedError, load_seed, parse_seed, stable_uuid
from autobook.sandbox.seeding import build_store
from tests.sandbox.seeds import base_seed

TODAY = datetime(2026, 11, 22, tzinfo=UTC)


def _next_offset_change(zone_name: str, after: datetime, within: timedelta) -> datetime | None:
    zone = ZoneInfo(zone_name)
    moment, offset = after, after.astimezone(zone).utcoffset()
    while moment < after + within:
        moment += timedelta(hours=1)
        if moment.astimezone(zone).utcoffset() != offset:
            return moment
    return None


@pytest.fixture(scope="module")
def default_seed() -> Seed:
    return load_seed()


def test_the_default_seed_has_hosts_in_several_timezones(default_seed: Seed) -> None:
    zones = {user.timezone for user in default_seed.users}
    assert len(default_seed.users) >= 3
    assert len(zones) == len(default_seed.users)
    assert default_seed.owner().plan == "enterprise"  # the demo books a dozen meetings a minute


def test_one_default_host_has_a_clock_change_in_the_coming_weeks(default_seed: Seed) -> None:
    changes = {
        user.timezone: _next_offset_change(user.timezone, TODAY, timedelta(weeks=20))
        for user in default_seed.users
    }
    # docs/sandbox.md lists these dates; the soonest is within twelve weeks of 2026-11-22.
    assert changes == {
        "Africa/Casablanca": datetime(2027, 2, 7, 2, 0, tzinfo=UTC),
        "America/New_York": datetime(2027, 3, 14, 7, 0, tzinfo=UTC),
        "Europe/London": datetime(2027, 3, 28, 1, 0, tzinfo=UTC),
        "Australia/Sydney": datetime(2027, 4, 3, 16, 0, tzinfo=UTC),
    }
    assert min(filter(None, changes.values())) - TODAY < timedelta(weeks=12)


def test_the_default_seed_covers_every_location_rule(default_seed: Seed) -> None:
    types = default_seed.event_types
    kinds = [[loc.kind for loc in event_type.locations or []] for event_type in types]
    assert [] in kinds  # no location
    assert ["zoom_conference"] in kinds
    assert ["physical"] in kinds
    assert ["outbound_call"] in kinds
    assert ["ask_invitee"] in kinds
    assert any(len(found) >= 3 for found in kinds)
    assert any(t.pooling_type == "round_robin" for t in types)
    assert any(t.pooling_type == "collective" for t in types)
    assert any(t.kind == "group" and (t.capacity or 0) > 1 for t in types)
    assert any(q.required for t in types for q in t.custom_questions)
    assert any(not t.active for t in types)


def test_the_same_seed_always_gives_the_same_uris() -> None:
    first, second = build_store(load_seed()), build_store(load_seed())
    assert list(first.users) == list(second.users)
    assert list(first.event_types) == list(second.event_types)
    assert list(first.events) == list(second.events)
    assert sorted(first.invitees) == sorted(second.invitees)
    assert first.owner.uuid == str(stable_uuid("user", "taylor@acme.com"))


def test_given_uuids_win_over_derived_ones() -> None:
    document = base_seed()
    document["users"][0]["uuid"] = "11111111-2222-4333-8444-555555555555"
    store = build_store(parse_seed(document))
    assert store.owner.uuid == "11111111-2222-4333-8444-555555555555"


def _problems(document: Any) -> list[str]:
    with pytest.raises(SeedError) as caught:
        parse_seed(document, "test.json")
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid sandbox seed test.json:"
    return [line.strip() for line in lines[1:]]


def test_every_field_problem_is_reported_with_its_path() -> None:
    document = {
        "organization": {"name": ""},
        "users": [
            {
                "name": "A",
                "email": "not-mail",
                "timezone": "America/New York",
                "working_hours": {"mon": ["9-5"], "funday": []},
                "plan": "gold",
            }
        ],
        "event_types": [{"name": "X", "slug": "Bad Slug", "hosts": [], "duration": 0}],
        "surprise": 1,
    }
    problems = _problems(document)
    assert "users[0].timezone: unknown IANA timezone 'America/New York'" in problems
    assert "users[0].email: not an email address: 'not-mail'" in problems
    assert any(p.startswith("users[0].working_hours:") for p in problems)
    assert any(p.startswith("users[0].plan:") for p in problems)
    assert any(p.startswith("organization.name:") for p in problems)
    assert any(p.startswith("event_types[0].slug:") for p in problems)
    assert any(p.startswith("event_types[0].duration:") for p in problems)
    assert any(p.startswith("surprise:") for p in problems)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda d: d["event_types"][0].update(hosts=["ghost@test.example"]),
            "no user has the email",
        ),
        (lambda d: d["event_types"][0].update(kind="group"), "a group event type needs a capacity"),
        (lambda d: d["event_types"][0].update(capacity=4), "capacity only applies to group"),
        (
            lambda d: d["event_types"][0].update(hosts=["nina@test.example", "leo@test.example"]),
            "several hosts need pooling_type",
        ),
        (lambda d: d["users"][1].update(email="nina@test.example"), "is used twice"),
        (lambda d: d["event_types"][1].update(slug="solo"), "is used twice"),
        (
            lambda d: d["users"][0].update(working_hours={"mon": ["09:00-12:00", "11:00-13:00"]}),
            "overlap on mon",
        ),
        (lambda d: d["bookings"][0].update(event_type="nope"), "no event type has the slug"),
        (
            lambda d: d["event_types"][0].update(
                custom_questions=[{"name": "Q", "type": "single_select"}]
            ),
            "needs answer_choices",
        ),
    ],
)
def test_cross_reference_problems_are_explained(change: Any, expected: str) -> None:
    document = base_seed()
    change(document)
    assert any(expected in problem for problem in _problems(document))


def test_working_hours_may_run_to_midnight_and_split_the_day() -> None:
    document = base_seed()
    document["users"][0]["working_hours"] = {"sat": ["00:00-12:00", "13:00-24:00"]}
    seed = parse_seed(document)
    hours = seed.users[0].weekly_hours()
    assert len(hours[5]) == 2
    assert hours[5][1][1] is None  # 24:00


def test_unreadable_seed_files_are_explained(tmp_path: Path) -> None:
    with pytest.raises(SeedError, match="cannot read sandbox seed"):
        load_seed(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{ not json", "utf-8")
    with pytest.raises(SeedError, match="is not JSON"):
        load_seed(broken)
