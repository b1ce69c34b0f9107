"""What `autobook demo` prints: the outcomes, their links, and why a request is still pending.

- Request ids are shown whole and never folded: the demo suggests `autobook status <request_id>`,
  which needs the whole id.
- Links (cancel, reschedule, join) go under the table, one per line, printed with soft wrapping
  so no newline is ever inserted: inside a table cell, a narrow terminal or a pipe (where rich
  assumes 80 columns) folds a URL in the middle of its UUID, and a folded link can be neither
  clicked nor copied.
- A request that is not finished says why, in the operator's terms: a follow-up held until its
  `start_after`, a search that will run again, a reconcile under way.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from autobook import views
from autobook.models import BookingRequestRow, NextAction, RequestStatus
from autobook.times import utc_z

# Calendly reports `{"type": "custom", "location": null}` for a booking with no location.
NO_LOCATION = "no location"
LINK_KINDS = (("cancel", "cancel_url"), ("reschedule", "reschedule_url"))


def location_label(location: Mapping[str, Any] | None) -> str:
    """The booked location in a few words; a join URL is left to the links below the table."""
    if not location:
        return ""
    kind = str(location.get("type") or "")
    value = location.get("location")
    if location.get("join_url"):
        return f"{kind}, join link below"
    if value:
        return f"{kind}: {value}"
    return NO_LOCATION if kind == "custom" else kind


def local_when(row: BookingRequestRow) -> str:
    """`Wed 02 Dec 13:00 EST`: the start in the invitee's own timezone, short enough for a table."""
    zone = views.invitee_zone(row)
    if row.start_time is None or zone is None:
        return ""
    local = row.start_time.astimezone(zone)
    return f"{local:%a %d %b %H:%M} {local.tzname()}"


def outcome_text(row: BookingRequestRow) -> str:
    """The last column: when and where it was booked (two lines), or why it was not."""
    if row.reason:
        return row.reason
    return "\n".join(part for part in (local_when(row), location_label(row.location)) if part)


def outcome_table(rows: Iterable[BookingRequestRow]) -> Table:
    rows = list(rows)
    # Three columns, no outer edge, no column rules: at 80 columns the outcome still gets
    # about 35 characters a line, after a request id that is never folded.
    table = Table(
        title="Outcomes", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, show_lines=True
    )
    widest_id = max((len(row.request_id) for row in rows), default=10)
    table.add_column("request_id", no_wrap=True, min_width=widest_id)
    table.add_column("status", no_wrap=True)
    table.add_column("outcome: when (invitee's time) and where, or why not", ratio=1)
    for row in rows:
        style = views.STATUS_STYLE.get(str(row.status), "")
        table.add_row(
            row.request_id,
            f"[{style}]{row.status}[/]" if style else str(row.status),
            outcome_text(row),
        )
    return table


def links(row: BookingRequestRow) -> list[tuple[str, str]]:
    """(label, URL) for every link of a booked request: cancel, reschedule, join."""
    found = [(label, getattr(row, attr)) for label, attr in LINK_KINDS if getattr(row, attr)]
    join_url = (row.location or {}).get("join_url")
    if join_url:
        found.append(("join", str(join_url)))
    return found


def print_links(console: Console, rows: Iterable[BookingRequestRow]) -> None:
    """Each link whole on a line of its own, whatever the console's width."""
    booked = [row for row in rows if links(row)]
    if not booked:
        return
    console.print("Links:")
    for row in booked:
        console.print(Text(f"  {row.request_id}"), soft_wrap=True)
        for label, url in links(row):
            console.print(Text(f"    {label:<10} {url}"), soft_wrap=True)


def print_outcomes(console: Console, rows: Iterable[BookingRequestRow]) -> None:
    rows = list(rows)
    console.print(outcome_table(rows))
    print_links(console, rows)


def _start_after(row: BookingRequestRow) -> datetime | None:
    payload = row.payload if isinstance(row.payload, dict) else {}
    value = payload.get("start_after")
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def held_until(row: BookingRequestRow, now: datetime) -> datetime | None:
    """When a follow-up that nothing may touch yet is released (its `start_after`), or None."""
    start_after = _start_after(row)
    if row.status == RequestStatus.RECEIVED and start_after is not None and start_after > now:
        return start_after
    return None


def pending_reason(row: BookingRequestRow, now: datetime) -> str:
    """Why a non-terminal request has not finished yet, in one phrase."""
    until = held_until(row, now)
    if until is not None:
        return f"a follow-up, held until its start_after {utc_z(until)}"
    when = f" at {utc_z(row.next_action_at)}" if row.next_action_at else ""
    if row.status == RequestStatus.WAITING:
        return f"no slot yet; searched again{when} until its keep_trying_until"
    if row.status == RequestStatus.UNKNOWN:
        return f"the outcome of its POST is being reconciled{when}"
    action = "" if row.next_action == NextAction.NONE else f", next: {row.next_action}{when}"
    reason = f" ({row.reason})" if row.reason else ""
    return f"{row.status}{action}{reason}"


def pending_summary(rows: Iterable[BookingRequestRow], now: datetime) -> str:
    """The progress bar's note: what is left and, for a held follow-up, until when."""
    pending = [row for row in rows if not row.status.is_terminal]
    parts = [f"{len(pending)} to go"] if pending else ["done"]
    for row in pending:
        until = held_until(row, now)
        if until is not None:
            parts.append(f"{short_name(row)} held until {until.astimezone(UTC):%H:%M:%S}Z")
    return "; ".join(parts)


def short_name(row: BookingRequestRow) -> str:
    """`follow-up` for `demo-826d11-follow-up`: enough to tell demo requests apart in a bar."""
    return row.request_id.split("-", 2)[-1]


def print_timeout(
    console: Console, rows: Iterable[BookingRequestRow], timeout_seconds: float, now: datetime
) -> None:
    pending = [row for row in rows if not row.status.is_terminal]
    console.print(
        f"[bold red]timed out[/] after {timeout_seconds:g}s with {len(pending)} request(s) "
        "not finished:"
    )
    for row in pending:
        console.print(Text(f"  {row.request_id}: {pending_reason(row, now)}"), soft_wrap=True)
