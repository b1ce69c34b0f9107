"""The composition root: builds, once per process, what the booking service needs.

Celery's prefork pool forks worker processes; sockets and database connections must not cross a
fork, so the runtime is built lazily, in the process that uses it, and rebuilt if the pid changes.
"""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import redis
from sqlalchemy.orm import Session, sessionmaker

from autobook import db
from autobook.booking.availability import AvailabilitySnapshots, RedisSnapshots, SharedSnapshots
from autobook.booking.context import BookingContext
from autobook.booking.resolve import EventTypeResolver
from autobook.booking.service import BookingService
from autobook.booking.stale_marks import FolderStaleMarks
from autobook.booking.sweep import Sweeper
from autobook.calendly.budget import RateBudget, RedisBudget
from autobook.calendly.budget_file import BUDGET_FILE_NAME, FileBudget
from autobook.calendly.client import (
    DEFAULT_MAX_BUDGET_WAIT_SECONDS,
    CalendlyClient,
    build_http_client,
)
from autobook.calendly.retry import RetryPolicy
from autobook.callbacks.delivery import Courier
from autobook.callbacks.delivery import build_http as build_callback_http
from autobook.config import Settings, get_settings
from autobook.errors import AutobookError
from autobook.proposals.engine import alternatives_for
from autobook.times import utc_now
from autobook.webhooks.sweep import BookedSweep
from autobook.webhooks.watch import SubscriptionWatch

SWEEP_KEY = "autobook:sweep"
SWEEP_STAMP = "sweep.stamp"
BOOKED_SWEEP_KEY = "autobook:booked-sweep"
BOOKED_SWEEP_STAMP = "booked-sweep.stamp"


class MissingToken(AutobookError):
    """AUTOBOOK_CALENDLY_TOKEN is not set: the worker cannot call Calendly."""


@dataclass
class Runtime:
    settings: Settings
    sessions: sessionmaker[Session]
    service: BookingService
    client: CalendlyClient
    sweeper: Sweeper
    courier: Courier
    booked_sweep: BookedSweep
    subscription_watch: SubscriptionWatch


def sweep_gate(
    settings: Settings,
    *,
    key: str = SWEEP_KEY,
    stamp_name: str = SWEEP_STAMP,
    interval_seconds: float | None = None,
) -> Callable[[], bool]:
    """Whether this process sweeps the waiting requests now: one process per repoll interval.

    With Redis, the first process of the deployment to set a key that lives one interval; on
    embedded defaults, the first to move a stamp file in the data folder (the worker's prefork
    processes share it), under a lock.
    """
    interval = float(
        settings.waiting_repoll_seconds if interval_seconds is None else interval_seconds
    )
    if settings.redis_url:
        client = redis.Redis.from_url(settings.redis_url)

        def shared_turn() -> bool:
            try:
                return bool(client.set(key, os.getpid(), nx=True, px=int(interval * 1000)))
            except redis.RedisError:
                return False  # the requests are still due at their `keep_trying_until`

        return shared_turn
    stamp = settings.data_dir / stamp_name

    def file_turn() -> bool:
        import fcntl

        stamp.parent.mkdir(parents=True, exist_ok=True)
        with stamp.open("a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                if time.time() - os.fstat(handle.fileno()).st_mtime < interval and (
                    os.fstat(handle.fileno()).st_size > 0
                ):
                    return False
                handle.seek(0)
                handle.truncate()
                handle.write(str(os.getpid()))
                handle.flush()
                return True
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    return file_turn


def build_budget(settings: Settings) -> RateBudget:
    if settings.redis_url:
        return RedisBudget(redis.Redis.from_url(settings.redis_url), plan=settings.plan_limits())
    # Every process on this machine shares the budget, through a file in the data folder.
    return FileBudget(settings.data_dir / BUDGET_FILE_NAME, plan=settings.plan_limits())


