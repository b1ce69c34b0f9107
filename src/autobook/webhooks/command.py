"""`autobook webhooks ensure --url URL` and `autobook webhooks status [--json]`.

`ensure` makes the organization's subscription to URL (your `autobook serve`'s
`/v1/calendly/webhook`) active with a signing key autobook holds (see `webhooks.subscription`);
`status` shows each subscription's state, so a subscription Calendly disabled is seen. Exit 1
when Calendly refuses, or, for `status`, when no active subscription has a key we hold.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

EXIT_FAILED = 1


def _parts() -> tuple[Any, Any, Any]:
    from autobook import db, runtime
    from autobook.config import get_settings
    from autobook.sources.sealing import sealer_for

    settings = get_settings()
    if settings.calendly_token is None:
        raise runtime.MissingToken("AUTOBOOK_CALENDLY_TOKEN is not set")
    db.upgrade(settings.database_url)
    sessions = db.make_session_factory(db.make_engine(settings.database_url))
    client = runtime.build_calendly_client(settings)
    return sessions, client, sealer_for(settings, create=True)


def _ensure(args: argparse.Namespace) -> int:
    from autobook.errors import AutobookError
    from autobook.times import utc_now
    from autobook.webhooks.subscription import ensure

    try:
        sessions, client, sealer = _parts()
        done = ensure(sessions, client, sealer, args.url, utc_now())
    except (AutobookError, ValueError) as exc:
        print(f"autobook: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    if not done.created:
        print(f"subscription {done.subscription.uri} is active")
    else:
        why = f" (replacing one: {done.replaced})" if done.replaced else ""
        print(f"subscription {done.subscription.uri} created{why}; its signing key is kept sealed")
    return 0


def _status(args: argparse.Namespace) -> int:
    from autobook.errors import AutobookError
    from autobook.times import utc_z
    from autobook.webhooks.subscription import ACTIVE, status

    try:
        sessions, client, _ = _parts()
        found = status(sessions, client)
    except (AutobookError, ValueError) as exc:
        print(f"autobook: error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    shown = [
        {
            "uri": s.uri,
            "callback_url": s.callback_url,
            "state": s.state,
            "events": list(s.events),
            "retry_started_at": utc_z(s.retry_started_at),
            "signing_key_held": held,
        }
        for s, held in found
    ]
    if args.json:
        print(json.dumps(shown, indent=2))
    elif not shown:
        print("no webhook subscription: run autobook webhooks ensure --url URL")
    for item in [] if args.json else shown:
        held = "key held" if item["signing_key_held"] else "key unknown"
        print(f"{item['state']:9} {item['callback_url']}  ({held}) {item['uri']}")
    healthy = any(i["state"] == ACTIVE and i["signing_key_held"] for i in shown)
    return 0 if healthy else EXIT_FAILED


def add_parser(commands: Any) -> None:
    webhooks = commands.add_parser(
        "webhooks", help="the Calendly webhook subscription: ensure it, show its state"
    )
    actions = webhooks.add_subparsers(dest="webhooks_command", required=True, metavar="ACTION")
    ensure = actions.add_parser("ensure", help="make the subscription active, with our key")
    ensure.add_argument("--url", required=True, help="public URL of /v1/calendly/webhook")
    ensure.set_defaults(handler=_ensure)
    state = actions.add_parser("status", help="the organization's subscriptions and state")
    state.add_argument("--json", action="store_true", help="print JSON")
    state.set_defaults(handler=_status)
