"""What `autobook status` shows: a rich table, a JSON array, or one request in full.

Start times are UTC with a trailing Z on the wire and in JSON; the table and the detailed view
also show them in the invitee's own timezone, which is how the invitee sees the meeting.
Nothing here ever prints the token (no view reads it).
"""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from rich.console import Console
from rich.table import Table

from autobook.models import BookingAttemptRow, BookingRequestRow, RequestLogRow
from autobook.times import utc_z


def invitee_zone(row: BookingRequestRow) -> ZoneInfo | None:
    payload = row.payload if isinstance(row.payload, dict) else {}
    invitee = payload.get("invitee")
    name = invitee.get("timezone") if isinstance(invitee, dict) else None
    if not isinstance(name, str):
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_time(row: BookingRequestRow) -> str | None:
    zone = invitee_zone(row)
    if row.start_time is None or zone is None:
        return None
    local = row.start_time.astimezone(zone)
    return f"{local:%a %Y-%m-%d %H:%M} {local.tzname()} ({zone.key})"


def event_type_label(row: BookingRequestRow) -> str | None:
    if row.event_type_uri:
        return row.event_type_uri
    payload = row.payload if isinstance(row.payload, dict) else {}
    ref = payload.get("event_type")
    if isinstance(ref, str):
        return ref
    if isinstance(ref, dict):
        return ", ".join(f"{k}={v}" for k, v in ref.items())
    return None


def as_json(row: BookingRequestRow) -> dict[str, Any]:
    """The public shape of one request (DESIGN §2): stable keys, UTC times with Z."""
    extra = row.extra or {}
    return {
        "request_id": row.request_id,
        "status": str(row.status),
        "reason": row.reason,
        "event_type": event_type_label(row),
        "start_time": utc_z(row.start_time),
        "start_time_local": local_time(row),
        "event_uri": row.event_uri,
        "invitee_uri": row.invitee_uri,
        "cancel_url": row.cancel_url,
        "reschedule_url": row.reschedule_url,
        "location": row.location,
        "attempts": row.attempts,
        "next_action": str(row.next_action),
        "next_action_at": utc_z(row.next_action_at),
        "created_at": utc_z(row.created_at),
        "updated_at": utc_z(row.updated_at),
        # A chosen time that was taken: a fresh proposal to offer instead (DESIGN §8).
        **({"alternatives": extra["alternatives"]} if "alternatives" in extra else {}),
    }


STATUS_STYLE = {
    "booked": "green",
    "no_slot": "yellow",
    "rejected": "red",
    "invalid": "red",
    "failed": "bold red",
    "waiting": "cyan",
    "unknown": "magenta",
    "canceled": "dim",
}


def requests_table(rows: list[BookingRequestRow], *, title: str = "Booking requests") -> Table:
    table = Table(title=title, show_lines=False)
    table.add_column("request_id", overflow="fold")
    table.add_column("status")
    table.add_column("start (invitee's time)")
    table.add_column("reason / link", overflow="fold")
    for row in rows:
        style = STATUS_STYLE.get(str(row.status), "")
        detail = row.reason or row.cancel_url or ""
        table.add_row(
            row.request_id,
            f"[{style}]{row.status}[/]" if style else str(row.status),
            local_time(row) or "",
            detail,
        )
    return table


def print_request_detail(
    console: Console,
    row: BookingRequestRow,
    attempts: list[BookingAttemptRow],
    logs: list[RequestLogRow],
) -> None:
    summary = Table(show_header=False, title=f"Request {row.request_id}")
    for key, value in as_json(row).items():
        summary.add_row(key, "" if value is None else str(value))
    console.print(summary)
    if attempts:
        table = Table(title="Attempts (POST /invitees)")
        for column in ("#", "slot (UTC)", "state", "http", "reason", "at"):
            table.add_column(column)
        for number, attempt in enumerate(attempts, 1):
            table.add_row(
                str(number),
                utc_z(attempt.slot_start) or "",
                str(attempt.state),
                str(attempt.http_status or ""),
                attempt.reason or "",
                utc_z(attempt.created_at) or "",
            )
        console.print(table)
    table = Table(title="Log")
    for column in ("at (UTC)", "kind", "message"):
        table.add_column(column)
    for entry in logs:
        table.add_row(utc_z(entry.at) or "", entry.kind, entry.message)
    console.print(table)
