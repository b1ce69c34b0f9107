"""The Celery app and its reliability settings.

The broker is a doorbell, the database is the truth: a lost, duplicated or late message never
changes an outcome, because every task claims its request in the database first (see
`autobook.store`). The settings below make delivery at-least-once and bring back the messages of
a dead worker quickly; the periodic dispatcher (`autobook.dispatch`, run by the embedded beat)
re-sends whatever is due or whose lease expired, so a message that is gone for good loses nothing.

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
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from autobook import tasks
from autobook.broker_watchdog import BrokerWatchdog
from autobook.config import Settings, get_settings
from autobook.queue import transports
from autobook.worker_queues import BOOKING_QUEUE, CALLBACK_QUEUE

QUEUE_NAME = BOOKING_QUEUE
# Longer than any task can run: a task holds a lease of `lease_seconds` and renews it, and a
# booking step makes a bounded number of HTTP calls with explicit timeouts.
REDIS_VISIBILITY_TIMEOUT_SECONDS = 900
REDIS_SOCKET_TIMEOUT_SECONDS = 10.0  # above kombu's 1 s BRPOP wait
REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS = 5.0
REDIS_HEALTH_CHECK_INTERVAL_SECONDS = 10
FILESYSTEM_POLLING_INTERVAL_SECONDS = 0.1
IN_MEMORY_BEAT_SCHEDULER = "celery.beat:Scheduler"


def redis_transport_options() -> dict[str, Any]:
    return {
        "visibility_timeout": REDIS_VISIBILITY_TIMEOUT_SECONDS,
        "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS,
        "socket_keepalive": True,
        "retry_on_timeout": True,
        "health_check_interval": REDIS_HEALTH_CHECK_INTERVAL_SECONDS,
    }


def create_app(settings: Settings) -> Celery:
    """Build the Celery app from settings (no globals read here)."""
    app = Celery("autobook")
    transport_options: dict[str, Any]
    transport: str | None = None
    if settings.uses_filesystem_broker:
        transport_options = {
            **settings.filesystem_broker_dirs().create().transport_options(),
            "polling_interval": FILESYSTEM_POLLING_INTERVAL_SECONDS,
        }
        transport = transports.FILESYSTEM_TRANSPORT
    else:
        transport_options = redis_transport_options()
        # Not for rediss:// (yet): kombu turns TLS on from the URL's scheme only when it picks
        # the transport itself, so naming ours would connect without TLS unless ssl_* options
        # are given. Such a broker keeps kombu's unguarded transport until that is settled.
        if settings.celery_broker_url.startswith("redis://"):
            transport = transports.REDIS_TRANSPORT
    app.conf.update(
        broker_url=settings.celery_broker_url,
        broker_transport_options=transport_options,
        # kombu's transports with the queue door built in (see autobook.queue.transports).
        broker_transport=transport,
        broker_connection_retry_on_startup=True,
        broker_connection_retry=True,
        broker_connection_max_retries=None,
        worker_cancel_long_running_tasks_on_connection_loss=False,
        task_default_queue=QUEUE_NAME,
        # Deliveries on their own queue and pool: a hanging receiver holds no booking slot.
        task_routes={tasks.DELIVER_CALLBACK_TASK: {"queue": CALLBACK_QUEUE}},
        task_serializer="json",
        accept_content=["json"],
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_acks_on_failure_or_timeout=True,
        worker_prefetch_multiplier=1,
        worker_enable_remote_control=False,
        worker_send_task_events=False,
        worker_hijack_root_logger=False,
        # Records the messages Celery cannot run (undecodable, unknown task) before dropping them.
        worker_consumer="autobook.consumer:RecordingConsumer",
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
