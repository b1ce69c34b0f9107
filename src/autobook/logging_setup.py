"""The process's logging: JSON lines or text, one level, masking on every line, Celery included.

`configure` gives the root logger one handler on stderr, at `AUTOBOOK_LOG_LEVEL`, with the
formatter `AUTOBOOK_LOG_FORMAT` names:
- `json`: one JSON object a line (python-json-logger) with exactly the keys `time` (UTC, ISO
  8601), `level`, `logger`, `process`, `request_id` (null outside a request) and `event` (the
  message), plus `exc_info` (the traceback, as one string) when there is one. Other attributes a
  library puts on a record are left out on purpose: Celery attaches a task's arguments, and a
  request's arguments hold emails and phone numbers that only the message is masked for.
- `text`: the line a person reads at a terminal, as before.

Invariants: the masking filter of `autobook.logsafe` runs on the handler before any formatter,
so the event and the traceback are masked in both formats, and `request_id` is masked too (a
source chooses it, and it may hold an email). `take_over_celery_logging` makes Celery leave the
root logger alone (a receiver of its `setup_logging` signal means "configured already"), so the
worker's own lines, the task lines and the redirected stdout all go through this handler.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterable, Iterator
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from autobook import logsafe
from autobook.config import LogFormat, Settings

TEXT_FORMAT = "%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"

_request_id: ContextVar[str | None] = ContextVar("autobook_request_id", default=None)


@contextlib.contextmanager
def request_context(request_id: str | None) -> Iterator[None]:
    """Log lines written inside carry `request_id`."""
    token = _request_id.set(request_id)
    try:
        yield
    finally:
        _request_id.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current request's id on the record, masked like the message."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        request_id = getattr(record, "request_id", None) or _request_id.get()
        record.request_id = None if request_id is None else logsafe.mask(request_id, self._secrets)
        return True


class JsonLineFormatter(JsonFormatter):
    """python-json-logger, with a fixed set of keys (see the module docstring)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.exc_text:
            # The masking filter has already written the masked traceback to exc_text; left
            # set, exc_info would make the formatter write the unmasked one again.
            record.exc_info = None
        return super().format(record)

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        log_data["time"] = (
            datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z")
        )
        log_data["level"] = record.levelname
        log_data["logger"] = record.name
        log_data["process"] = record.process
        log_data["request_id"] = getattr(record, "request_id", None)
        log_data["event"] = record.getMessage()
        if message_dict.get("exc_info"):
            log_data["exc_info"] = message_dict["exc_info"]


def build_handler(log_format: LogFormat, secrets: Iterable[str] = ()) -> logging.Handler:
    secrets = tuple(secrets)
    handler = logging.StreamHandler(sys.stderr)
    formatter: logging.Formatter
    if log_format is LogFormat.JSON:
        formatter = JsonLineFormatter()
    else:
        formatter = logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    handler.addFilter(RequestIdFilter(secrets))
    handler.addFilter(logsafe.MaskingFilter(secrets))
    return handler


def configure(settings: Settings, level: str | None = None) -> None:
    """Replace the root logger's handlers with ours, at `level` (else the configured one)."""
    secrets = [settings.calendly_token.get_secret_value()] if settings.calendly_token else []
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(build_handler(settings.log_format, secrets))
    root.setLevel(level or settings.log_level)
    logging.captureWarnings(True)  # a warning is a log line too, not a bare stderr write


def take_over_celery_logging(log_format: LogFormat) -> None:
    """Make Celery keep our configuration instead of installing its own handlers.

    In JSON, Celery's few direct writes (`worker: Warm shutdown (MainProcess)`, written with
    `os.write` from its signal handlers by `celery.apps.worker.safe_say`) become log records
    too: a bare text line in a JSON stream breaks every parser downstream.
    """
    from celery import signals
    from celery.apps import worker as celery_worker

    def _keep_ours(**_: object) -> None:
        return None

    signals.setup_logging.connect(_keep_ours, weak=False)
    if log_format is LogFormat.JSON:
        said = logging.getLogger("celery.apps.worker")

        def _say_as_a_log_line(msg: str, f: object = None) -> None:
            said.warning("%s", msg.strip())

        celery_worker.safe_say = _say_as_a_log_line  # type: ignore[attr-defined]  # no stub
