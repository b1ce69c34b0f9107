"""The in-memory rate budget never grants a call its plan would refuse, and bookings go first."""

from __future__ import annotations

import threading
from collections.abc import Callable

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from autobook.calendly import (
    CalendlyClient,
    InMemoryBudget,
    PlanLimits,
    RetryPolicy,
    build_http_client,
)
from autobook.calendly.budget import STANDARD, TRIAL, UNLIMITED, CallKind
from autobook.calendly.limits import SAFETY_MARGIN_SECONDS, resolve_plan, windows_for
from autobook.errors import RateLimited

MINUTE = 60.0 + SAFETY_MARGIN_SECONDS
HOUR = 3600.0 + SAFETY_MARGIN_SECONDS
DAY = 86400.0 + SAFETY_MARGIN_SECONDS


class FakeClock:
    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def grant_all(budget: InMemoryBudget, kind: CallKind, n: int, *, priority: bool = False) -> int:
    return sum(budget.acquire("U", kind, priority=priority) == 0 for _ in range(n))


def test_standard_general_calls_stop_short_of_the_booking_reserve() -> None:
    budget = InMemoryBudget(STANDARD, clock=FakeClock())

    granted = grant_all(budget, "general", 600)

    assert STANDARD.general_reserve == 10
    assert granted == 490
    assert budget.acquire("U", "general") == pytest.approx(MINUTE)


def test_bookings_and_priority_reads_use_the_reserve_but_not_beyond_the_limit() -> None:
    budget = InMemoryBudget(
        PlanLimits(general_per_minute=20, invitees_per_minute=5), clock=FakeClock()
    )
    assert budget._plan.general_reserve == 1

    assert grant_all(budget, "general", 30) == 19
    assert grant_all(budget, "general", 5, priority=True) == 1
    assert budget.acquire("U", "invitee_post") > 0  # the general window is full: 20 of 20


def test_a_booking_still_goes_when_polls_have_filled_their_share() -> None:
    budget = InMemoryBudget(STANDARD, clock=FakeClock())
    grant_all(budget, "general", 600)

    assert budget.acquire("U", "invitee_post") == 0


def test_invitee_posts_are_limited_per_minute_and_the_wait_is_exact() -> None:
    clock = FakeClock()
    budget = InMemoryBudget(STANDARD, clock=clock)
    for _ in range(10):
        assert budget.acquire("U", "invitee_post") == 0
        clock.advance(1)

    wait = budget.acquire("U", "invitee_post")

    assert wait == pytest.approx(MINUTE - 10)  # the first grant leaves the window then
    clock.advance(wait)
    assert budget.acquire("U", "invitee_post") == 0
    assert budget.acquire("U", "invitee_post") > 0


def test_invitee_posts_are_limited_per_hour() -> None:
    clock = FakeClock()
    budget = InMemoryBudget(STANDARD, clock=clock)
    for _ in range(5):
        assert grant_all(budget, "invitee_post", 10) == 10
        clock.advance(MINUTE)

    wait = budget.acquire("U", "invitee_post")

    assert wait == pytest.approx(HOUR - 5 * MINUTE)


def test_invitee_posts_are_limited_per_day() -> None:
    clock = FakeClock()
    budget = InMemoryBudget(STANDARD, clock=clock)
    granted = 0
    for _ in range(3):
        for _ in range(5):
            granted += grant_all(budget, "invitee_post", 10)
            clock.advance(MINUTE)
        clock.advance(HOUR)

    assert granted == 100
    assert budget.acquire("U", "invitee_post") > HOUR


def test_trial_allows_five_bookings_a_day() -> None:
    budget = InMemoryBudget("trial", clock=FakeClock())

    assert grant_all(budget, "invitee_post", 20) == 5
    assert budget.acquire("U", "invitee_post") == pytest.approx(DAY)
    assert TRIAL.invitees_per_day == 5


