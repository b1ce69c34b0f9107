"""What our own attempts block in a snapshot (`autobook.booking.blocking`): pure, no I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from autobook.booking.blocking import (
    SlotOwner,
    free_seats,
    organization_hosts,
    slot_owner,
    with_learned_hosts,
)
from autobook.calendly.models import EventType, Profile
from autobook.store.holds import HeldSlot

T = datetime(2026, 12, 7, 15, 0, tzinfo=UTC)
DEMO = "https://api.calendly.com/event_types/demo"
INTRO = "https://api.calendly.com/event_types/intro"
POOL = "https://api.calendly.com/event_types/pool"
TEAM = "https://api.calendly.com/event_types/collective"
TAYLOR = "https://api.calendly.com/users/taylor"
OLIVER = "https://api.calendly.com/users/oliver"


def owner(uri: str = DEMO, minutes: int = 30, *, pooled: bool = False) -> SlotOwner:
    calendars = {uri} if pooled or uri == TEAM else {uri, TAYLOR}
    return SlotOwner(uri, timedelta(minutes=minutes), frozenset(calendars), pooled)


def hold(
    uri: str,
    start: datetime,
    minutes: int = 30,
    *,
    blocks: set[str] | None = None,
    unresolved: bool = False,
    taken: bool = False,
    request_pk: int = 99,
) -> HeldSlot:
    return HeldSlot(
        request_pk=request_pk,
        event_type_uri=uri,
        start=start,
        end=start + timedelta(minutes=minutes),
        blocks=frozenset(blocks if blocks is not None else {uri, TAYLOR}),
        unresolved=unresolved,
        taken_by_others=taken,
    )


def test_a_hold_at_the_same_start_takes_the_only_seat() -> None:
    assert free_seats(T, 1, owner(), [hold(DEMO, T)]).free == 0
    assert free_seats(T, 1, owner(), []).free == 1


def test_a_group_slot_loses_one_seat_per_hold() -> None:
    held = [hold(DEMO, T), hold(DEMO, T)]
    assert free_seats(T, 5, owner(), held).free == 3


def test_an_overlapping_start_of_the_same_type_blocks_the_slot() -> None:
    # 45 minutes on a 15-minute grid: 15:00 holds until 15:45, so 15:15 and 15:30 are blocked.
    consultation = owner(minutes=45)
    held = [hold(DEMO, T, 45)]
    assert free_seats(T + timedelta(minutes=15), 1, consultation, held).free == 0
    assert free_seats(T + timedelta(minutes=30), 1, consultation, held).free == 0
    assert free_seats(T + timedelta(minutes=45), 1, consultation, held).free == 1
    assert free_seats(T - timedelta(minutes=45), 1, consultation, held).free == 1
    assert free_seats(T - timedelta(minutes=30), 1, consultation, held).free == 0


def test_another_type_of_the_same_host_blocks_an_overlapping_slot() -> None:
    held = [hold(INTRO, T + timedelta(minutes=15), 15)]
    assert free_seats(T, 1, owner(), held).free == 0
    other_host = [hold(INTRO, T, 15, blocks={INTRO, OLIVER})]
    assert free_seats(T, 1, owner(), other_host).free == 1


def test_a_round_robin_slot_is_blocked_only_by_its_own_type() -> None:
    pool = owner(POOL, pooled=True)
    assert free_seats(T, 1, pool, [hold(DEMO, T)]).free == 1
    assert free_seats(T, 1, pool, [hold(POOL, T, blocks={POOL})]).free == 0


def test_a_round_robin_booking_blocks_the_solo_types_of_the_host_it_got() -> None:
    assigned = hold(POOL, T, blocks={POOL, TAYLOR})
    assert free_seats(T, 1, owner(), [assigned]).free == 0
    in_flight = hold(POOL, T, blocks={POOL}, unresolved=True)
    assert free_seats(T, 1, owner(), [in_flight]).free == 1


def test_a_slot_taken_by_others_is_blocked_even_with_seats_left() -> None:
    assert free_seats(T, 5, owner(), [hold(DEMO, T, taken=True)]).free == 0


def test_seats_report_whether_an_unresolved_attempt_holds_them() -> None:
    assert free_seats(T, 1, owner(), [hold(DEMO, T, unresolved=True)]).held_in_flight
    assert not free_seats(T, 1, owner(), [hold(DEMO, T)]).held_in_flight
    assert not free_seats(T, 1, owner(), [hold(DEMO, T + timedelta(hours=1))]).held_in_flight


def test_a_collective_learns_its_hosts_from_our_bookings_of_it() -> None:
    collective = owner(TEAM)
    booked = hold(TEAM, T - timedelta(days=1), blocks={TEAM, TAYLOR, OLIVER})
    learned = with_learned_hosts(collective, [booked])
    assert learned.calendars == {TEAM, TAYLOR, OLIVER}
    assert free_seats(T, 1, learned, [hold(INTRO, T, 15)]).free == 0
    assert free_seats(T, 1, collective, [hold(INTRO, T, 15)]).free == 1
    pool = owner(POOL, pooled=True)
    assert with_learned_hosts(pool, [hold(POOL, T, blocks={POOL, TAYLOR})]) == pool


def test_slot_owner_reads_the_host_of_a_user_profile_only() -> None:
    solo = EventType(
        uri=DEMO, duration=30, profile=Profile(type="User", owner=TAYLOR, name="Taylor")
    )
    team = EventType(
        uri=POOL,
        duration=30,
        pooling_type="round_robin",
        profile=Profile(type="Team", owner="https://api.calendly.com/teams/sales"),
    )
    assert slot_owner(solo) == SlotOwner(
        DEMO, timedelta(minutes=30), frozenset({DEMO, TAYLOR}), False
    )
    assert slot_owner(team) == SlotOwner(POOL, timedelta(minutes=30), frozenset({POOL}), True)
    assert slot_owner(solo).span(T) == (T, T + timedelta(minutes=30))


ORGANIZATION = frozenset({TAYLOR, OLIVER})


def team_owner(uri: str, *, pooled: bool) -> SlotOwner:
    return SlotOwner(uri, timedelta(minutes=30), frozenset({uri}), pooled, ORGANIZATION)


def test_a_team_attempt_blocks_every_host_of_the_organization() -> None:
    pool = team_owner(POOL, pooled=True)
    assert pool.blocks == {POOL, TAYLOR, OLIVER}
    booked = hold(POOL, T, blocks=set(pool.blocks))
    seats = free_seats(T, 1, owner(), [booked])
    # Taylor may be the host the round robin took: blocked, and a newer poll may say otherwise.
    assert (seats.free, seats.recheck) == (0, True)
    in_flight = hold(POOL, T, blocks=set(pool.blocks), unresolved=True)
    seats = free_seats(T, 1, owner(), [in_flight])
    assert (seats.free, seats.held_in_flight, seats.recheck) == (0, True, False)
    assert free_seats(T + timedelta(minutes=30), 1, owner(), [booked]).free == 1


def test_a_team_slot_is_blocked_by_our_bookings_of_any_possible_host() -> None:
    for team in (team_owner(POOL, pooled=True), team_owner(TEAM, pooled=False)):
        seats = free_seats(T, 1, team, [hold(INTRO, T, 15)])
        assert (seats.free, seats.recheck) == (0, True)
        stranger = hold(INTRO, T, 15, blocks={INTRO, "https://api.calendly.com/users/mia"})
        assert free_seats(T, 1, team, [stranger]).free == 1
    # Without the organization's hosts a round robin is blocked by its own type only, as before.
    assert free_seats(T, 1, owner(POOL, pooled=True), [hold(INTRO, T, 15)]).free == 1


def test_our_own_round_robin_booking_asks_for_a_newer_poll_a_one_host_one_does_not() -> None:
    pool = team_owner(POOL, pooled=True)
    assert free_seats(T, 1, pool, [hold(POOL, T, blocks=set(pool.blocks))]).recheck
    assert not free_seats(T, 1, owner(), [hold(DEMO, T)]).recheck
    # Another one-host type of the same host: certainly busy, no newer poll needed.
    assert not free_seats(T, 1, owner(), [hold(INTRO, T, 15)]).recheck
    assert not free_seats(T, 1, owner(), [hold(DEMO, T, taken=True)]).recheck


def test_organization_hosts_are_the_owners_of_one_host_types() -> None:
    solo = EventType(uri=DEMO, profile=Profile(type="User", owner=TAYLOR, name="Taylor"))
    team = EventType(
        uri=POOL,
        pooling_type="round_robin",
        profile=Profile(type="Team", owner="https://api.calendly.com/teams/sales"),
    )
    assert organization_hosts([solo, team]) == {TAYLOR}
    assert slot_owner(team, {TAYLOR}).team_hosts == {TAYLOR}
    assert slot_owner(solo, {TAYLOR, OLIVER}).team_hosts == frozenset()
