"""Delivering one callback: claim an attempt, check where it goes, sign, POST, record.

- At least once: the attempt is claimed (and counted) before the POST and recorded after it; a
  deliverer killed in between leaves the row due again when its lease ends, and the next attempt
  sends the same body under the same `webhook-id`, so the receiver can deduplicate.
- Signed with Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`) under
  the source's callback secret (a `standard_webhooks` source's own secret), or under
  `AUTOBOOK_CALLBACK_SECRET` for a request that came from no source. With no secret there is no
  way to sign: the callback fails at once, with that reason, rather than go out unsigned.
- The URL is checked again here, after DNS (`ssrf`), and redirects are never followed (a
  redirect could point anywhere). A refused URL fails the callback without a POST. The HTTP
  client then connects to exactly the addresses it checked at connect time (`pinned`), so a DNS
  answer that changes between the check and the connect (rebinding) is refused too.
- Any 2xx delivers; anything else (another status, a timeout, a refused connection) is retried
  with exponential backoff and jitter until `give_up_at` (24 hours), then the callback is
  `failed`: `autobook callbacks retry` sends it again. Each attempt is recorded with its status
  code, latency and error.
- A receiver that hangs costs one delivery its timeout, never a booking: deliveries are their
  own tasks, and the booking path only writes the outbox row.
- Secrets never reach a log line or an error: only the callback id and the URL's host are logged.
"""

from __future__ import annotations

import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import httpx
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from autobook.callbacks import pinned, ssrf
from autobook.config import Settings
from autobook.metrics import definitions as metrics
from autobook.models import CallbackState, IntakeSourceRow
from autobook.store import outbox

log = logging.getLogger(__name__)

USER_AGENT = "autobook-callbacks/1"
# The outcome label of an attempt (`autobook_callback_attempts_total`), by the state it left.
OUTCOMES = {
    CallbackState.DELIVERED: "delivered",
    CallbackState.PENDING: "retry",
    CallbackState.FAILED: "failed",
}
# Time to reach the receiver; the read timeout is the setting.
CONNECT_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class Backoff:
    """Exponential backoff with equal jitter: half the step fixed, half random."""

    base_seconds: float
    max_seconds: float
    rng: random.Random = field(default_factory=random.Random)

    def delay(self, attempt: int) -> timedelta:
        step = min(self.max_seconds, self.base_seconds * 2 ** max(0, attempt - 1))
        return timedelta(seconds=step / 2 + self.rng.uniform(0, step / 2))


@dataclass(frozen=True)
class Sent:
    status_code: int | None
    error: str | None
    latency_ms: int
    # The address was refused at connect time: retrying would not make it public.
    refused: bool = False


class Courier:
    """Delivers callbacks from the outbox (see the module docstring)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        settings: Settings,
        http: httpx.Client,
        *,
        clock: Callable[[], datetime],
        backoff: Backoff | None = None,
        resolve: ssrf.Resolver | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._http = http
        self._clock = clock
        self._backoff = backoff or Backoff(
            settings.callback_retry_base_seconds, settings.callback_retry_max_seconds
        )
        self._resolve = resolve
        # Long enough for the POST and its recording; a killed deliverer's row is due after it.
        self._lease = timedelta(
            seconds=CONNECT_TIMEOUT_SECONDS + settings.callback_timeout_seconds * 2
        )

    def deliver(self, callback_id: int) -> CallbackState | None:
        """One attempt at the callback if it is due; its new state, or None if not due."""
        now = self._clock()
        with self._sessions.begin() as session:
            row = outbox.claim(session, callback_id, now=now, lease=self._lease)
            if row is None:
                return None
            url, webhook_id, body = row.url, row.webhook_id, row.body
            attempt, source_id = row.attempts, row.source_id
            secret = self._secret(session, source_id)
        host = urlsplit(url).hostname or "?"
        if secret is None:
            return self._finish(
                callback_id,
                now,
                Sent(
                    None,
                    "no secret to sign it with: give its source one, "
                    "or set AUTOBOOK_CALLBACK_SECRET",
                    0,
                ),
                final=True,
            )
        why = self._url_problem(url)
        if why is not None:
            log.warning("callback %d refused: its URL %s", callback_id, why)
            return self._finish(callback_id, now, Sent(None, f"callback_url {why}", 0), final=True)
        sent = self._post(url, webhook_id, body, secret)
        if sent.refused:
            log.warning("callback %d refused at connect: %s", callback_id, sent.error)
            return self._finish(callback_id, now, sent, final=True)
        if sent.error is None:
            log.info("callback %d delivered to %s (%s)", callback_id, host, webhook_id)
        else:
            log.warning("callback %d to %s, attempt %d: %s", callback_id, host, attempt, sent.error)
        retry_at = self._clock() + self._backoff.delay(attempt)
        return self._finish(callback_id, now, sent, retry_at=retry_at, posted=True)

    def _finish(
        self,
        callback_id: int,
        at: datetime,
        sent: Sent,
        *,
        final: bool = False,
        retry_at: datetime | None = None,
        posted: bool = False,
    ) -> CallbackState:
        with self._sessions.begin() as session:
            state = outbox.finish(
                session,
                callback_id,
                at=at,
                status_code=sent.status_code,
                latency_ms=sent.latency_ms,
                error=sent.error,
                retry_at=None if final else retry_at,
            )
        metrics.callback_attempt(OUTCOMES[state], sent.latency_ms / 1000 if posted else None)
        return state

    def _secret(self, session: Session, source_id: int | None) -> str | None:
        if source_id is None:
            given = self._settings.callback_secret
            return given.get_secret_value() if given is not None else None
        from autobook.sources.sealing import SealingError, sealer_for

        sealed = session.get(IntakeSourceRow, source_id)
        if sealed is None or sealed.callback_secret_sealed is None:
            return None
        try:
            return sealer_for(self._settings).unseal(sealed.callback_secret_sealed)
        except SealingError:
            return None

    def _url_problem(self, url: str) -> str | None:
        allow = self._settings.callback_allow_private
        if self._resolve is None:
            return ssrf.problem(url, allow_private=allow, must_resolve=True)
        return ssrf.problem(url, allow_private=allow, must_resolve=True, resolve=self._resolve)

    def _post(self, url: str, webhook_id: str, body: object, secret: str) -> Sent:
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        signed_at = self._clock()
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(signed_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(webhook_id, signed_at, content),
        }
        started = time.monotonic()
        try:
            response = self._http.post(
                url, content=content.encode(), headers=headers, follow_redirects=False
            )
        except pinned.RefusedAddress as exc:
            return Sent(None, f"callback_url {exc}", _ms(started), refused=True)
        except httpx.HTTPError as exc:
            return Sent(None, f"{type(exc).__name__}: the receiver did not answer", _ms(started))
        if 200 <= response.status_code < 300:
            return Sent(response.status_code, None, _ms(started))
        return Sent(response.status_code, f"HTTP {response.status_code}", _ms(started))


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def build_http(settings: Settings, *, resolve: ssrf.Resolver | None = None) -> httpx.Client:
    """The delivery's client: it connects only to addresses it checked (`pinned`)."""
    timeout = httpx.Timeout(settings.callback_timeout_seconds, connect=CONNECT_TIMEOUT_SECONDS)
    # No proxies from the environment: the address checked must be the address connected to.
    transport = pinned.PinnedTransport(
        allow_private=settings.callback_allow_private, resolve=resolve
    )
    return httpx.Client(
        timeout=timeout, trust_env=False, follow_redirects=False, transport=transport
    )
