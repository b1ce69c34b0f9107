"""`autobook sources`: add, list, show, update, rotate, remove and test HTTP sources.

A new or rotated secret is printed once and never again: the database keeps an API key's digest
and a signing secret sealed (`autobook.sources.credentials`). A `hubspot_v3` secret is the
HubSpot app's client secret, so it is read from stdin (`--secret-stdin`), never from an argument
(arguments show in `ps` and shell history). A mapping is validated when it is added; `test`
prints what a payload becomes, or its problems, and calls nothing: no database write, no broker,
no Calendly.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from autobook.source_auth import SourceAuth

if TYPE_CHECKING:
    from autobook.models import IntakeSourceRow

NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
DEFAULT_RATE_PER_MINUTE = 600
EXIT_REFUSED = 1
EXIT_USAGE = 2


def _fail(message: str, code: int = EXIT_USAGE) -> int:
    print(f"autobook: error: {message}", file=sys.stderr)
    return code


def _sessions() -> Any:
    from autobook import db
    from autobook.config import get_settings

    settings = get_settings()
    db.upgrade(settings.database_url)
    return db.make_session_factory(db.make_engine(settings.database_url))


def _read_mapping(path: str) -> tuple[str, str] | str:
    """(text, file name) of a valid mapping, or the problems as one message."""
    from autobook.sources.mapping import MappingError, load_mapping

    try:
        text = Path(path).read_text("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        return f"cannot read the mapping {path}: {getattr(exc, 'strerror', None) or exc}"
    try:
        load_mapping(text, name=Path(path).name)
    except MappingError as exc:
        return "the mapping is invalid:\n  " + "\n  ".join(exc.problems)
    return text, path


def _secret(auth: SourceAuth, from_stdin: bool) -> str:
    from autobook.sources import credentials

    if auth is SourceAuth.HUBSPOT_V3 and not from_stdin:
        raise ValueError(
            "a hubspot_v3 source signs with the HubSpot app's client secret: "
            "give it on stdin with --secret-stdin"
        )
    if not from_stdin:
        return credentials.new_secret(auth)
    secret = sys.stdin.readline().strip()
    problem = credentials.check_given_secret(auth, secret)
    if problem is not None:
        raise ValueError(f"the secret on stdin can't be used: {problem}")
    return secret


def _stored(auth: SourceAuth, secret: str) -> Any:
    from autobook.config import get_settings
    from autobook.sources import credentials
    from autobook.sources.sealing import sealer_for

    return credentials.stored(auth, secret, sealer_for(get_settings(), create=True))


def _how_to_call(auth: SourceAuth, name: str) -> str:
    if auth is SourceAuth.API_KEY:
        return "send it as Authorization: Bearer <key>"
    return f"sign with it, and post to /v1/bookings?source={name}"


def _print_secret(
    args: argparse.Namespace,
    source: IntakeSourceRow,
    secret: str,
    verb: str,
    callback_secret: str | None = None,
) -> None:
    if args.json:
        shown = {"name": source.name, "auth": str(source.auth), "secret": secret}
        if callback_secret is not None:
            shown["callback_secret"] = callback_secret
        print(json.dumps(shown))
        return
    how = _how_to_call(source.auth, source.name)
    print(f"source {source.name!r} {verb} ({source.auth}); {how}")
    print("its secret, shown this once (autobook keeps no copy it can show again):")
    print(secret)
    if callback_secret is not None and callback_secret != secret:
        print("the Standard Webhooks secret that signs its callbacks, shown this once:")
        print(callback_secret)


def _callback_secret(auth: SourceAuth, secret: str) -> str:
    """A standard_webhooks source verifies our callbacks with its own secret; others get one."""
    from autobook.sources import credentials

    if auth is SourceAuth.STANDARD_WEBHOOKS:
        return secret
    return credentials.new_secret(SourceAuth.STANDARD_WEBHOOKS)


def _seal(secret: str) -> str:
    from autobook.config import get_settings
    from autobook.sources.sealing import sealer_for

    return sealer_for(get_settings(), create=True).seal(secret)


def _callback_url_problem(url: str) -> str | None:
    from autobook.callbacks import ssrf
    from autobook.config import get_settings

    allow = get_settings().callback_allow_private
    why = ssrf.problem(url, allow_private=allow, must_resolve=False)
    return None if why is None else f"--callback-url {why}"


def _add(args: argparse.Namespace) -> int:
    from autobook import store

    if not NAME.match(args.name):
        return _fail("a source name is 1-64 lowercase letters, digits, - or _, e.g. hubspot")
    auth = SourceAuth(args.auth)
    mapping: tuple[str | None, str | None] = (None, None)
    if args.mapping:
        read = _read_mapping(args.mapping)
        if isinstance(read, str):
            return _fail(read)
        mapping = read
    if args.callback_url and (why := _callback_url_problem(args.callback_url)):
        return _fail(why)
    try:
        secret = _secret(auth, args.secret_stdin)
        kept = _stored(auth, secret)
        callback_secret = _callback_secret(auth, secret)
        callback_sealed = _seal(callback_secret)
    except (ValueError, store.StoreError) as exc:
        return _fail(str(exc))
    sessions = _sessions()
    try:
        with sessions.begin() as session:
            source = store.add_source(
                session,
                name=args.name,
                auth=auth,
                key_digest=kept.key_digest,
                secret_sealed=kept.secret_sealed,
                secret_hint=kept.secret_hint,
                rate_per_minute=args.rate,
                mapping_yaml=mapping[0],
                mapping_file=mapping[1],
                callback_url=args.callback_url,
                callback_secret_sealed=callback_sealed,
            )
    except store.SourceExists as exc:
        return _fail(str(exc), EXIT_REFUSED)
    _print_secret(args, source, secret, "added", callback_secret)
    return 0


def _row(source: IntakeSourceRow) -> dict[str, Any]:
    from autobook.times import utc_z

    return {
        "name": source.name,
        "auth": str(source.auth),
        "secret": source.secret_hint,
        "rate_per_minute": source.rate_per_minute,
        "mapping": source.mapping_file,
        "callback_url": source.callback_url,
        "created_at": utc_z(source.created_at),
        "rotated_at": utc_z(source.rotated_at),
    }


def _list(args: argparse.Namespace) -> int:
    from autobook import store

    with _sessions()() as session:
        sources = store.list_sources(session)
    if args.json:
        print(json.dumps([_row(source) for source in sources], indent=2))
        return 0
    if not sources:
        print("no sources yet; add one with: autobook sources add NAME")
        return 0
    # Imported here: every command builds this module's parser, and only this one prints a table.
    from rich.console import Console
    from rich.table import Table

    table = Table(title="Sources")
    for column in ("name", "auth", "secret", "calls/min", "mapping", "created"):
        table.add_column(column, overflow="fold")
    for source in sources:
        row = _row(source)
        table.add_row(
            row["name"],
            row["auth"],
            row["secret"],
            str(row["rate_per_minute"]),
            row["mapping"] or "",
            row["created_at"] or "",
        )
    Console().print(table)
    return 0


def _find(name: str) -> IntakeSourceRow | None:
    from autobook import store

    with _sessions()() as session:
        found: IntakeSourceRow | None = store.source_by_name(session, name)
        return found


def _show(args: argparse.Namespace) -> int:
    source = _find(args.name)
    if source is None:
        return _fail(f"no source named {args.name!r}", EXIT_REFUSED)
    detail = _row(source)
    if source.mapping_yaml is not None:
        detail["mapping_yaml"] = source.mapping_yaml
    print(json.dumps(detail, indent=2))
    return 0


def _update(args: argparse.Namespace) -> int:
    from autobook import store

    mapping: tuple[str | None, str | None] | None = None
    if args.no_mapping:
        mapping = (None, None)
    elif args.mapping:
        read = _read_mapping(args.mapping)
        if isinstance(read, str):
            return _fail(read)
        mapping = read
    callback_url: tuple[str | None] | None = None
    if args.no_callback_url:
        callback_url = (None,)
    elif args.callback_url:
        if why := _callback_url_problem(args.callback_url):
            return _fail(why)
        callback_url = (args.callback_url,)
    with _sessions().begin() as session:
        found = store.update_source(
            session,
            args.name,
            mapping=mapping,
            rate_per_minute=args.rate,
            callback_url=callback_url,
        )
    if not found:
        return _fail(f"no source named {args.name!r}", EXIT_REFUSED)
    print(f"source {args.name!r} updated")
    return 0


def _rotate(args: argparse.Namespace) -> int:
    from autobook import store

    source = _find(args.name)
    if source is None:
        return _fail(f"no source named {args.name!r}", EXIT_REFUSED)
    try:
        secret = _secret(source.auth, args.secret_stdin)
        kept = _stored(source.auth, secret)
    except ValueError as exc:
        return _fail(str(exc))
    # A standard_webhooks source signs both ways with one secret: rotate both at once.
    same_secret = source.auth is SourceAuth.STANDARD_WEBHOOKS
    with _sessions().begin() as session:
        store.rotate_source(
            session,
            args.name,
            key_digest=kept.key_digest,
            secret_sealed=kept.secret_sealed,
            secret_hint=kept.secret_hint,
            callback_secret_sealed=kept.secret_sealed if same_secret else None,
        )
    _print_secret(args, source, secret, "rotated: the old secret no longer works")
    return 0


def _remove(args: argparse.Namespace) -> int:
    from autobook import store

    with _sessions().begin() as session:
        removed = store.remove_source(session, args.name)
    if not removed:
        return _fail(f"no source named {args.name!r}", EXIT_REFUSED)
    print(f"source {args.name!r} removed; its secret no longer works (its requests are kept)")
    return 0


def _test(args: argparse.Namespace) -> int:
    """Print the booking request a payload becomes, or its problems; records nothing."""
    from autobook.errors import InvalidRequest
    from autobook.request_horizon import horizon_problems
    from autobook.request_text import decode_json_document
    from autobook.requests import parse_request
    from autobook.sources.mapping import apply, load_mapping
    from autobook.times import utc_now

    source = _find(args.name)
    if source is None:
        return _fail(f"no source named {args.name!r}", EXIT_REFUSED)
    try:
        text = sys.stdin.read() if args.payload == "-" else Path(args.payload).read_text("utf-8")
        payload = decode_json_document(text)
    except (OSError, UnicodeDecodeError) as exc:
        return _fail(f"cannot read {args.payload}: {getattr(exc, 'strerror', None) or exc}")
    except InvalidRequest as exc:
        return _fail(f"{args.payload} is not JSON: {exc.message}")
    route = None
    mapping_problems: list[str] = []
    request = payload
    if source.mapping_yaml is not None:
        mapped = apply(load_mapping(source.mapping_yaml, name=args.name), payload)
        request, route, mapping_problems = mapped.request, mapped.route, mapped.problems
    # Mapping problems alone (an optional path missing) leave the request valid; the intake's
    # own validation decides, exactly as `autobook serve` would.
    problems = [_problem(text) for text in mapping_problems]
    try:
        found = horizon_problems(parse_request(request), utc_now())
    except InvalidRequest as exc:
        found = exc.problems
    problems += [{"field": p.field, "problem": p.problem} for p in found]
    valid = not found
    shown = {"request": request, "route": route, "valid": valid, "problems": problems}
    print(json.dumps(shown, indent=2, ensure_ascii=True))
    return 0 if valid else EXIT_REFUSED


def _problem(text: str) -> dict[str, str]:
    field, _, problem = text.partition(": ")
    return {"field": field, "problem": problem}


def add_parser(commands: Any, positive: Any) -> None:
    """Add `sources` and its subcommands to the command line."""
    sources = commands.add_parser(
        "sources",
        help="manage the HTTP intake's sources (add, list, show, update, rotate, remove, test)",
        description="The systems that post booking requests to `autobook serve`.",
    )
    actions = sources.add_subparsers(dest="sources_command", required=True, metavar="ACTION")
    add = actions.add_parser("add", help="add a source; prints its secret once")
    add.add_argument("name", metavar="NAME")
    add.add_argument(
        "--auth",
        choices=[auth.value for auth in SourceAuth],
        default=SourceAuth.API_KEY.value,
        help="how it proves who it is (default: %(default)s)",
    )
    add.add_argument("--mapping", metavar="FILE", help="a YAML mapping of its payload")
    add.add_argument(
        "--rate",
        type=positive,
        default=DEFAULT_RATE_PER_MINUTE,
        metavar="N",
        help="calls a minute it may make (default: %(default)s)",
    )
    add.add_argument("--secret-stdin", action="store_true", help="read its secret from stdin")
    add.add_argument(
        "--callback-url", metavar="URL", help="where outcomes go when a request names none"
    )
    add.add_argument("--json", action="store_true", help="print JSON")
    add.set_defaults(handler=_add)

    listing = actions.add_parser("list", help="list sources")
    listing.add_argument("--json", action="store_true", help="print JSON")
    listing.set_defaults(handler=_list)

    show = actions.add_parser("show", help="one source in full (never its secret)")
    show.add_argument("name", metavar="NAME")
    show.set_defaults(handler=_show)

    update = actions.add_parser("update", help="change a source's mapping or rate limit")
    update.add_argument("name", metavar="NAME")
    update.add_argument("--mapping", metavar="FILE", help="a new YAML mapping")
    update.add_argument("--no-mapping", action="store_true", help="drop its mapping")
    update.add_argument("--rate", type=positive, metavar="N", help="calls a minute")
    update.add_argument("--callback-url", metavar="URL", help="a new default callback URL")
    update.add_argument("--no-callback-url", action="store_true", help="drop it")
    update.set_defaults(handler=_update)

    rotate = actions.add_parser("rotate", help="replace a source's secret; prints it once")
    rotate.add_argument("name", metavar="NAME")
    rotate.add_argument("--secret-stdin", action="store_true", help="read its secret from stdin")
    rotate.add_argument("--json", action="store_true", help="print JSON")
    rotate.set_defaults(handler=_rotate)

    remove = actions.add_parser("remove", help="remove a source (its requests are kept)")
    remove.add_argument("name", metavar="NAME")
    remove.set_defaults(handler=_remove)

    test = actions.add_parser(
        "test", help="print the booking request a payload becomes; records nothing"
    )
    test.add_argument("name", metavar="NAME")
    test.add_argument("payload", metavar="PAYLOAD.json|-")
    test.set_defaults(handler=_test)
