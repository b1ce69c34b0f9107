"""RedisBudget against a real Redis: atomic across threads and processes, same rules as in memory.

Each test uses its own random key prefix and deletes its keys afterwards. Without Redis on
127.0.0.1:6379 the tests skip, except under CI=true, where they fail.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import uuid
from collections.abc import Iterator

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from autobook.calendly import BudgetUnavailable, PlanLimits, RedisBudget
from autobook.calendly.budget import STANDARD
from autobook.calendly.limits import SAFETY_MARGIN_SECONDS

pytestmark = pytest.mark.redis

REDIS_HOST, REDIS_PORT = "127.0.0.1", 6379
MINUTE = 60.0 + SAFETY_MARGIN_SECONDS


@pytest.fixture
def redis_client() -> Iterator[redis.Redis]:
    client = redis.Redis(
        host=REDIS_HOST, port=REDIS_PORT, socket_connect_timeout=1, retry=Retry(NoBackoff(), 0)
    )
    try:
        client.ping()
    except redis.RedisError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required under CI=true and is not reachable: {exc}")
        pytest.skip(f"Redis is not running on {REDIS_HOST}:{REDIS_PORT}")
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    value = f"autobook-test:{uuid.uuid4().hex}"
    yield value
    keys = list(redis_client.scan_iter(match=f"{value}:*"))
    if keys:
        redis_client.delete(*keys)


def redis_now_ms(client: redis.Redis) -> int:
    seconds, microseconds = client.time()
    return int(seconds) * 1000 + int(microseconds) // 1000


def log_key(prefix: str, user: str, window: str) -> str:
    return f"{prefix}:{{{user}}}:log:{window}"


def test_general_calls_are_granted_up_to_the_limit_minus_the_booking_reserve(
    redis_client: redis.Redis, prefix: str
) -> None:
    budget = RedisBudget(redis_client, plan=PlanLimits(general_per_minute=20), prefix=prefix)

    granted = sum(budget.acquire("U", "general") == 0 for _ in range(40))

    assert granted == 19
    assert budget.acquire("U", "general") == pytest.approx(MINUTE, abs=1.0)
    assert budget.acquire("U", "invitee_post") == 0  # the reserve is the booking's
    assert redis_client.zcard(log_key(prefix, "U", "general")) == 20


def test_invitee_posts_are_limited_per_minute_hour_and_day(
    redis_client: redis.Redis, prefix: str
) -> None:
    budget = RedisBudget(redis_client, plan="standard", prefix=prefix)

    granted = sum(budget.acquire("U", "invitee_post") == 0 for _ in range(15))

    assert granted == 10
    assert 0 < budget.acquire("U", "invitee_post") <= MINUTE
    for window in ("minute", "hour", "day"):
        assert redis_client.zcard(log_key(prefix, "U", f"invitee:{window}")) == 10


def test_old_grants_leave_the_window_and_the_wait_is_until_the_oldest_leaves(
    redis_client: redis.Redis, prefix: str
) -> None:
    budget = RedisBudget(
        redis_client,
        plan=PlanLimits(general_per_minute=3, reserved_for_bookings=0),
        prefix=prefix,
    )
    key = log_key(prefix, "U", "general")
    now = redis_now_ms(redis_client)
    # Two grants long gone, three inside the window (40 s, 30 s and 20 s ago).
    redis_client.zadd(
        key,
        {"gone1": now - 200_000, "gone2": now - 70_000, "a": now - 40_000, "b": now - 30_000},
    )
    redis_client.zadd(key, {"c": now - 20_000})

    wait = budget.acquire("U", "general")

    assert wait == pytest.approx(MINUTE - 40, abs=0.5)
    assert redis_client.zscore(key, "gone1") is None
    assert redis_client.zcard(key) == 3


def test_a_grant_that_just_left_the_window_frees_a_slot(
    redis_client: redis.Redis, prefix: str
) -> None:
    budget = RedisBudget(
        redis_client,
        plan=PlanLimits(general_per_minute=1, reserved_for_bookings=0),
        prefix=prefix,
    )
    now = redis_now_ms(redis_client)
    redis_client.zadd(log_key(prefix, "U", "general"), {"old": now - int(MINUTE * 1000) - 5})

    assert budget.acquire("U", "general") == 0


def test_penalties_block_everyone_until_the_reset_and_never_shrink(
    redis_client: redis.Redis, prefix: str
) -> None:
    budget = RedisBudget(redis_client, plan=STANDARD, prefix=prefix)
    other_process = RedisBudget(redis.Redis(host=REDIS_HOST, port=REDIS_PORT), prefix=prefix)

    budget.penalize("U", 30)
    budget.penalize("U", 2)

    assert other_process.acquire("U", "general") == pytest.approx(30, abs=0.5)
    assert other_process.acquire("U", "invitee_post") == pytest.approx(30, abs=0.5)
    assert other_process.acquire("V", "general") == 0


def test_an_invitee_penalty_blocks_only_bookings(redis_client: redis.Redis, prefix: str) -> None:
    budget = RedisBudget(redis_client, prefix=prefix)

    budget.penalize("U", 45, kind="invitee_post")

    assert budget.acquire("U", "invitee_post") == pytest.approx(45, abs=0.5)
    assert budget.acquire("U", "general") == 0


def test_keys_expire_when_idle_and_share_one_cluster_slot_per_user(
    redis_client: redis.Redis, prefix: str
) -> None:
    budget = RedisBudget(redis_client, prefix=prefix)
    budget.acquire("https://api.calendly.com/users/U1", "invitee_post")
    budget.penalize("https://api.calendly.com/users/U1", 10)

    keys = [k.decode() for k in redis_client.scan_iter(match=f"{prefix}:*")]

    assert len(keys) == 5
    assert all("{https://api.calendly.com/users/U1}" in k for k in keys)
    assert all(0 < redis_client.pttl(k) <= 86_401_000 for k in keys)


def test_threads_sharing_redis_never_exceed_the_limit(
    redis_client: redis.Redis, prefix: str
) -> None:
    plan = PlanLimits(general_per_minute=100, reserved_for_bookings=0)
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
        budget = RedisBudget(client, plan=plan, prefix=prefix)
        mine = sum(budget.acquire("U", "general") == 0 for _ in range(60))
        with lock:
            results.append(mine)
        client.close()

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sum(results) == 100
    assert redis_client.zcard(log_key(prefix, "U", "general")) == 100


def _acquire_in_a_process(prefix: str, attempts: int, queue: multiprocessing.Queue[int]) -> None:
    client = redis.Redis(host=REDIS_HOST, port=REDIS_PORT)
    budget = RedisBudget(client, plan="standard", prefix=prefix)
    granted = 0
    for i in range(attempts):
        kind = "invitee_post" if i % 3 == 0 else "general"
        if budget.acquire("U", kind) == 0 and kind == "invitee_post":
            granted += 1
    queue.put(granted)


def test_processes_sharing_redis_never_exceed_the_booking_limit(
    redis_client: redis.Redis, prefix: str
) -> None:
    context = multiprocessing.get_context("fork")
    queue: multiprocessing.Queue[int] = context.Queue()
    processes = [
        context.Process(target=_acquire_in_a_process, args=(prefix, 300, queue)) for _ in range(4)
    ]
    for process in processes:
        process.start()
    granted_posts = [queue.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(timeout=60)

    assert sum(granted_posts) == 10
    assert redis_client.zcard(log_key(prefix, "U", "invitee:minute")) == 10
    # General calls stop at 490 in the window (10 kept for bookings); bookings may fill it to 500.
    assert 490 <= redis_client.zcard(log_key(prefix, "U", "general")) <= 500


def test_an_unreachable_redis_is_budget_unavailable_not_a_redis_error() -> None:
    unreachable = redis.Redis(
        host="127.0.0.1", port=1, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)
    )
    budget = RedisBudget(unreachable, prefix="autobook-test:unreachable")

    with pytest.raises(BudgetUnavailable):
        budget.acquire("U", "general")
    with pytest.raises(BudgetUnavailable):
        budget.penalize("U", 10)
