"""The subscription watch: ask Calendly, every few minutes, whether our subscription still works.

Calendly disables a webhook subscription after 24 hours of failed deliveries and tells nobody.
The booked sweep keeps outcomes true anyway, but an operator must learn of it: so, from the
dispatcher's tick, one worker at a time (`store.subscription_state.claim_check`) reads the
subscription `autobook webhooks ensure` made (`GET /webhook_subscriptions/{uuid}`, one call per
interval, on the ordinary priority of the rate budget) and records its state: `active`,
`disabled`, or `missing` when Calendly answers 404. The metric
`autobook_webhook_subscription_active` and `autobook check` show it; the alert
`AutobookWebhookSubscriptionDisabled` fires on it. Deployments that never ran `ensure` have
nothing to watch and make no call.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.calendly.client import CalendlyClient
from autobook.errors import CalendlyError, RequestRejected
from autobook.store.subscription_state import ACTIVE, DISABLED, MISSING

log = logging.getLogger(__name__)

CHECK_INTERVAL = timedelta(minutes=5)
NOT_FOUND = 404


class SubscriptionWatch:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        client: CalendlyClient,
        clock: Callable[[], datetime],
        *,
        interval: timedelta = CHECK_INTERVAL,
    ) -> None:
        self._sessions = sessions
        self._client = client
        self._clock = clock
        self._interval = interval

    def maybe_check(self) -> str | None:
        """The state recorded if it was this caller's turn, else None."""
        with self._sessions.begin() as session:
            uri = store.subscription_state.claim_check(
                session, now=self._clock(), interval=self._interval
            )
        if uri is None:
            return None
        try:
            found = self._client.get_webhook_subscription(uri)
            state = ACTIVE if found.state == ACTIVE else DISABLED
        except RequestRejected as exc:
            if exc.status != NOT_FOUND:
                log.warning("webhook subscription not checked (%s)", exc.message)
                return None
            state = MISSING
        except CalendlyError as exc:  # the next interval asks again
            log.warning("webhook subscription not checked (%s)", exc.message)
            return None
        with self._sessions.begin() as session:
            store.subscription_state.record(session, uri, state=state, now=self._clock())
        if state != ACTIVE:
            log.warning(
                "the Calendly webhook subscription is %s: run autobook webhooks ensure --url ...",
                state,
            )
        return state
