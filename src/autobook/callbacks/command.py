"""`autobook callbacks`: list the outbox (`--failed` for those that gave up) and retry them.

`retry ID` or `retry --all-failed` makes failed callbacks due now with a new 24-hour window;
the dispatcher sends them at its next tick, under their original `webhook-id`. Nothing here
prints a secret: the outbox holds none, and only the URL's host is shown.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from rich.table import Table


EXIT_REFUSED = 1


def _sessions() -> Any:
    from autobook import db
    from autobook.config import get_settings

    settings = get_settings()
    db.upgrade(settings.database_url)
    return db.make_session_factory(db.make_engine(settings.database_url))


def _list(args: argparse.Namespace) -> int:
    from autobook import store
    from autobook.times import utc_z

    with _sessions()() as session:
        found = store.outbox.list_callbacks(session, failed_only=args.failed)
    shown = [
        {
            "id": row.id,
            "request_id": request_id,
            "event": row.event,
            "state": str(row.state),
            "attempts": row.attempts,
            "host": urlsplit(row.url).hostname,
            "webhook_id": row.webhook_id,
            "next_attempt_at": utc_z(row.next_attempt_at),
            "last_error": row.last_error,
        }
        for row, request_id in found
    ]
    if args.json:
        print(json.dumps(shown, indent=2))
        return 0
    # Imported here: every command builds this module's parser, and only this one prints a table.
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Callbacks")
    for column in ("id", "request_id", "event", "state", "attempts", "host", "last_error"):
        table.add_column(column, overflow="fold")
    for item in shown:
        table.add_row(*(str(item[c] if item[c] is not None else "") for c in table_columns(table)))
    Console().print(table)
    return 0


def table_columns(table: Table) -> list[str]:
    return [str(column.header) for column in table.columns]


def _retry(args: argparse.Namespace) -> int:
    from autobook import store

    if (args.id is None) == (not args.all_failed):
        print("autobook: error: give a callback ID or --all-failed", file=sys.stderr)
        return 2
    with _sessions().begin() as session:
        moved = store.outbox.retry(session, None if args.all_failed else [args.id])
    if not moved and args.id is not None:
        print(f"autobook: error: callback {args.id} is not failed", file=sys.stderr)
        return EXIT_REFUSED
    print(f"{len(moved)} callback(s) due again: {', '.join(map(str, moved)) or '-'}")
    return 0


def add_parser(commands: Any, positive: Any) -> None:
    """Add `callbacks list` and `callbacks retry` to the command line."""
    callbacks = commands.add_parser(
        "callbacks", help="outcome callbacks: list them, retry failed ones"
    )
    actions = callbacks.add_subparsers(dest="callbacks_command", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="the newest callbacks first")
    listing.add_argument("--failed", action="store_true", help="only those that gave up")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)
    retry = actions.add_parser("retry", help="send failed callbacks again")
    retry.add_argument("id", nargs="?", type=positive, metavar="ID")
    retry.add_argument("--all-failed", action="store_true", help="every failed callback")
    retry.set_defaults(handler=_retry)
