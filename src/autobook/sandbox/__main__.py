"""``python -m autobook.sandbox``: the same server and options as ``autobook sandbox``."""

from __future__ import annotations

import argparse
import sys

from .server import DEFAULT_HOST, DEFAULT_MAX_WINDOW_DAYS, DEFAULT_PORT, DEFAULT_TOKEN, serve

MAX_PORT = 65535


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autobook.sandbox", description=__doc__)
    parser.add_argument("--host", default=DEFAULT_HOST)
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--seed", default=None, help="seed JSON file (default: the built-in demo)")
    parser.add_argument("--token", default=DEFAULT_TOKEN, help="bearer token the server accepts")
    parser.add_argument(
        "--max-window-days",
        type=int,
        default=DEFAULT_MAX_WINDOW_DAYS,
        help="longest availability range: 7 (legacy) or 31 (current Calendly)",
    )
    args = parser.parse_args(argv)
    if not 0 <= args.port <= MAX_PORT:  # 0: any free port, the one bound is printed
        parser.error(f"argument --port: must be a port number from 0 to {MAX_PORT}")
    try:
        serve(args.host, args.port, args.seed, args.token, args.max_window_days)
    except OSError as exc:  # the address is busy, or not this machine's
        print(f"cannot serve the sandbox on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
