"""A Celery consumer that records the messages Celery itself cannot run.

Our task takes anything and records what it cannot use (see `autobook.tasks`). Some messages
never reach it: a body that does not decode, a message in an unknown format, a task name this
worker does not know, or headers Celery refuses. Celery logs and drops those; this consumer
records each one as an `invalid` request too (with a `malformed-…` id derived from its content,
so a redelivered copy is recorded once), so that nothing put on the queue is lost silently.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery.worker.consumer.consumer import Consumer
from sqlalchemy.orm import Session, sessionmaker

from autobook import db, intake
from autobook.config import get_settings
from autobook.times import utc_now

log = logging.getLogger(__name__)

BODY_PREVIEW_CHARS = 1000


@functools.cache
def _sessions() -> sessionmaker[Session]:
    return db.make_session_factory(db.make_engine(get_settings().database_url))


def _preview(body: Any) -> str:
    if isinstance(body, bytes):
        body = body.decode("utf-8", errors="replace")
    return str(body)[:BODY_PREVIEW_CHARS]


def record_unusable_message(problem: str, message: Any, body: Any = None) -> None:
    """Record one message Celery could not run; never raises (the consumer must go on)."""
    try:
        headers = dict(getattr(message, "headers", None) or {})
        payload = {
            "malformed_message": _preview(body if body is not None else message.body),
            "task": str(headers.get("task", "")),
        }
        reason = f"message: {problem}; Celery could not run it (see the README for the format)"
        with _sessions().begin() as session:
            result = intake.record_malformed(session, payload, reason, now=utc_now())
        log.warning("unusable message recorded as %s: %s", result.request_id, problem)
    except Exception:  # recording is best effort; the log line remains
        log.exception("could not record an unusable message (%s)", problem)


class RecordingConsumer(Consumer):
    """Celery's consumer, plus a record of every message it drops."""

    def on_decode_error(self, message: Any, exc: Exception) -> None:
        record_unusable_message(f"the body does not decode: {exc}", message)
        super().on_decode_error(message, exc)

    def on_unknown_message(self, body: Any, message: Any) -> None:
        record_unusable_message("not a Celery task message", message, body)
        super().on_unknown_message(body, message)

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        record_unusable_message("unknown task name", message, body)
        super().on_unknown_task(body, message, exc)

    def on_invalid_task(self, body: Any, message: Any, exc: Exception) -> None:
        record_unusable_message(f"invalid task message: {exc}", message, body)
        super().on_invalid_task(body, message, exc)
