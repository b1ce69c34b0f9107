"""The `autobook` command line: worker, submit, status, sandbox, demo.

The command line is the top layer: it parses arguments, builds settings once and calls into
intake, the Celery app, the status views or the sandbox. It holds no booking logic.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from autobook.sandbox.server import serve

    serve(
        host=args.host,
        port=args.port,
        seed_path=args.seed,
        token=args.token,
        max_window_days=args.max_window_days,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autobook", description="Book Calendly meetings end to end from a queue."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    sandbox = commands.add_parser("sandbox", help="serve the local Calendly sandbox")
    sandbox.add_argument("--host", default="127.0.0.1")
    sandbox.add_argument("--port", type=int, default=8765)
    sandbox.add_argument("--seed", metavar="FILE", help="seed JSON (default: the demo org)")
    sandbox.add_argument("--token", default="sandbox-token", help="bearer token to accept")
    sandbox.add_argument(
        "--max-window-days",
        type=int,
        default=7,
        choices=(7, 31),
        help="availability window limit: 7 (legacy) or 31 (current Calendly)",
    )
    sandbox.set_defaults(handler=_cmd_sandbox)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = args.handler
    result: int = handler(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
