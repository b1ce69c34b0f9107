"""`autobook mcp`: its place on the command line, without importing the MCP SDK to list it.

The SDK takes more than half a second to import; every other command would pay for it.
"""

from __future__ import annotations

import argparse
from typing import Any


def run(args: argparse.Namespace) -> int:
    from autobook.agents import mcp_server

    return mcp_server.run(args)


def add_parser(commands: Any) -> None:
    mcp = commands.add_parser(
        "mcp",
        help="serve the booking tools to AI agents over MCP (stdio)",
        description=(
            "An MCP server with find_event_types, propose_times, book_time, booking_status "
            "and cancel_booking. Register it with an MCP client as the command `autobook mcp`; "
            "a worker must run to book. Over HTTP, `autobook serve` answers the same tools at "
            "/v1/mcp, as the source whose API key calls."
        ),
    )
    mcp.set_defaults(handler=run)
