"""A consumer bootstep that reconnects a Redis consumer that silently stopped consuming.

Celery 5.7 / kombu 5.7 on Redis: when Redis restarts while tasks are running, their acks fail
("Couldn't ack ..., reason: network:ConnectionError"), and the consumer can end up waiting on a
socket that no longer exists. It never notices: no error, no reconnect, and no message is ever
taken again (celery/celery#8030, #8091, #10205 describe the same hang). autobook loses nothing
even then (the database is the truth and every request stays due), but that worker would book
nothing more until restarted.

The watchdog looks at what it can observe, not at kombu's internals: every
`CHECK_INTERVAL_SECONDS` it asks Redis (on a connection of its own) how many messages wait in the
worker's queue, and the worker how many it has reserved. A healthy consumer with a free slot
takes a waiting message within milliseconds; if there are free slots and waiting messages at
`STRIKES` checks in a row, the consumer is stalled, and the watchdog raises a connection error
in the event loop, which makes Celery drop the connection and reconnect. A false alarm only
costs a reconnect: running tasks go on, and their requests are fenced in the database anyway.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from celery import bootsteps
from celery.worker import state

log = logging.getLogger(__name__)

CHECK_INTERVAL_SECONDS = 2.0
STRIKES = 3
REDIS_TIMEOUT_SECONDS = 2.0


class ConsumerStalled(redis.exceptions.ConnectionError):
    """The consumer has free slots and messages wait in its queue, yet it takes none."""


class BrokerWatchdog(bootsteps.StartStopStep):
    """Reconnect the consumer when it stalls with free slots while messages wait."""

    requires = ("celery.worker.consumer.tasks:Tasks",)

    def __init__(self, parent: Any, **kwargs: Any) -> None:
        super().__init__(parent, **kwargs)
        self._timer_entry: Any = None
        self._strikes = 0
        self._redis: redis.Redis | None = None

    def start(self, parent: Any) -> None:
        self.stop(parent)
        self._strikes = 0
        url = parent.app.conf.broker_url
        self._redis = redis.Redis.from_url(
            url,
            socket_timeout=REDIS_TIMEOUT_SECONDS,
            socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
        )
        # The queues this consumer reads (a worker may consume one of several).
        consumed = getattr(getattr(parent, "task_consumer", None), "queues", None) or []
        self._queues = [str(q.name) for q in consumed] or [str(parent.app.conf.task_default_queue)]
        self._timer_entry = parent.timer.call_repeatedly(
            CHECK_INTERVAL_SECONDS, self.check, (parent,), priority=10
        )

    def stop(self, parent: Any) -> None:
        if self._timer_entry is not None:
            self._timer_entry.cancel()
            self._timer_entry = None
        if self._redis is not None:
            self._redis.close()
            self._redis = None

    shutdown = stop

    def _waiting(self) -> int:
        assert self._redis is not None
        try:
            return sum(int(self._redis.llen(name)) for name in self._queues)
        except redis.RedisError:
            return 0  # Redis is down: the consumer's own reconnect handles that

    def check(self, parent: Any) -> None:
        capacity = int(parent.controller.concurrency) * int(parent.prefetch_multiplier or 1)
        free = capacity - len(state.reserved_requests)
        stalled = free > 0 and self._waiting() > 0
        self._strikes = self._strikes + 1 if stalled else 0
        if self._strikes >= STRIKES:
            self._strikes = 0
            log.warning(
                "broker watchdog: %d free slots while messages wait in the queue for %.0fs; "
                "reconnecting to the broker",
                free,
                CHECK_INTERVAL_SECONDS * STRIKES,
            )
            raise ConsumerStalled("the consumer stopped taking messages; reconnecting")