def test_unlimited_never_waits() -> None:
    budget = InMemoryBudget(UNLIMITED, clock=FakeClock())

    assert grant_all(budget, "general", 2000) == 2000
    assert grant_all(budget, "invitee_post", 2000) == 2000


def test_a_refused_call_is_not_recorded() -> None:
    clock = FakeClock()
    budget = InMemoryBudget(PlanLimits(general_per_minute=3, reserved_for_bookings=0), clock=clock)
    grant_all(budget, "general", 3)
    for _ in range(100):
        assert budget.acquire("U", "general") > 0

    clock.advance(MINUTE)

    assert grant_all(budget, "general", 10) == 3


def test_users_have_separate_budgets_and_plans() -> None:
    budget = InMemoryBudget(
        PlanLimits(general_per_minute=2, reserved_for_bookings=0),
        per_user={"big": PlanLimits(general_per_minute=5, reserved_for_bookings=0)},
        clock=FakeClock(),
    )

    assert sum(budget.acquire("a", "general") == 0 for _ in range(10)) == 2
    assert sum(budget.acquire("b", "general") == 0 for _ in range(10)) == 2
    assert sum(budget.acquire("big", "general") == 0 for _ in range(10)) == 5


def test_a_general_429_stops_every_call_until_the_reset() -> None:
    clock = FakeClock()
    budget = InMemoryBudget(STANDARD, clock=clock)

    budget.penalize("U", 30)

    assert budget.acquire("U", "general") == pytest.approx(30)
    assert budget.acquire("U", "invitee_post") == pytest.approx(30)
    assert budget.acquire("other", "general") == 0
    clock.advance(30)
    assert budget.acquire("U", "general") == 0


def test_an_invitee_429_stops_only_bookings() -> None:
    budget = InMemoryBudget(STANDARD, clock=FakeClock())

    budget.penalize("U", 60, kind="invitee_post")

    assert budget.acquire("U", "invitee_post") == pytest.approx(60)
    assert budget.acquire("U", "general") == 0


def test_a_shorter_penalty_never_shortens_a_longer_one() -> None:
    budget = InMemoryBudget(STANDARD, clock=FakeClock())

    budget.penalize("U", 60)
    budget.penalize("U", 5)

    assert budget.acquire("U", "general") == pytest.approx(60)


def test_plans_are_resolved_by_name() -> None:
    assert resolve_plan("standard") == STANDARD
    assert resolve_plan("ENTERPRISE").invitees_per_minute == 500
    with pytest.raises(ValueError, match="unknown Calendly plan"):
        resolve_plan("platinum")