def build_shared_snapshots(settings: Settings) -> SharedSnapshots:
    """With Redis, every worker process shares the availability it polled and its stale marks;
    without, the stale marks go through the data folder (a slot that opened reaches every
    process's cache: see `booking.stale_marks`)."""
    if not settings.redis_url:
        return FolderStaleMarks(settings.data_dir)
    return RedisSnapshots(redis.Redis.from_url(settings.redis_url))


def budget_key_for(token: str) -> str:
    """Calendly limits per user, and one token is one user: key the budget by a token digest."""
    return "token-" + hashlib.sha256(token.encode()).hexdigest()[:16]


def post_call_bound(settings: Settings, policy: RetryPolicy) -> timedelta:
    """The longest one `POST /invitees` call can take, from the first budget ask to giving up.

    Each attempt may wait for the budget and for a connection; only a connect failure (nothing
    sent) is retried, after a backoff; the attempt that is sent waits at most the read timeout.
    """
    attempts = max(1, policy.max_attempts)
    per_attempt = DEFAULT_MAX_BUDGET_WAIT_SECONDS + settings.http_connect_timeout_seconds
    backoffs = (attempts - 1) * policy.max_wait_seconds * policy.wait_multiplier
    return timedelta(seconds=attempts * per_attempt + backoffs + settings.http_read_timeout_seconds)


def ring_at(request_id: str, at: datetime) -> None:
    """Send `autobook.book` for `request_id`, to run at `at` (a delayed message)."""
    from autobook.tasks import book  # the tasks import this module

    book.apply_async(args=(request_id,), eta=at)


def retry_policy(settings: Settings) -> RetryPolicy:
    return RetryPolicy.for_testing() if settings.testing else RetryPolicy()


def build_calendly_client(settings: Settings) -> CalendlyClient:
    """The Calendly client of one process, on the shared rate budget."""
    if settings.calendly_token is None:
        raise MissingToken
    token = settings.calendly_token.get_secret_value()
    http = build_http_client(
        settings.calendly_url,
        token,
        connect_timeout=settings.http_connect_timeout_seconds,
        read_timeout=settings.http_read_timeout_seconds,
    )
    return CalendlyClient(
        http,
        budget=build_budget(settings),
        budget_key=budget_key_for(token),
        retry=retry_policy(settings),
        max_budget_wait_seconds=DEFAULT_MAX_BUDGET_WAIT_SECONDS,
    )


def build_runtime(settings: Settings) -> Runtime:
    sessions = db.make_session_factory(db.make_engine(settings.database_url))
    client = build_calendly_client(settings)
    policy = retry_policy(settings)
    context = BookingContext(
        settings=settings,
        sessions=sessions,
        client=client,
        resolver=EventTypeResolver(client, ttl_seconds=settings.event_type_cache_seconds),
        snapshots=AvailabilitySnapshots(
            client,
            ttl_seconds=settings.availability_cache_seconds,
            # A waiting request searching again accepts what is at most one repoll old.
            keep_seconds=settings.waiting_repoll_seconds,
            shared=build_shared_snapshots(settings),
        ),
        clock=utc_now,
        worker_id=f"{socket.gethostname()}:{os.getpid()}",
        post_call=post_call_bound(settings, policy),
        wake=ring_at,
    )
    context.propose_alternatives = alternatives_for(context)
    return Runtime(
        settings,
        sessions,
        BookingService(context),
        client,
        Sweeper(context, sweep_gate(settings)),
        Courier(sessions, settings, build_callback_http(settings), clock=utc_now),
        BookedSweep(
            sessions,
            client,
            sweep_gate(
                settings,
                key=BOOKED_SWEEP_KEY,
                stamp_name=BOOKED_SWEEP_STAMP,
                interval_seconds=settings.booked_sweep_seconds,
            ),
            utc_now,
        ),
        SubscriptionWatch(sessions, client, utc_now),
    )


_lock = threading.Lock()
_runtime: tuple[int, Runtime] | None = None


def current() -> Runtime:
    """This process's runtime, built on first use after any fork."""
    global _runtime
    with _lock:
        if _runtime is None or _runtime[0] != os.getpid():
            _runtime = (os.getpid(), build_runtime(get_settings()))
        return _runtime[1]
