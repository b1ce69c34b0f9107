"""`autobook serve`: parse its options and run uvicorn with the intake app.

The schema is brought up to date first, as every command does; the token is needed only to
propose (`/v1/proposals`, `/v1/mcp`): the intake never calls Calendly. Log lines go through
`autobook.logsafe`, so an email, a phone number or a bearer key that reaches a log line is
masked. A taken port is one line and exit 2.
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
from typing import Any

DEFAULT_PORT = 8000


def _port_is_free(host: str, port: int) -> str | None:
    """Why the address can't be served, or None."""
    if port == 0:
        return None
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            reason = exc.strerror or str(exc)
            return f"{reason[:1].lower()}{reason[1:]}"
    return None


def run(args: argparse.Namespace) -> int:
    import uvicorn

    from autobook import db, logsafe
    from autobook.config import get_settings

    if args.group_commit is not None:  # the app is built in each worker process, from the env
        os.environ["AUTOBOOK_SERVE_GROUP_COMMIT"] = str(args.group_commit)
    settings = get_settings()
    logsafe.install([])
    db.upgrade(settings.database_url)
    problem = _port_is_free(args.host, args.port)
    if problem is not None:
        print(
            f"autobook: error: cannot serve on {args.host}:{args.port}: {problem} "
            "(choose another with --port)",
            file=sys.stderr,
        )
        return 2
    options: dict[str, Any] = {
        "host": args.host,
        "port": args.port,
        "factory": True,
        "workers": args.workers,
        "log_level": args.log_level.lower(),
        "access_log": args.access_log,
        "proxy_headers": True,
        "server_header": False,
    }
    uvicorn.run("autobook.serve.app:create_app", **options)
    return 0


def add_parser(commands: Any, port: Any, positive: Any) -> None:
    """Add `serve` to the command line (`port` and `positive` are the CLI's argument types)."""
    serve = commands.add_parser(
        "serve",
        help="serve the HTTP intake (POST /v1/bookings)",
        description="Take booking requests over HTTP from sources (see `autobook sources`): "
        "POST /v1/bookings, GET /v1/bookings/ID, POST /v1/bookings/ID/cancel, "
        "POST /v1/proposals, the MCP tools at /v1/mcp (streamable HTTP), /healthz, /readyz. "
        "Needs a Calendly token only to propose.",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    serve.add_argument(
        "--port", type=port, default=DEFAULT_PORT, help="port (default: %(default)s)"
    )
    serve.add_argument(
        "--workers",
        type=positive,
        default=1,
        metavar="N",
        help="server processes behind the port (default: %(default)s)",
    )
    serve.add_argument(
        "--group-commit",
        type=positive,
        default=None,
        metavar="N",
        help="record up to N calls that arrive together in one transaction (default: "
        "AUTOBOOK_SERVE_GROUP_COMMIT, or 64; 1: one transaction per call)",
    )
    serve.add_argument(
        "--log-level",
        default="INFO",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING or ERROR (default: %(default)s)",
    )
    serve.add_argument(
        "--access-log", action="store_true", help="log every call (off: refusals only)"
    )
    serve.set_defaults(handler=run)