def test_threads_sharing_a_budget_never_exceed_the_limit() -> None:
    budget = InMemoryBudget(PlanLimits(general_per_minute=100, reserved_for_bookings=0))
    granted: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        mine = sum(budget.acquire("U", "general") == 0 for _ in range(200))
        with lock:
            granted.append(mine)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(granted) == 100


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(
            st.floats(min_value=0, max_value=400, allow_nan=False),
            st.sampled_from(["general", "invitee_post"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=300,
    )
)
def test_no_window_ever_holds_more_grants_than_its_limit(
    steps: list[tuple[float, CallKind, bool]],
) -> None:
    plan = PlanLimits(
        general_per_minute=12, invitees_per_minute=3, invitees_per_hour=7, invitees_per_day=9
    )
    clock = FakeClock()
    budget = InMemoryBudget(plan, clock=clock)
    grants: dict[str, list[float]] = {"general": [], "invitee": []}
    for gap, kind, priority in steps:
        clock.advance(gap)
        if budget.acquire("U", kind, priority=priority) == 0:
            grants["general"].append(clock.now)
            if kind == "invitee_post":
                grants["invitee"].append(clock.now)

    def most_in_any_window(times: list[float], length: float) -> int:
        return max((sum(t <= s < t + length for s in times) for t in times), default=0)

    assert most_in_any_window(grants["general"], MINUTE) <= 12
    assert most_in_any_window(grants["invitee"], MINUTE) <= 3
    assert most_in_any_window(grants["invitee"], HOUR) <= 7
    assert most_in_any_window(grants["invitee"], DAY) <= 9


def test_windows_for_a_general_call_and_a_booking() -> None:
    general = windows_for(STANDARD, "general")
    booking = windows_for(STANDARD, "invitee_post")

    assert [(w.name, w.limit) for w in general] == [("general", 490)]
    assert [(w.name, w.limit) for w in booking] == [
        ("general", 500),
        ("invitee:minute", 10),
        ("invitee:hour", 50),
        ("invitee:day", 100),
    ]


# -- the client asks the budget before every call ------------------------------------------------


def budgeted_client(
    budget: InMemoryBudget,
    sleeps: list[float],
    max_wait: float = 2.0,
    sleep: Callable[[float], None] | None = None,
) -> tuple[CalendlyClient, list[httpx.Request]]:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        status = 201 if request.method == "POST" else 200
        return httpx.Response(status, json={"resource": {"uri": "u", "event": "e"}})

    http = build_http_client(
        "http://127.0.0.1:9",
        "t",
        connect_timeout=1,
        read_timeout=1,
        transport=httpx.MockTransport(handler),
    )
    client = CalendlyClient(
        http,
        budget=budget,
        budget_key="U",
        retry=RetryPolicy.for_testing(),
        max_budget_wait_seconds=max_wait,
        sleep=sleep or sleeps.append,
    )
    return client, sent


def test_client_raises_rate_limited_without_sending_when_the_wait_is_long() -> None:
    budget = InMemoryBudget(STANDARD, clock=FakeClock())
    sleeps: list[float] = []
    client, sent = budgeted_client(budget, sleeps)
    for _ in range(10):
        client.create_invitee({})

    with pytest.raises(RateLimited) as caught:
        client.create_invitee({})

    assert len(sent) == 10
    assert caught.value.retry_after == pytest.approx(MINUTE)
    assert sleeps == []


def test_client_sleeps_through_a_short_budget_wait_then_sends() -> None:
    clock = FakeClock()
    budget = InMemoryBudget(PlanLimits(general_per_minute=1, reserved_for_bookings=0), clock=clock)
    sleeps: list[float] = []

    def sleep_and_advance(seconds: float) -> None:
        sleeps.append(seconds)
        clock.advance(seconds)

    client, sent = budgeted_client(budget, sleeps, max_wait=120, sleep=sleep_and_advance)
    client.get_current_user()
    client.get_current_user()

    assert len(sent) == 2
    assert sleeps == [pytest.approx(MINUTE)]


def test_prioritized_client_uses_the_booking_reserve() -> None:
    budget = InMemoryBudget(
        PlanLimits(general_per_minute=3, reserved_for_bookings=1), clock=FakeClock()
    )
    client, sent = budgeted_client(budget, [])
    client.get_current_user()
    client.get_current_user()

    with pytest.raises(RateLimited):
        client.get_current_user()
    client.prioritized().get_current_user()

    assert len(sent) == 3


def test_get_retries_each_ask_the_budget_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    budget = InMemoryBudget(UNLIMITED, clock=FakeClock())
    original: Callable[..., float] = budget.acquire

    def counting(user_key: str, kind: CallKind, *, priority: bool = False) -> float:
        calls.append(kind)
        return original(user_key, kind, priority=priority)

    monkeypatch.setattr(budget, "acquire", counting)
    answers = [httpx.Response(503), httpx.Response(200, json={"resource": {"uri": "u"}})]
    http = build_http_client(
        "http://127.0.0.1:9",
        "t",
        connect_timeout=1,
        read_timeout=1,
        transport=httpx.MockTransport(lambda request: answers.pop(0)),
    )

    CalendlyClient(http, budget=budget, retry=RetryPolicy.for_testing()).get_current_user()

    assert calls == ["general", "general"]
