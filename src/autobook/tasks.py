"""Thin Celery tasks: parse the message, call the service. Celery stays at this edge.

`autobook.book` takes one positional argument: a request's `request_id` (a string, for a request
already recorded by `autobook submit` or the Python API), or a whole booking request (a JSON
object), which is recorded first, idempotently. Anything else is a malformed message (no
argument, several, keyword arguments, an id that was never recorded): it is recorded as
`invalid` under a synthetic id with a reason naming `message` (or `request_id`), the message is
acknowledged, and the worker goes on.
`autobook.dispatch` re-sends every request that is due or whose lease expired, and every due
callback. `autobook.deliver_callback` takes a callback's id and makes one attempt at it.
`autobook.slot_opened` takes an event type URI whose slot opened (a cancellation seen by a
webhook or the sweep): the waiting requests of that type are searched again at once.
"""

from __future__ import annotations

import functools
import logging
from typing import Any

from celery import shared_task

from autobook import dispatcher, intake, logging_setup, runtime

# The names are the broker's protocol: senders import them from `broker` without the tasks.
from autobook.broker import BOOK_TASK as BOOK_TASK
from autobook.broker import DELIVER_CALLBACK_TASK as DELIVER_CALLBACK_TASK
from autobook.broker import DISPATCH_TASK as DISPATCH_TASK
from autobook.broker import SLOT_OPENED_TASK as SLOT_OPENED_TASK
from autobook.doorbell import Doorbell
from autobook.models import RequestStatus

log = logging.getLogger(__name__)


def _wrong_shape_reason(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    keywords = f" ({', '.join(sorted(kwargs))})" if kwargs else ""
    return (
        f"message: {BOOK_TASK} takes one argument, a request_id or a whole request object; "
        f"it got {len(args)} positional and {len(kwargs)} keyword arguments{keywords}"
    )


@shared_task(name=BOOK_TASK, ignore_result=True)
def book(*args: Any, **kwargs: Any) -> None:
    """Book one request; the signature takes anything so a bad message can be recorded."""
    # Every line logged while this request is worked on carries its id (JSON logs).
    first = args[0] if len(args) == 1 else None
    request_id = first if isinstance(first, str) else None
    if isinstance(first, dict) and isinstance(first.get("request_id"), str):
        request_id = first["request_id"]
    with logging_setup.request_context(request_id):
        _book(args, kwargs)


def _book(args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    rt = runtime.current()
    now = rt.service.ctx.clock()
    if len(args) != 1 or kwargs:
        payload = intake.malformed_payload(args, kwargs)
        with rt.sessions.begin() as session:
            result = intake.record_malformed(
                session, payload, _wrong_shape_reason(args, kwargs), now=now
            )
        log.warning("autobook.book: malformed message recorded as %s", result.request_id)
        return
    (message,) = args
    if isinstance(message, str):
        # The claim finds the request by its id: no lookup before it.
        if rt.service.run_by_request_id(message):
            return
        with rt.sessions.begin() as session:
            # Recorded under a synthetic id, never under `message`: that id stays free for the
            # real request when it is submitted.
            result = intake.record_malformed(
                session,
                intake.malformed_payload(args, kwargs),
                f"request_id: no request {message!r} is recorded: submit it first, "
                "or send the whole request object",
                now=now,
            )
        log.warning(
            "autobook.book: no request with id %r is recorded; recorded as %s",
            message,
            result.request_id,
        )
        return
    else:
        # A whole request (or a non-object, which intake records as invalid).
        with rt.sessions.begin() as session:
            result = intake.record(session, message, now=now)
        if RequestStatus(result.status).is_terminal:
            return
        # Even for a known request (a redelivery): the claim runs it only if it is due.
        request_pk = result.request_pk
    rt.service.run(request_pk)


@shared_task(name=DISPATCH_TASK, ignore_result=True)
def dispatch() -> int:
    """Send `autobook.book` for every request that is due or whose lease expired."""
    rt = runtime.current()
    now = rt.service.ctx.clock()
    try:
        dispatcher.dispatch_callbacks(rt.sessions, now, send=send_callback)
    except Exception:  # never costs the dispatch of requests; they are due again next tick
        log.exception("dispatch of the due callbacks failed; retried next tick")
    if dispatcher.check_token_if_paused(rt.sessions, rt.client, now):
        return 0
    # Booked meetings canceled or moved at Calendly (webhooks may be missed); a slot that
    # opened makes the waiting sweep below run now, not at its interval.
    opened: list[str] = []
    try:
        opened = rt.booked_sweep.maybe_sweep()
    except Exception:  # never costs the dispatch; the next interval compares again
        log.exception("sweep of the booked requests failed; retried next interval")
    try:
        rt.subscription_watch.maybe_check()
    except Exception:  # never costs the dispatch; the next interval asks again
        log.exception("check of the webhook subscription failed; retried next interval")
    for event_type_uri in set(opened):
        rt.service.ctx.snapshots.forget(event_type_uri)
    # First the sweep of the waiting requests: those it makes due go out in this very tick.
    try:
        if opened:
            rt.sweeper.sweep()
        else:
            rt.sweeper.maybe_sweep()
    except Exception:  # never costs the dispatch: the waiting are due at their deadline anyway
        log.exception("sweep of the waiting requests failed; retried next interval")
    return dispatcher.dispatch_due(rt.sessions, now, send_many=_doorbell().ring_many)


@functools.cache
def _doorbell() -> Doorbell:
    """This process's doorbell, built on first use: in the pool's child, after the fork."""
    return Doorbell(book.app)


@shared_task(name=DELIVER_CALLBACK_TASK, ignore_result=True)
def deliver_callback(callback_id: Any) -> None:
    """One attempt at a callback; a message that is not a callback id is dropped (logged)."""
    if isinstance(callback_id, bool) or not isinstance(callback_id, int):
        log.warning("%s: takes a callback id (an integer); message dropped", DELIVER_CALLBACK_TASK)
        return
    runtime.current().courier.deliver(callback_id)


def send_callback(callback_id: int) -> None:
    deliver_callback.apply_async(args=(callback_id,))


@shared_task(name=SLOT_OPENED_TASK, ignore_result=True)
def slot_opened(event_type_uri: Any) -> None:
    """Wake the waiting requests of the type: sweep now (no interval gate) and dispatch."""
    if not isinstance(event_type_uri, str):
        log.warning("%s: takes an event type URI; message dropped", SLOT_OPENED_TASK)
        return
    rt = runtime.current()
    # The snapshot that showed the slot taken is stale now, for every worker (Redis) or this one.
    rt.service.ctx.snapshots.forget(event_type_uri)
    if rt.sweeper.sweep():
        dispatcher.dispatch_due(
            rt.sessions, rt.service.ctx.clock(), send_many=_doorbell().ring_many
        )
