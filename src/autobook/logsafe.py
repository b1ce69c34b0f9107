"""Logging that never shows the token, an email address or a phone number.

A filter on every handler rewrites the final message: emails (any letters, plain or URL-encoded)
become `a***@example.com`, phone numbers (E.164, bare runs of digits, or national numbers in
groups) keep their first and last two digits, and any configured secret is replaced outright,
in every form it can take in text (raw, escaped, quoted, URL-encoded: `secret_forms`).
It works on the formatted message, so a value passed as a `%s` argument is masked too.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable
from urllib.parse import quote as url_quote

# An address: a local part of any letters (SMTPUTF8 addresses are valid requests) and RFC 5322
# symbols, `@` or its URL-encoded form `%40` (an email in a query string), and a domain of any
# letters. `&`, `=`, `/` and `?` are left out of the local part so a URL around it stays readable.
EMAIL = re.compile(
    r"([\w!#$'*+^`{|}~-])[\w.!#$%'*+^`{|}~-]*?(?:@|%40)"
    r"([\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,})"
)
# A number written with a leading + (E.164 and its spaced forms), or a bare run of 10-15 digits.
# Dates, decimals and UUIDs are left alone: a digit run inside them follows `-`, `.` or a letter.
PHONE = re.compile(r"(?<![\w+./-])(\+\d|\d(?=\d{9,14}\b))[\d\s().-]{4,}(\d{2})\b")
# A national number written in groups (`415-555-0100`, `(415) 555-0100`, `020 7946 0958`):
# `_mask_national` masks it when it has 10 to 15 digits and is not a date, an IPv4 address or a
# decimal number.
NATIONAL_PHONE = re.compile(r"(?<![\w.+/-])\(?\d[\d\s().-]*\d(?![\w-])")
NATIONAL_PHONE_DIGITS = range(10, 16)
NOT_A_PHONE = re.compile(
    r"\d{4}-\d{2}-\d{2}"  # an ISO date (with a time after it, maybe)
    r"|^\d{1,3}(?:\.\d{1,3}){3}$"  # an IPv4 address
    r"|^\d+\.\d+$"  # a decimal number (durations)
)
BEARER = re.compile(r"(Bearer\s+)\S+", re.IGNORECASE)


def _mask_national(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if len(digits) not in NATIONAL_PHONE_DIGITS or NOT_A_PHONE.search(text):
        return text
    first_digit = re.search(r"\d", text)
    assert first_digit is not None
    return f"{text[: first_digit.end()]}***{digits[-2:]}"


def secret_forms(secret: str) -> list[str]:
    """The ways a secret can appear in text: raw, JSON- and repr-escaped, quoted, URL-encoded.

    A token with a newline once reached the database as `Bearer NeWL…\\n…`: a redaction of the
    raw form alone missed it. Longest first, so a form is replaced before a part of it.
    """
    if not secret:
        return []
    forms = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        secret.encode("unicode_escape", errors="backslashreplace").decode("ascii"),
        url_quote(secret, safe=""),
    }
    return sorted((form for form in forms if form), key=len, reverse=True)


def mask(text: str, secrets: Iterable[str] = ()) -> str:
    for secret in secrets:
        for form in secret_forms(secret):
            text = text.replace(form, "[secret]")
    text = BEARER.sub(r"\1[secret]", text)
    text = EMAIL.sub(r"\1***@\2", text)
    text = PHONE.sub(r"\1***\2", text)
    return NATIONAL_PHONE.sub(_mask_national, text)


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
