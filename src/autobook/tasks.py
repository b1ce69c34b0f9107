"""Thin Celery tasks: parse the message, call the service. Celery stays at this edge.

`autobook.book` takes one positional argument: a request's `request_id` (a string, for a request
already recorded by `autobook submit` or the Python API), or a whole booking request (a JSON
object), which is recorded first, idempotently. Anything else is a malformed message: it is
recorded as `invalid` with the reason, the message is acknowledged, and the worker goes on.
`autobook.dispatch` re-sends every request that is due or whose lease expired.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from celery import shared_task

from autobook import dispatcher, intake, runtime, store

log = logging.getLogger(__name__)

BOOK_TASK = "autobook.book"
DISPATCH_TASK = "autobook.dispatch"


def _describe_args(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    try:
        return json.dumps({"args": args, "kwargs": kwargs}, default=repr)[:500]
    except (TypeError, ValueError):
        return repr((args, kwargs))[:500]


@shared_task(name=BOOK_TASK, ignore_result=True)
def book(*args: Any, **kwargs: Any) -> None:
    """Book one request; the signature takes anything so a bad message can be recorded."""
    rt = runtime.current()
    now = rt.service.ctx.clock()
    request_pk: int | None = None
    if len(args) == 1 and not kwargs and isinstance(args[0], str):
        with rt.sessions.begin() as session:
            row = store.get_by_request_id(session, args[0])
            request_pk = row.id if row is not None else None
        if request_pk is None:
            log.warning("autobook.book: no request with id %r is recorded; ignored", args[0])
            return
    elif len(args) == 1 and not kwargs and isinstance(args[0], dict):
        with rt.sessions.begin() as session:
            result = intake.record(session, args[0], now=now)
        request_pk = result.request_pk
    else:
        raw = {"malformed_message": _describe_args(args, kwargs)}
        with rt.sessions.begin() as session:
            result = intake.record(session, raw, now=now)
        log.warning("autobook.book: malformed message recorded as %s", result.request_id)
        return
    rt.service.run(request_pk)


@shared_task(name=DISPATCH_TASK, ignore_result=True)
def dispatch() -> int:
    """Send `autobook.book` for every request that is due or whose lease expired."""
    rt = runtime.current()
    now = rt.service.ctx.clock()
    if dispatcher.check_token_if_paused(rt.sessions, rt.client, now):
        return 0
    return dispatcher.dispatch_due(rt.sessions, now, send=send_book)


def send_book(request_id: str) -> None:
    book.apply_async(args=(request_id,))
