"""Logging that never shows the token, an email address or a phone number.

A filter on every handler rewrites the final message: emails become `a***@example.com`, phone
numbers keep their first and last two digits, and any configured secret is replaced outright.
It works on the formatted message, so a value passed as a `%s` argument is masked too.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

# `@` or its URL-encoded form `%40` (an email in a query string).
EMAIL = re.compile(r"([A-Za-z0-9._+-])[A-Za-z0-9._%+-]*?(?:@|%40)([A-Za-z0-9.-]+\.[A-Za-z]{2,})")
# A number written with a leading + (E.164 and its spaced forms), or a bare run of 10-15 digits.
# Dates and UUIDs are left alone: they have neither.
PHONE = re.compile(r"(?<![\w+])(\+\d|\d(?=\d{9,14}\b))[\d\s().-]{4,}(\d{2})\b")
BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "[secret]")
    text = BEARER.sub(r"\1[secret]", text)
    text = EMAIL.sub(r"\1***@\2", text)
    return PHONE.sub(r"\1***\2", text)


class MaskingFilter(logging.Filter):
    """Masks the record's final message in place; never drops a record."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = tuple(s for s in secrets if s)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask(message, self._secrets)
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask(record.exc_text, self._secrets)
        record.msg, record.args = masked, None
        return True


def install(secrets: Iterable[str] = (), level: int = logging.INFO) -> None:
    """Configure the root logger once, with the masking filter on every handler."""
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(
            logging.Formatter("%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s")
        )
        root.addHandler(handler)
    root.setLevel(level)
    protect(root.handlers, secrets)


def protect(handlers: Iterable[logging.Handler], secrets: Iterable[str] = ()) -> None:
    secrets = tuple(secrets)
    for handler in handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter(secrets))


def protect_celery_logging(secrets: Iterable[str] = ()) -> None:
    """Celery installs handlers of its own (task logger, redirected stdout); mask those too."""
    from celery import signals

    secrets = tuple(secrets)

    def _protect(logger: logging.Logger, **_: object) -> None:
        protect(logger.handlers, secrets)
        protect(logging.getLogger().handlers, secrets)

    signals.after_setup_logger.connect(_protect, weak=False)
    signals.after_setup_task_logger.connect(_protect, weak=False)
