"""Gauges computed when Prometheus scrapes: the queue from the database, the budget from Redis.

They describe shared state, not one process's work, so they are read at scrape time rather
than kept in a process: every worker and the intake report the same values, and a restart
loses nothing. A scrape that cannot reach the database or Redis leaves those gauges out and
logs why; it never fails the whole scrape.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import redis
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError

from autobook import db, store, summary
from autobook.calendly.budget_view import read_budgets
from autobook.config import Settings
from autobook.times import utc_now

log = logging.getLogger(__name__)


class QueueCollector(Collector):
    """The queue and budget gauges, read from the database and Redis at each scrape."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._sessions = db.make_session_factory(db.make_engine(settings.database_url))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self._queue()
        yield from self._write_back()
        yield from self._budget()

    def _write_back(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self._sessions() as session:
                due, oldest_due = store.outbox.backlog(session, now=utc_now())
                subscription = store.subscription_state.current(session)
        except SQLAlchemyError as exc:
            log.warning("metrics: cannot read the callbacks (%s)", type(exc).__name__)
            return
        yield GaugeMetricFamily(
            "autobook_callbacks_due",
            "Callbacks due for delivery now (new, or retries whose time came).",
            value=due,
        )
        yield GaugeMetricFamily(
            "autobook_callback_oldest_due_seconds",
            "How long the oldest due callback has waited for delivery (0 when none is due).",
            value=oldest_due,
        )
        if subscription is not None and subscription.state is not None:
            # Only once `autobook webhooks ensure` made one, and a worker asked Calendly about it.
            yield GaugeMetricFamily(
                "autobook_webhook_subscription_active",
                "1 while Calendly says the webhook subscription is active; 0 when it is "
                "disabled or gone.",
                value=1.0 if subscription.state == "active" else 0.0,
            )

    def _queue(self) -> Iterator[GaugeMetricFamily]:
        try:
            with self._sessions() as session:
                snapshot = summary.take_snapshot(session, utc_now())
        except SQLAlchemyError as exc:
            log.warning("metrics: cannot read the database (%s)", type(exc).__name__)
            return
        in_state = GaugeMetricFamily(
            "autobook_requests_in_state", "Requests in each open status.", labels=["status"]
        )
        for status in summary.OPEN_STATUSES:
            in_state.add_metric([status.value], snapshot.counts.get(status.value, 0))
        yield in_state
        oldest = snapshot.oldest_waiting
        yield GaugeMetricFamily(
            "autobook_oldest_waiting_seconds",
            "Age of the oldest request in waiting (0 when none waits).",
            value=0.0 if oldest is None else oldest.age_seconds,
        )
        yield GaugeMetricFamily(
            "autobook_sending_paused",
            "1 while sending is paused after Calendly refused the token (401).",
            value=0.0 if snapshot.paused_reason is None else 1.0,
        )

    def _budget(self) -> Iterator[GaugeMetricFamily]:
        if not self._settings.redis_url:
            return
        client = redis.Redis.from_url(
            self._settings.redis_url, socket_connect_timeout=2, socket_timeout=2
        )
        try:
            budgets = read_budgets(client, self._settings.plan_limits())
        except (redis.RedisError, OSError) as exc:
            log.warning("metrics: cannot read the budget from Redis (%s)", type(exc).__name__)
            return
        finally:
            client.close()
        remaining = GaugeMetricFamily(
            "autobook_budget_remaining",
            "Calls left in each rate window, per Calendly user (a digest of its token).",
            labels=["user", "window"],
        )
        for budget in budgets:
            for window in budget.windows:
                remaining.add_metric([budget.user, window.window], window.remaining)
        yield remaining
