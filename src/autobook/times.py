"""Time helpers shared by every layer: the clock and the one UTC text format we print."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current instant, aware UTC."""
    return datetime.now(UTC)


def utc_z(moment: datetime | None) -> str | None:
    """`2026-12-01T14:00:00Z`: UTC to the second with a trailing Z (None stays None)."""
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
