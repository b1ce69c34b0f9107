"""Only calls that cannot have taken effect are retried in place; waits are bounded and testable."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from autobook.calendly import (
    CalendlyClient,
    InMemoryBudget,
    ReadFailed,
    RetryPolicy,
    build_http_client,
)
from autobook.calendly.retry import backoff_seconds, is_retryable
from autobook.errors import (
    OutcomeUnknown,
    RateLimited,
    RequestNotSent,
    RequestRejected,
    SlotTaken,
    Unauthorized,
)

BASE_URL = "http://127.0.0.1:9"
USER = {"resource": {"uri": "https://api.calendly.com/users/U1"}}
INVITEE = {
    "resource": {
        "uri": "https://api.calendly.com/scheduled_events/E/invitees/I",
        "event": "https://api.calendly.com/scheduled_events/E",
    }
}


class Script:
    """Answers successive calls with the given outcomes (an exception type or a response)."""

    def __init__(self, *outcomes: Callable[[httpx.Request], httpx.Response]) -> None:
        self.outcomes = list(outcomes)
        self.calls = 0

    def __call__(self, request: httpx.Request) -> httpx.Response:
        outcome = self.outcomes[min(self.calls, len(self.outcomes) - 1)]
        self.calls += 1
        return outcome(request)


def fail(exc_type: type[httpx.TransportError]) -> Callable[[httpx.Request], httpx.Response]:
    def raise_it(request: httpx.Request) -> httpx.Response:
        raise exc_type("simulated", request=request)

    return raise_it


def answer(status: int, body: object = None, **headers: str) -> Callable[..., httpx.Response]:
    return lambda request: httpx.Response(status, json=body, headers=headers)


def client_for(
    script: Script,
    *,
    policy: RetryPolicy | None = None,
    sleeps: list[float] | None = None,
    budget: InMemoryBudget | None = None,
) -> CalendlyClient:
    http = build_http_client(
        BASE_URL, "t", connect_timeout=1, read_timeout=1, transport=httpx.MockTransport(script)
    )
    recorded = sleeps if sleeps is not None else []
    return CalendlyClient(
        http,
        retry=policy or RetryPolicy(max_attempts=4, wait_multiplier=0),
        budget=budget,
        sleep=recorded.append,
    )


@pytest.mark.parametrize(
    "exc_type",
    [httpx.ReadTimeout, httpx.WriteTimeout, httpx.RemoteProtocolError, httpx.ReadError],
)
def test_post_invitees_is_never_retried_after_it_may_have_been_sent(
    exc_type: type[httpx.TransportError],
) -> None:
    script = Script(fail(exc_type), answer(201, INVITEE))

    with pytest.raises(OutcomeUnknown):
        client_for(script).create_invitee({})

    assert script.calls == 1


@pytest.mark.parametrize("status", [500, 502, 503])
def test_post_invitees_is_not_retried_on_5xx(status: int) -> None:
    script = Script(answer(status, {"title": "Internal Server Error"}), answer(201, INVITEE))

    with pytest.raises(OutcomeUnknown):
        client_for(script).create_invitee({})

    assert script.calls == 1


@pytest.mark.parametrize("exc_type", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_post_invitees_is_retried_when_the_connection_never_opened(
    exc_type: type[httpx.TransportError],
) -> None:
    script = Script(fail(exc_type), fail(exc_type), answer(201, INVITEE))

    invitee = client_for(script).create_invitee({})

    assert script.calls == 3
    assert invitee.uri.endswith("/invitees/I")


def test_post_gives_up_after_max_attempts_with_request_not_sent() -> None:
    script = Script(fail(httpx.ConnectError))

    with pytest.raises(RequestNotSent):
        client_for(script, policy=RetryPolicy(max_attempts=3, wait_multiplier=0)).create_invitee({})

    assert script.calls == 3


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (400, {"details": [{"message": "filled", "code": "already_filled"}]}, SlotTaken),
        (400, {"title": "Invalid Argument"}, RequestRejected),
        (401, {"title": "Unauthenticated"}, Unauthorized),
        (403, {"title": "Permission Denied"}, RequestRejected),
        (404, {"title": "Resource Not Found"}, RequestRejected),
        (429, {}, RateLimited),
    ],
)
def test_post_is_never_retried_on_a_refusal(
    status: int, body: object, error: type[Exception]
) -> None:
    script = Script(answer(status, body), answer(201, INVITEE))

    with pytest.raises(error):
        client_for(script).create_invitee({})

    assert script.calls == 1


@pytest.mark.parametrize(
    "first",
    [
        fail(httpx.ReadTimeout),
        fail(httpx.RemoteProtocolError),
        fail(httpx.ConnectError),
        answer(500, {}),
        answer(503, None),
    ],
)
def test_get_is_retried_on_transient_failures(first: Callable[..., httpx.Response]) -> None:
    script = Script(first, answer(200, USER))

    user = client_for(script).get_current_user()

    assert script.calls == 2
    assert user.uri.endswith("/U1")


def test_get_gives_up_after_max_attempts_with_a_read_failure() -> None:
    script = Script(fail(httpx.ReadTimeout))

    with pytest.raises(ReadFailed) as caught:
        client_for(script, policy=RetryPolicy(max_attempts=4, wait_multiplier=0)).get_current_user()

    assert isinstance(caught.value, RequestNotSent)
    assert script.calls == 4


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_get_is_not_retried_on_a_refusal(status: int) -> None:
    script = Script(answer(status, {"title": "no"}), answer(200, USER))

    with pytest.raises(RequestRejected):
        client_for(script).get_current_user()

    assert script.calls == 1


def test_get_waits_in_place_for_a_short_429_then_succeeds() -> None:
    sleeps: list[float] = []
    script = Script(answer(429, None, **{"X-RateLimit-Reset": "2"}), answer(200, USER))
    policy = RetryPolicy(max_inline_rate_limit_wait_seconds=5)

    client_for(script, policy=policy, sleeps=sleeps).get_current_user()

    assert script.calls == 2
    assert sleeps == [2.0]


def test_get_raises_a_long_429_to_the_caller() -> None:
    script = Script(answer(429, None, **{"X-RateLimit-Reset": "45"}), answer(200, USER))

    with pytest.raises(RateLimited) as caught:
        client_for(script).get_current_user()

    assert caught.value.retry_after == 45.0
    assert script.calls == 1


def test_a_429_penalizes_the_shared_budget() -> None:
    now = [1000.0]
    budget = InMemoryBudget("standard", clock=lambda: now[0])
    script = Script(answer(429, None, **{"X-RateLimit-Reset": "30"}))

    with pytest.raises(RateLimited):
        client_for(script, budget=budget).get_current_user()

    assert budget.acquire("default", "general") == pytest.approx(30.0)


def test_backoff_grows_exponentially_with_bounded_jitter_and_cap() -> None:
    policy = RetryPolicy(initial_wait_seconds=0.5, max_wait_seconds=8.0)

    for attempt, low in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0)]:
        wait = backoff_seconds(attempt, policy)
        assert low <= wait <= low + 0.5
    assert backoff_seconds(10, policy) == 8.0


def test_real_waits_are_used_unless_the_multiplier_is_zero() -> None:
    sleeps: list[float] = []
    script = Script(fail(httpx.ReadTimeout), fail(httpx.ReadTimeout), answer(200, USER))
    policy = RetryPolicy(initial_wait_seconds=0.5, max_wait_seconds=8.0, wait_multiplier=1.0)

    client_for(script, policy=policy, sleeps=sleeps).get_current_user()

    assert len(sleeps) == 2
    assert 0.5 <= sleeps[0] <= 1.0
    assert 1.0 <= sleeps[1] <= 1.5


def test_testing_policy_never_waits() -> None:
    sleeps: list[float] = []
    script = Script(fail(httpx.ReadTimeout), answer(200, USER))

    client_for(script, policy=RetryPolicy.for_testing(), sleeps=sleeps).get_current_user()

    assert sleeps == [0.0]


def test_retry_predicate_table() -> None:
    policy = RetryPolicy()
    short, long = RateLimited(retry_after=1), RateLimited(retry_after=60)

    assert is_retryable("GET", ReadFailed(), policy)
    assert is_retryable("GET", RequestNotSent(), policy)
    assert is_retryable("GET", short, policy)
    assert not is_retryable("GET", long, policy)
    assert is_retryable("POST", RequestNotSent(), policy)
    assert not is_retryable("POST", ReadFailed(), policy)
    assert not is_retryable("POST", OutcomeUnknown(), policy)
    assert not is_retryable("POST", short, policy)
    assert not is_retryable("POST", SlotTaken(), policy)
    assert not is_retryable("GET", Unauthorized(), policy)
