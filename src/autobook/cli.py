"""The `autobook` command line: worker, submit, status, resume, sandbox, demo.

The command line is the top layer: it parses arguments, builds settings once and calls into
intake, the Celery app, the status views or the sandbox. It holds no booking logic.
Exit codes: 0 on success, 1 when `submit` recorded an invalid request, met a request_id already
recorded with another body (a conflict), or a request is unknown,
2 on bad usage or bad settings.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from autobook.config import Settings, get_settings
from autobook.errors import AutobookError


def _ready_database(settings: Settings) -> None:
    from autobook import db

    db.upgrade(settings.database_url)


def _cmd_worker(args: argparse.Namespace) -> int:
    from autobook import logsafe

    settings = get_settings()
    secrets = [settings.calendly_token.get_secret_value()] if settings.calendly_token else []
    logsafe.install(secrets)
    logsafe.protect_celery_logging(secrets)
    _ready_database(settings)
    from autobook.worker import app

    argv = [
        "worker",
        f"--concurrency={args.concurrency}",
        f"--loglevel={args.loglevel}",
        f"--hostname=autobook-{args.name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if not args.no_dispatcher:
        argv.append("--beat")  # the in-memory dispatch schedule (see autobook.worker)
    app.worker_main(argv)
    return 0


def _cmd_submit(args: argparse.Namespace) -> int:
    from autobook import db, intake
    from autobook.requests import decode_request_text
    from autobook.times import utc_now

    settings = get_settings()
    _ready_database(settings)
    try:
        text = sys.stdin.read() if args.file == "-" else Path(args.file).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        print(f"error: cannot read {args.file}: {exc}", file=sys.stderr)
        return 2
    try:
        items = decode_request_text(text)
    except AutobookError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    sessions = db.make_session_factory(db.make_engine(settings.database_url))
    from autobook.tasks import BOOK_TASK
    from autobook.worker import create_app

    # The app built from these settings: a task's default app would ring another broker
    # (Celery's amqp://localhost), and the request would wait for the dispatcher.
    app = create_app(settings)

    def ring(request_id: str) -> None:
        app.send_task(BOOK_TASK, args=(request_id,))

    try:
        results = intake.submit_many(sessions, items, now=utc_now, ring=ring)
    finally:
        app.close()
    any_refused = False
    for result in results:
        if result.status == "invalid" or result.conflict:
            any_refused = True
        line: dict[str, object] = {
            "request_id": result.request_id,
            "status": result.status,
            "reason": result.reason,
            "new": result.created,
        }
        if result.conflict:
            line["conflict"] = result.conflict
        print(json.dumps(line))
    return 1 if any_refused else 0


def _cmd_status(args: argparse.Namespace) -> int:
    from autobook import db, store, views
    from autobook.times import utc_z

    settings = get_settings()
    _ready_database(settings)
    sessions = db.make_session_factory(db.make_engine(settings.database_url))
    console = Console()
    with sessions() as session:
        if args.request_id:
            row = store.get_by_request_id(session, args.request_id)
            if row is None:
                print(f"no request with id {args.request_id!r}", file=sys.stderr)
                return 1
            if args.json:
                detail = views.as_json(row)
                detail["log"] = [
                    {"at": utc_z(e.at), "kind": e.kind, "message": e.message}
                    for e in store.logs_for(session, row.id)
                ]
                print(json.dumps(detail, indent=2))
            else:
                views.print_request_detail(
                    console,
                    row,
                    store.attempts_for(session, row.id),
                    store.logs_for(session, row.id),
                )
            return 0
        rows = store.list_requests(session, limit=args.limit)
        if args.json:
            print(json.dumps([views.as_json(row) for row in rows], indent=2))
        else:
            console.print(views.requests_table(rows))
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from autobook import db, store

    settings = get_settings()
    _ready_database(settings)
    sessions = db.make_session_factory(db.make_engine(settings.database_url))
    with sessions.begin() as session:
        store.resume_sending(session)
    print("sending resumed; held requests continue at their next dispatch")
    return 0


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


def _cmd_demo(args: argparse.Namespace) -> int:
    from autobook.demo import run_demo

    return run_demo(keep=args.keep, timeout_seconds=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="autobook", description="Book Calendly meetings end to end from a queue."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = commands.add_parser("worker", help="run a Celery worker with the dispatcher")
    worker.add_argument("-c", "--concurrency", type=int, default=2)
    worker.add_argument("--loglevel", default="INFO")
    worker.add_argument("--name", default="worker", help="node name prefix")
    worker.add_argument(
        "--no-dispatcher", action="store_true", help="don't run the embedded dispatcher (beat)"
    )
    worker.set_defaults(handler=_cmd_worker)

    submit = commands.add_parser("submit", help="submit requests: a JSON object, array or lines")
    submit.add_argument("file", metavar="FILE|-")
    submit.set_defaults(handler=_cmd_submit)

    status = commands.add_parser("status", help="show requests, or one request in full")
    status.add_argument("request_id", nargs="?", metavar="REQUEST_ID")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument("--limit", type=int, default=1000)
    status.set_defaults(handler=_cmd_status)

    resume = commands.add_parser("resume", help="resume sending after a 401 pause")
    resume.set_defaults(handler=_cmd_resume)

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

    demo = commands.add_parser("demo", help="sandbox + worker + sample requests, end to end")
    demo.add_argument("--keep", action="store_true", help="keep .autobook/demo afterwards")
    demo.add_argument("--timeout", type=float, default=50.0, help="seconds to wait for outcomes")
    demo.set_defaults(handler=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except AutobookError as exc:
        print(f"autobook: {exc.message}", file=sys.stderr)
        return 2
    return result


if __name__ == "__main__":
    sys.exit(main())
