"""The dispatcher: re-send every request that is due, or whose lease expired.

The broker only rings the doorbell; this is what makes a lost message, a killed worker or a
restarted Redis lose nothing. Each tick picks the due requests (next action due, no live lease,
not sent again in the last `redispatch_after`) and marks them dispatched in the same conditional
UPDATE, so several dispatchers running at once send each request once per interval. A duplicate
message is harmless anyway: the claim refuses it.

While sending is paused by a 401 the store hands out nothing; instead one dispatcher per
`token_check_interval` asks Calendly who the token belongs to (`GET /users/me`, which books
nothing) and lifts the pause when the token works again.

The same tick sends the callbacks that are due (`store.outbox`): new ones, retries whose time
came, and those whose deliverer died mid-POST. The pause does not hold them: they call no
Calendly.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.calendly.client import CalendlyClient
from autobook.errors import CalendlyError

log = logging.getLogger(__name__)

DISPATCH_BATCH = 500
REDISPATCH_AFTER = timedelta(seconds=30)
TOKEN_CHECK_INTERVAL = timedelta(seconds=15)


def check_token_if_paused(
    sessions: sessionmaker[Session],
    client: CalendlyClient,
    now: datetime,
    *,
    interval: timedelta = TOKEN_CHECK_INTERVAL,
) -> bool:
    """True when sending is (still) paused after this check."""
    with sessions.begin() as session:
        if store.sending_paused(session) is None:
            return False
        if not store.claim_token_check(session, now=now, interval=interval):
            return True
    try:
        client.get_current_user()
    except CalendlyError as exc:
        log.warning("sending paused: the token still fails (%s)", exc.message)
        return True
    with sessions.begin() as session:
        store.resume_sending(session, now=now)
    log.info("the token works again: sending resumed")
    return False


def dispatch_due(
    sessions: sessionmaker[Session],
    now: datetime,
    *,
    send_many: Callable[[Sequence[str]], None],
    redispatch_after: timedelta = REDISPATCH_AFTER,
) -> int:
    """Send the due requests, all in one go (`autobook.doorbell`); returns how many were sent.

    They are marked dispatched as they are taken: if the broker fails, each goes again after
    `redispatch_after`, like a message lost on the way.
    """
    with sessions.begin() as session:
        due = store.take_due(
            session, now=now, limit=DISPATCH_BATCH, redispatch_after=redispatch_after
        )
    if not due:
        return 0
    try:
        send_many(due)
    except Exception:
        log.warning(
            "dispatcher: could not send %d due requests; will retry", len(due), exc_info=True
        )
        return 0
    log.info("dispatcher: sent %d due requests", len(due))
    return len(due)


def dispatch_callbacks(
    sessions: sessionmaker[Session],
    now: datetime,
    *,
    send: Callable[[int], None],
    redispatch_after: timedelta = REDISPATCH_AFTER,
) -> int:
    """Send the due callbacks; returns how many were sent."""
    with sessions.begin() as session:
        due = store.outbox.take_due(
            session, now=now, limit=DISPATCH_BATCH, redispatch_after=redispatch_after
        )
    sent = 0
    for callback_id in due:
        try:
            send(callback_id)
            sent += 1
        except Exception:
            log.warning("dispatcher: could not send callback %d; will retry", callback_id)
            break
    return sent
