"""The public contract's names that several test suites check (DESIGN.md §2)."""

from __future__ import annotations

# `autobook status --json`: each object has at least these keys.
STATUS_JSON_KEYS = frozenset(
    {
        "request_id",
        "status",
        "reason",
        "event_type",
        "start_time",
        "event_uri",
        "invitee_uri",
        "cancel_url",
        "reschedule_url",
        "attempts",
    }
)
