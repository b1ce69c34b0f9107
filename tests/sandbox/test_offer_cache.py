"""The per-day offer cache never serves a stale answer (unit test of availability.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from autobook.sandbox.availability import Availability
from autobook.sandbox.seed import parse_seed
from autobook.sandbox.seeding import build_store
from autobook.sandbox.store import NewInvitee, Store
from tests.sandbox.seeds import NOW, base_seed

WINDOW_START = datetime(2026, 11, 30, tzinfo=UTC)
WINDOW_END = WINDOW_START + timedelta(days=7)
SLUGS = ("solo", "round-robin", "collective", "group", "fifteen", "physical")


def _answers(availability: Availability, store: Store) -> dict[str, list[tuple[datetime, int]]]:
    return {
        event_type.slug: [
            (offer.start, offer.invitees_remaining)
            for offer in availability.offers_between(event_type, WINDOW_START, WINDOW_END, NOW)
        ]
        for event_type in store.event_types.values()
    }


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(SLUGS), st.integers(0, 40), st.booleans()), max_size=12))
def test_cached_offers_match_a_fresh_computation_after_any_changes(
    steps: list[tuple[str, int, bool]],
) -> None:
    store = build_store(parse_seed(base_seed()))
    cached = Availability(store)
    by_slug = {event_type.slug: event_type for event_type in store.event_types.values()}
    for number, (slug, pick, cancel_after) in enumerate(steps):
        _answers(cached, store)  # warm the cache before every change
        event_type = by_slug[slug]
        offers = cached.offers_between(event_type, WINDOW_START, WINDOW_END, NOW)
        if not offers:
            continue
        offer = offers[pick % len(offers)]
        hosts = offer.hosts[:1] if event_type.pooling_type == "round_robin" else offer.hosts
        invitee = NewInvitee(
            email=f"p{number}@example.com",
            name="P",
            first_name=None,
            last_name=None,
            timezone="UTC",
        )
        event, _ = store.book(
            event_type, offer.start, hosts, invitee, None, NOW, None, join_event=offer.join_event
        )
        if cancel_after:
            cancellation = {
                "canceled_by": "t",
                "reason": None,
                "canceler_type": "host",
                "created_at": NOW,
            }
            store.cancel(event, cancellation, NOW)
        assert _answers(cached, store) == _answers(Availability(store), store)
