"""The `autobook` command line: worker, migrate, check, submit, status, resume, sandbox, demo,
serve, sources.

The command line is the top layer: it parses arguments, builds settings once and calls into
intake, the Celery app, the status views or the sandbox. It holds no booking logic.
Exit codes: 0 on success, 1 when `submit` recorded an invalid request, met a request_id already
recorded with another body (a conflict), or a request is unknown, 2 on bad usage, bad or missing
settings, or a service that can't be reached at start. Every exit 2 prints one line on stderr
(`autobook: error: ...`), never a traceback: an operator's mistake gets an answer, not a stack
(see `autobook.preflight`). Ctrl-C exits 130 quietly.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from autobook import __version__
from autobook.errors import AutobookError
from autobook.worker_queues import DEFAULT_CALLBACK_SLOTS

if TYPE_CHECKING:
    from autobook.config import Settings

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for Ctrl-C
MAX_PORT = 65535


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line that points at --help (no usage dump)."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= MAX_PORT:
        raise argparse.ArgumentTypeError(f"must be a port number from 0 to {MAX_PORT}, not {text}")
    return port


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, not {text}")
    return value


def _queues(text: str) -> tuple[str, ...]:
    from autobook.worker_queues import parse_queues

    try:
        return parse_queues(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def get_settings() -> Settings:
    """The settings, read when a command runs: building the parser (`--help`, a usage
    mistake) needs no pydantic-settings, a fifth of a second of imports."""
    from autobook.config import get_settings as read_settings

    return read_settings()


def _ready_database(settings: Settings) -> None:
    from autobook import db

    db.upgrade(settings.database_url)


def _cmd_worker(args: argparse.Namespace) -> int:
    from autobook import metrics

    settings = get_settings()
    # First: prometheus-client reads its multiprocess folder when first imported (see metrics).
    # A callback consumer started by its worker writes into the worker's folder instead.
    if not args.child:
        metrics.prepare_multiprocess(settings)
    from autobook import logging_setup, preflight, worker_queues
    from autobook.config import LogFormat

    # Before anything prints `ready`: a worker that can't book must not look as if it could.
    preflight.check_worker(settings)
    level = args.loglevel or settings.log_level
    logging_setup.configure(settings, level)
    logging_setup.take_over_celery_logging(settings.log_format)
    _ready_database(settings)
    from autobook.worker import app

    if not args.child:
        metrics.serve_worker_metrics(settings)
    queues: tuple[str, ...] = args.queues
    # Both queues: the booking pool here, the callbacks in a child (see autobook.worker_queues).
    child = None
    if len(queues) > 1:
        child = worker_queues.CallbackConsumer(
            name=args.name, callback_slots=args.callback_slots, loglevel=level
        )
        child.start()
    argv = [
        "worker",
        *worker_queues.pool_options(
            queues[0], concurrency=args.concurrency, callback_slots=args.callback_slots
        ),
        f"--loglevel={level}",
        f"--hostname=autobook-{args.name}@%h",
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]
    if settings.log_format is LogFormat.JSON:
        # Celery's global option: the banner is printed, not logged, and would be no JSON line.
        argv.insert(0, "--quiet")
    if not args.no_dispatcher:
        argv.append("--beat")  # the in-memory dispatch schedule (see autobook.worker)
    try:
        app.worker_main(argv)
    finally:
        if child is not None:
            child.stop()
    return 0


def _cmd_migrate(args: argparse.Namespace) -> int:
    from autobook import db

    settings = get_settings()
    where = db.masked_url(settings.database_url)
    with db.unavailable_as_error(settings.database_url):
        before = db.current_revision(settings.database_url)
    db.upgrade(settings.database_url)
    head = db.head_revision()
    if before == head:
        print(f"database {where} is already at the newest revision ({head})")
    else:
        print(f"database {where} migrated from {before or 'empty'} to {head}")
    return 0


def _cmd_check(args: argparse.Namespace) -> int:
    from autobook import check

    return check.main()


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
    from autobook.broker import base_app
    from autobook.doorbell import Doorbell

    # The app built from these settings: a task's default app would ring another broker
    # (Celery's amqp://localhost), and the request would wait for the dispatcher. Only the
    # broker's settings: the worker's code is not needed to send a task by name.
    app = base_app(settings)
    doorbell = Doorbell(app)
    try:
        results = intake.submit_many(sessions, items, now=utc_now, ring_many=doorbell.ring_many)
    finally:
        doorbell.close()
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
    if args.budget:  # Redis, or the budget file: no database
        from autobook import budget_status

        budgets, note = budget_status.read_budget_status(settings)
        plan = settings.plan.value
        if args.json:
            print(budget_status.render_json(budgets, note, plan))
        else:
            print("\n".join(budget_status.render_text(budgets, note, plan)))
        return 0
    _ready_database(settings)
    sessions = db.make_session_factory(db.make_engine(settings.database_url))
    from rich.console import Console

    console = Console()
    if args.summary:
        from autobook import summary
        from autobook.times import utc_now

        with sessions() as session:
            snapshot = summary.take_snapshot(session, utc_now())
        summary.add_budgets(snapshot, settings)
        if args.json:
            print(summary.render_json(snapshot))
        else:
            print("\n".join(summary.render_text(snapshot)))
        return 0
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
        elif not rows:
            print(
                f"no requests yet in {db.masked_url(settings.database_url)}; "
                "submit one with: autobook submit FILE"
            )
        else:
            console.print(views.requests_table(rows))
    return 0


def _cmd_resume(args: argparse.Namespace) -> int:
    from autobook import db, store
    from autobook.times import utc_z

    settings = get_settings()
    _ready_database(settings)
    sessions = db.make_session_factory(db.make_engine(settings.database_url))
    with sessions.begin() as session:
        pause = store.sending_paused(session)
        resumed = store.resume_sending(session, note="by autobook resume")
    if not resumed or pause is None:
        print("sending was not paused; nothing to resume")
        return 0
    since = f" since {utc_z(pause.paused_at)}" if pause.paused_at else ""
    print(
        f"sending resumed (paused{since}: {pause.reason}); "
        "held requests continue at their next dispatch"
    )
    return 0


def _cmd_sandbox(args: argparse.Namespace) -> int:
    from autobook.sandbox.server import serve

    try:
        serve(
            host=args.host,
            port=args.port,
            seed_path=args.seed,
            token=args.token,
            max_window_days=args.max_window_days,
        )
    except OSError as exc:  # the address is taken, or not one of this machine's
        reason = exc.strerror or str(exc)
        print(
            f"autobook: error: cannot serve the sandbox on {args.host}:{args.port}: "
            f"{reason[:1].lower()}{reason[1:]} (choose another with --port)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from autobook.demo import run_demo

    return run_demo(keep=args.keep, timeout_seconds=args.timeout)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="autobook",
        description="Book Calendly meetings end to end from a queue. Settings are read from "
        "AUTOBOOK_* variables and .env (see the README).",
    )
    parser.add_argument("--version", action="version", version=f"autobook {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    worker = commands.add_parser(
        "worker",
        help="run a Celery worker with the dispatcher",
        description="Run a Celery worker, with the dispatcher that re-sends due and stuck "
        "requests. Needs AUTOBOOK_CALENDLY_TOKEN.",
    )
    worker.add_argument(
        "-c",
        "--concurrency",
        type=_positive,
        default=2,
        metavar="N",
        help="worker processes, each booking one request at a time (default: %(default)s)",
    )
    worker.add_argument(
        "--loglevel",
        default=None,
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        metavar="LEVEL",
        help="DEBUG, INFO, WARNING, ERROR or CRITICAL; AUTOBOOK_LOG_LEVEL sets the default "
        "(default: INFO)",
    )
    worker.add_argument(
        "--name",
        default="worker",
        help="node name: autobook-NAME@host (default: %(default)s)",
    )
    worker.add_argument(
        "--no-dispatcher", action="store_true", help="don't run the embedded dispatcher (beat)"
    )
    worker.add_argument(
        "--queues",
        type=_queues,
        default=_queues("autobook,autobook.callbacks"),
        metavar="LIST",
        help="queues to consume, comma-separated: autobook (bookings, --concurrency "
        "processes), autobook.callbacks (callback deliveries, --callback-slots threads); "
        "with both, the callbacks run in a child process so a hanging receiver never holds "
        "a booking slot (default: both)",
    )
    worker.add_argument(
        "--callback-slots",
        type=_positive,
        default=DEFAULT_CALLBACK_SLOTS,
        metavar="N",
        help="callback deliveries at once (default: %(default)s)",
    )
    # Set by a worker on the callback consumer it starts: share its metrics, serve none.
    worker.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    worker.set_defaults(handler=_cmd_worker)

    migrate = commands.add_parser(
        "migrate",
        help="bring the database schema to the newest revision",
        description="Run the packaged Alembic migrations up to head. Safe to run again, and "
        "from several processes at once (workers also migrate at start).",
    )
    migrate.set_defaults(handler=_cmd_migrate)

    check = commands.add_parser(
        "check",
        help="preflight: settings, database, broker, Redis and the Calendly token",
        description="Check everything a deployment needs and print one line per item, with "
        "its fix when it fails. Changes nothing. Exits 1 if any item failed.",
    )
    check.set_defaults(handler=_cmd_check)

    submit = commands.add_parser(
        "submit",
        help="submit requests: a JSON object, array or lines",
        description="Record booking requests and queue them; one JSON line per request. "
        "Exits 1 if any was invalid.",
    )
    submit.add_argument("file", metavar="FILE|-", help="a JSON file, or - for stdin")
    submit.set_defaults(handler=_cmd_submit)

    status = commands.add_parser(
        "status",
        help="show requests, or one request in full",
        description="A table of requests (newest first), or one request with its attempts and log.",
    )
    status.add_argument("request_id", nargs="?", metavar="REQUEST_ID", help="the request to show")
    status.add_argument("--json", action="store_true", help="print JSON")
    status.add_argument(
        "--summary",
        action="store_true",
        help="counts by status, oldest waiting and unknown, failures by reason, budget left, "
        "and whether sending is paused",
    )
    status.add_argument(
        "--budget",
        action="store_true",
        help="the shared rate budget per Calendly user: calls used and allowed in each window, "
        "and when the next booking can be sent",
    )
    status.add_argument(
        "--limit",
        type=_positive,
        default=1000,
        metavar="N",
        help="show at most N requests (default: %(default)s)",
    )
    status.set_defaults(handler=_cmd_status)

    resume = commands.add_parser(
        "resume",
        help="resume sending after a 401 pause",
        description="Lift the pause that a 401 from Calendly put on all sending, once the "
        "token is fixed (workers also lift it by themselves once the token works).",
    )
    resume.set_defaults(handler=_cmd_resume)

    sandbox = commands.add_parser(
        "sandbox",
        help="serve the local Calendly sandbox",
        description="Serve a local Calendly to develop and test against (Ctrl-C stops it).",
    )
    sandbox.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    sandbox.add_argument(
        "--port",
        type=_port,
        default=8765,
        help="port to listen on; 0 picks a free one (default: %(default)s)",
    )
    sandbox.add_argument(
        "--seed", metavar="FILE", help="seed JSON (default: the demo organization)"
    )
    sandbox.add_argument(
        "--token",
        default="sandbox-token",
        help="bearer token the sandbox accepts (default: %(default)s)",
    )
    sandbox.add_argument(
        "--max-window-days",
        type=int,
        default=7,
        choices=(7, 31),
        help="availability window limit: 7 (legacy) or 31 (current Calendly) (default: "
        "%(default)s)",
    )
    sandbox.set_defaults(handler=_cmd_sandbox)

    demo = commands.add_parser(
        "demo",
        help="sandbox + worker + sample requests, end to end",
        description="Start the sandbox and a worker on embedded defaults under "
        ".autobook/demo, submit sample requests, show progress and outcomes.",
    )
    demo.add_argument(
        "--keep",
        action="store_true",
        help="keep the broker's queue folders in .autobook/demo too; the database and the "
        "logs there are always kept (until the next demo), so autobook status can read them",
    )
    demo.add_argument(
        "--timeout",
        type=_seconds,
        default=50.0,
        metavar="SECONDS",
        help="how long to wait for every outcome (default: %(default)s)",
    )
    demo.set_defaults(handler=_cmd_demo)

    # The HTTP intake's commands live beside their code, so this file only lists them.
    from autobook import sources_cli
    from autobook.agents import command as mcp_command
    from autobook.callbacks import command as callbacks_command
    from autobook.proposals import command as propose_command
    from autobook.serve import command as serve_command
    from autobook.webhooks import command as webhooks_command

    serve_command.add_parser(commands, _port, _positive)
    sources_cli.add_parser(commands, _positive)
    propose_command.add_parser(commands)
    mcp_command.add_parser(commands)
    callbacks_command.add_parser(commands, _positive)
    webhooks_command.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        result: int = args.handler(args)
    except AutobookError as exc:
        print(f"autobook: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED  # the operator asked; a traceback would answer nothing
    return result


if __name__ == "__main__":
    sys.exit(main())
