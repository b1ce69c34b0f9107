"""The Celery app's broker and delivery settings, without the tasks: what a sender needs.

`autobook.worker` builds the worker's app from `base_app` and adds the tasks, the dispatch
schedule and the broker watchdog (its docstring says why each setting is what it is). A process
that only rings the doorbell (`autobook submit`, the Python API's callers) sends tasks by name
from `base_app` alone, without importing the worker's code: the dispatcher, the booking engine
and the Calendly client cost start-up time a one-shot command doesn't have to pay.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from autobook.config import Settings
from autobook.queue import transports
from autobook.worker_queues import BOOKING_QUEUE, CALLBACK_QUEUE

# Callback deliveries have their own queue, so a hanging receiver never holds a booking slot
# (`autobook.worker_queues`); every sender routes them there.
QUEUE_NAME = BOOKING_QUEUE
# The tasks' names (`autobook.tasks`), by which senders send them.
BOOK_TASK = "autobook.book"
DISPATCH_TASK = "autobook.dispatch"
DELIVER_CALLBACK_TASK = "autobook.deliver_callback"
SLOT_OPENED_TASK = "autobook.slot_opened"
# Longer than any task can run: a task holds a lease of `lease_seconds` and renews it, and a
# booking step makes a bounded number of HTTP calls with explicit timeouts.
REDIS_VISIBILITY_TIMEOUT_SECONDS = 900
REDIS_SOCKET_TIMEOUT_SECONDS = 10.0  # above kombu's 1 s BRPOP wait
REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS = 5.0
REDIS_HEALTH_CHECK_INTERVAL_SECONDS = 10
FILESYSTEM_POLLING_INTERVAL_SECONDS = 0.1


def redis_transport_options() -> dict[str, Any]:
    return {
        "visibility_timeout": REDIS_VISIBILITY_TIMEOUT_SECONDS,
        "socket_timeout": REDIS_SOCKET_TIMEOUT_SECONDS,
        "socket_connect_timeout": REDIS_SOCKET_CONNECT_TIMEOUT_SECONDS,
        "socket_keepalive": True,
        "retry_on_timeout": True,
        "health_check_interval": REDIS_HEALTH_CHECK_INTERVAL_SECONDS,
    }


def base_app(settings: Settings) -> Celery:
    """A Celery app on the configured broker, with autobook's delivery settings; no tasks."""
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
        task_routes={DELIVER_CALLBACK_TASK: {"queue": CALLBACK_QUEUE}},
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
    )
    return app
