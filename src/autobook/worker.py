"""The Celery app and its reliability settings.

The broker is a doorbell, the database is the truth: a lost, duplicated or late message never
changes an outcome, because every task claims its request in the database first (see
`autobook.store`). The settings (in `autobook.broker`, which senders share) make delivery
at-least-once and bring back the messages of a dead worker quickly; the periodic dispatcher
(`autobook.dispatch`, run by the embedded beat) re-sends whatever is due or whose lease expired,
so a message that is gone for good loses nothing.

- `task_acks_late` + `task_reject_on_worker_lost`: a message is acknowledged only after its task
  ran, and goes back to the queue when the worker process dies mid-task.
- `worker_prefetch_multiplier = 1`: a worker holds no more messages than it runs, so a crash strands
  none and a slow poll does not delay the bookings queued behind it.
- Redis `visibility_timeout` above the longest task: otherwise Redis redelivers a message whose
  task is still running. A redelivered message is harmless (the claim refuses it), only wasteful.
  It is *not* what brings a dead worker's request back: that request is leased, so any copy of
  its message is refused until the lease expires, and then the dispatcher re-sends it at once
  (`store.take_due`). Recovery after `kill -9` is the lease's remainder plus one dispatch tick;
  see docs/reliability.md for the figures.
- No ETA or countdown at all: Redis re-delivers ETA messages that outlive the visibility timeout.
  Future work is the request's `next_action_at`, which the dispatcher watches.
- A Redis restart: the worker reconnects for ever (`broker_connection_max_retries = None`), with
  socket timeouts and health checks so a dead connection is noticed within seconds; running tasks
  finish their work (`worker_cancel_long_running_tasks_on_connection_loss = False`: their writes
  are fenced, and cancelling one mid-POST would only force a reconcile). Messages lost with
  Redis's memory are re-sent by the dispatcher, since their requests stay due in the database.
- A consumer that stalls after a Redis restart (a Celery/kombu bug: it waits on a dead socket
  for ever) is reconnected by `BrokerWatchdog` (see `autobook.broker_watchdog`).
- Hostile messages never stop a worker: the transports read every raw item through a door that
  quarantines what is no message (`autobook.queue`), and the consumer records every message it
  cannot run as `invalid` before acknowledging it (`autobook.consumer`).
- Callback deliveries go to their own queue, `autobook.callbacks`, consumed by a pool of
  their own (see `autobook.worker_queues`).
- The embedded beat keeps its schedule in memory: the dispatch tick has nothing to persist, and
  several workers on one data folder must not share a schedule file.
- Each pool process builds its runtime (database engine, HTTP clients and their TLS contexts)
  as it starts, in a thread: its first request no longer waits for it (about 50 ms of CPU a
  process; a tenth of the workers' busy time in a 500-booking burst on 8 fresh processes).
"""

from __future__ import annotations

import logging
import threading

from celery import Celery, signals

from autobook import runtime, tasks
from autobook.broker import (
    FILESYSTEM_POLLING_INTERVAL_SECONDS,
    QUEUE_NAME,
    REDIS_HEALTH_CHECK_INTERVAL_SECONDS,
    REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS,
    REDIS_SOCKET_TIMEOUT_SECONDS,
    REDIS_VISIBILITY_TIMEOUT_SECONDS,
    base_app,
    redis_transport_options,
)
from autobook.broker_watchdog import BrokerWatchdog
from autobook.config import Settings, get_settings

__all__ = [
    "FILESYSTEM_POLLING_INTERVAL_SECONDS",
    "IN_MEMORY_BEAT_SCHEDULER",
    "QUEUE_NAME",
    "REDIS_HEALTH_CHECK_INTERVAL_SECONDS",
    "REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS",
    "REDIS_SOCKET_TIMEOUT_SECONDS",
    "REDIS_VISIBILITY_TIMEOUT_SECONDS",
    "app",
    "create_app",
    "redis_transport_options",
]

IN_MEMORY_BEAT_SCHEDULER = "celery.beat:Scheduler"

log = logging.getLogger(__name__)


def _build_runtime() -> None:
    try:
        runtime.current()
    except Exception:
        log.warning("runtime not built at start; the first task builds it", exc_info=True)


@signals.worker_process_init.connect(weak=False)
def _warm_up_runtime(**_: object) -> None:
    """Build the new pool process's runtime in the background.

    In a thread: the process reports itself up at once (Celery kills a pool process that takes
    longer than a few seconds to start), and `runtime.current()` is locked, so a task that
    arrives first waits for this same build rather than making a second one.
    """
    threading.Thread(target=_build_runtime, name="autobook-runtime-warm-up", daemon=True).start()


def create_app(settings: Settings) -> Celery:
    """Build the Celery app from settings (no globals read here)."""
    app = base_app(settings)
    app.conf.update(
        beat_schedule={
            "dispatch-due-requests": {
                "task": tasks.DISPATCH_TASK,
                "schedule": float(settings.dispatch_interval_seconds),
                "options": {"expires": float(settings.dispatch_interval_seconds) * 2},
            }
        },
        beat_scheduler=IN_MEMORY_BEAT_SCHEDULER,
    )
    if not settings.uses_filesystem_broker:
        app.steps["consumer"].add(BrokerWatchdog)
    return app


app = create_app(get_settings())
# The tasks are `shared_task`s: importing `tasks` above registered them with every app.
assert tasks.BOOK_TASK in app.tasks
