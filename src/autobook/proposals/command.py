"""`autobook propose FILE|-`: print a proposal for one request, as `POST /v1/proposals` would.

Exit 0 with the proposal's JSON on stdout; 1 with the problems when the request is invalid or
Calendly refuses it; 2 when the file can't be read.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from autobook.errors import CalendlyError, InvalidRequest
from autobook.request_text import decode_json_document


def run(args: argparse.Namespace) -> int:
    from autobook import db
    from autobook.config import get_settings
    from autobook.proposals.engine import proposer_for

    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
        document = decode_json_document(text)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    except InvalidRequest as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    settings = get_settings()
    db.upgrade(settings.database_url)  # as `submit` does: the table may be new
    sessions = db.make_session_factory(db.make_engine(settings.database_url))
    try:
        proposal = proposer_for(settings, sessions).propose(document)
    except InvalidRequest as exc:
        problems = [{"field": p.field, "problem": p.problem} for p in exc.problems]
        print(json.dumps({"detail": exc.message, "problems": problems}))
        return 1
    except CalendlyError as exc:
        print(json.dumps({"detail": exc.message}))
        return 1
    print(json.dumps(proposal.as_json()))
    return 0


def add_parser(commands: Any) -> None:
    propose = commands.add_parser(
        "propose",
        help="offer a few matching times for a request (JSON object), as POST /v1/proposals",
        description=(
            "Print up to `count` (default 3) matching times, spread over days and times of day "
            "and labelled in `timezone`, under a proposal_id; book one with a booking request "
            "carrying proposal_id and choice."
        ),
    )
    propose.add_argument("file", metavar="FILE|-", help="the request, or - for stdin")
    propose.set_defaults(handler=run)
