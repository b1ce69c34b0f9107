"""Calendly's timestamp formats, in and out.

Calendly writes every timestamp in UTC with microseconds and a trailing ``Z``
(``2020-01-02T03:04:05.678123Z``); available-time starts always carry six zero
microseconds (``2020-01-02T20:00:00.000000Z``). It reads ISO 8601 with an offset or
a ``Z``. Invariant: every datetime that leaves this module's parsers is timezone-aware
and in UTC, and a naive timestamp (no offset) is refused rather than guessed.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Python 3.11's fromisoformat accepts "Z"; this pattern only rejects the forms it
# would accept but Calendly would not (dates without a time, week dates).
_ISO_TIMESTAMP = re.compile(
    r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|z|[+-]\d{2}:?\d{2})$"
)
_FRACTION = re.compile(r"\.(\d+)")
MIN_YEAR = 1900
MAX_YEAR = 9000


def format_timestamp(moment: datetime) -> str:
    """``2026-12-01T14:00:00.123456Z``: UTC, microseconds, trailing Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def format_url_timestamp(moment: datetime) -> str:
    """``2026-12-01T14:00:00Z``: the form used inside Calendly's scheduling URLs."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_timestamp(text: object) -> datetime | None:
    """The UTC datetime of an ISO 8601 string with an offset, or None if it isn't one."""
    if not isinstance(text, str) or len(text) > 64 or not _ISO_TIMESTAMP.match(text):
        return None
    # fromisoformat in 3.11 takes at most 6 fractional digits: truncate, don't round.
    normalized = _FRACTION.sub(lambda m: "." + m.group(1)[:6].ljust(6, "0"), text, count=1)
    try:
        parsed = datetime.fromisoformat(normalized.replace("z", "Z")).astimezone(UTC)
    except (ValueError, OverflowError):
        return None
    # Keep clear of datetime's edges, so adding a meeting's duration can never overflow.
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        return None
    return parsed
