"""A Celery consumer that records the messages Celery itself cannot run, and never dies on one.

Our task takes anything and records what it cannot use (see `autobook.tasks`). Some messages
never reach it: an item that is no kombu envelope (quarantined by `autobook.queue.transports`),
a body that is not `[args, kwargs, embed]`, headers without an `id`, a body that does not
decode, a message in an unknown format or a task name this worker does not know. Celery drops
some of those and dies on others (`Unrecoverable error`, and the message comes back to kill the
next worker). This consumer checks each message first (`autobook.queue.gate`) and records every
unusable one as an `invalid` request, with a `malformed-…` id derived from its content (so a
redelivered copy is recorded once), then acknowledges it; anything Celery still raises on a
message is treated the same way. So is an `autobook.book` message whose `expires` header is past
when it arrives: Celery would acknowledge it and drop it unrecorded. A message is acknowledged
only once it is recorded: if the database is down it stays unacknowledged, and comes back after
a restart or Redis's visibility timeout, rather than being lost.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from celery.worker.consumer.consumer import Consumer
from sqlalchemy.orm import Session, sessionmaker
from vine import promise as vine_promise

from autobook import db, intake
from autobook.config import get_settings
from autobook.queue import gate
from autobook.quoting import quote
from autobook.tasks import BOOK_TASK
from autobook.times import utc_now

log = logging.getLogger(__name__)

BODY_PREVIEW_CHARS = 1000


@functools.cache
def _sessions() -> sessionmaker[Session]:
    return db.make_session_factory(db.make_engine(get_settings().database_url))


def _preview(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="backslashreplace")
    return quote(body if isinstance(body, str) else repr(body), BODY_PREVIEW_CHARS)


def record_unusable_message(problem: str, message: Any, body: Any = None) -> bool:
    """Record one message Celery could not run; True once recorded. Never raises."""
    try:
        headers = message.headers if isinstance(message.headers, dict) else {}
        payload = {
            "malformed_message": _preview(body if body is not None else message.body),
            "task": quote(headers.get("task", ""), 200),
        }
        reason = f"message: {problem}; Celery could not run it (see the README for the format)"
        with _sessions().begin() as session:
            result = intake.record_malformed(session, payload, reason, now=utc_now())
        log.warning("unusable message recorded as %s: %s", result.request_id, problem)
        return True
    except Exception:  # the consumer must go on; the message stays unacknowledged
        log.exception("could not record an unusable message (%s)", problem)
        return False


def _acknowledge(message: Any, consumer: Any) -> None:
    if not message.acknowledged:
        message.ack_log_error(log, consumer.connection_errors)


class RecordingConsumer(Consumer):
    """Celery's consumer, plus a gate before each message and a record of every one dropped."""

    def create_task_handler(self, promise: Any = vine_promise) -> Callable[[Any], Any]:
        celery_handler = super().create_task_handler(promise)

        def on_task_received(message: Any) -> Any:
            problem = gate.problem_with(message, self.app.tasks.keys())
            if problem is not None:
                return self._refuse(message, problem)
            if message.headers.get("task") == BOOK_TASK:
                # Only the book task: an expired dispatch tick is meant to be dropped.
                expired_at = gate.expired(message.headers, utc_now())
                if expired_at is not None:
                    return self._refuse(
                        message, f"it expired at {expired_at}, before a worker took it"
                    )
            try:
                return celery_handler(message)
            except Exception as exc:
                # A message Celery cannot read must not stop the worker: this is the one place
                # where that is decided, whatever the message did wrong.
                log.exception("Celery could not take a message")
                return self._refuse(message, f"Celery could not read it ({type(exc).__name__})")

        return on_task_received

    def _refuse(self, message: Any, problem: str) -> None:
        if record_unusable_message(problem, message):
            _acknowledge(message, self)

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        if record_unusable_message(f"the body does not decode: {type(exc).__name__}", message):
            super().on_decode_error(message, exc)

    def on_unknown_message(self, body: Any, message: Any) -> None:
        if record_unusable_message("not a Celery task message", message, body):
            super().on_unknown_message(body, message)

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        if record_unusable_message("unknown task name", message, body):
            super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        problem = f"invalid task message: {quote(str(exc), 200)}"
        if record_unusable_message(problem, message, body):
            super().on_invalid_task(body, message, exc)
