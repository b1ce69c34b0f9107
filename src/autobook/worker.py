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
- No ETA or countdown at all: Redis re-delivers ETA messages that outlive the visibility timeout.
  Future work is the request's `next_action_at`, which the dispatcher watches.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from celery import Celery

from autobook import tasks
from autobook.config import Settings, get_settings

QUEUE_NAME = "autobook"
# Longer than any task can run: a task holds a lease of `lease_seconds` and renews it, and a
# booking step makes a bounded number of HTTP calls with explicit timeouts.
REDIS_VISIBILITY_TIMEOUT_SECONDS = 900
FILESYSTEM_POLLING_INTERVAL_SECONDS = 0.1


def create_app(settings: Settings) -> Celery:
    """Build the Celery app from settings (no globals read here)."""
    app = Celery("autobook")
    transport_options: dict[str, Any]
    if settings.uses_filesystem_broker:
        transport_options = {
            **settings.filesystem_broker_dirs().create().transport_options(),
            "polling_interval": FILESYSTEM_POLLING_INTERVAL_SECONDS,
        }
    else:
        transport_options = {"visibility_timeout": REDIS_VISIBILITY_TIMEOUT_SECONDS}
    app.conf.update(
        broker_url=settings.celery_broker_url,
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_default_queue=QUEUE_NAME,
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
        beat_schedule={
            "dispatch-due-requests": {
                "task": tasks.DISPATCH_TASK,
                "schedule": float(settings.dispatch_interval_seconds),
                "options": {"expires": float(settings.dispatch_interval_seconds) * 2},
            }
        },
        beat_schedule_filename=str(Path(settings.data_dir) / "celerybeat-schedule"),
    )
    return app


app = create_app(get_settings())
# The tasks are `shared_task`s: importing `tasks` above registered them with every app.
assert tasks.BOOK_TASK in app.tasks
