"""Webhook subscriptions and their deliveries, as Calendly makes them (API-NOTES §2.9).

A subscription has a callback URL (unique: a second one is 409 "Already Exists"), events, a
scope, an optional `signing_key` and a `state`. Each `invitee.created` and `invitee.canceled`
is POSTed to every active subscription that asked for it, as `{"event", "created_at",
"created_by", "payload": invitee + scheduled_event}`, signed with
`Calendly-Webhook-Signature: t=…,v1=HMAC_SHA256(key, "t.body")` when the subscription has a key.
A failed delivery (no 2xx, or no answer) is retried with exponential back-off; once failures
have lasted `disable_after_seconds` (24 h at Calendly) the subscription is `disabled`, silently,
and must be made again. Faults (`PUT /_sandbox/faults`, `webhooks`) drop deliveries (never sent)
or delay them. Deliveries run as tasks on the server's loop; nothing here blocks a handler.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from .faults import Faults
from .timefmt import format_timestamp

logger = logging.getLogger("autobook.sandbox")

ACTIVE = "active"
DISABLED = "disabled"
INVITEE_EVENTS = ("invitee.created", "invitee.canceled")
CONNECT_TIMEOUT_SECONDS = 10.0  # Calendly's (API-NOTES §2.9)
READ_TIMEOUT_SECONDS = 15.0


@dataclass
class Subscription:
    uuid: str
    callback_url: str
    events: list[str]
    scope: str
    organization: str
    user: str | None
    creator: str | None
    signing_key: str | None
    created_at: datetime
    updated_at: datetime
    state: str = ACTIVE
    retry_started_at: datetime | None = None


@dataclass
class DeliveryPolicy:
    """How deliveries are retried: `PUT /_sandbox/webhooks` changes it (tests shorten it)."""

    retry_seconds: float = 60.0
    disable_after_seconds: float = 24 * 3600.0

    def describe(self) -> dict[str, Any]:
        return {
            "retry_seconds": self.retry_seconds,
            "disable_after_seconds": self.disable_after_seconds,
        }


def signature(key: str, body: bytes, at: int) -> str:
    digest = hmac.new(key.encode(), f"{at}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={at},v1={digest}"


@dataclass
class Webhooks:
    """Every subscription of the sandbox, and the deliveries in flight."""

    policy: DeliveryPolicy = field(default_factory=DeliveryPolicy)
    subscriptions: dict[str, Subscription] = field(default_factory=dict)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def by_url(self, url: str) -> Subscription | None:
        return next((s for s in self.subscriptions.values() if s.callback_url == url), None)

    def add(self, **fields: Any) -> Subscription:
        subscription = Subscription(uuid=str(uuid.uuid4()), **fields)
        self.subscriptions[subscription.uuid] = subscription
        return subscription

    def emit(
        self, event: str, payload: dict[str, Any], *, created_by: str, now: datetime, faults: Faults
    ) -> None:
        """Deliver `event` to every active subscription that asked for it (in the background)."""
        envelope = {
            "event": event,
            "created_at": format_timestamp(now),
            "created_by": created_by,
            "payload": payload,
        }
        body = json.dumps(envelope, ensure_ascii=False, separators=(",", ":")).encode()
        for subscription in self.subscriptions.values():
            if subscription.state != ACTIVE or event not in subscription.events:
                continue
            if faults.drop_webhook():
                logger.info("sandbox: webhook %s to %s dropped (fault)", event, subscription.uuid)
                continue
            task = asyncio.get_running_loop().create_task(
                self._deliver(subscription, body, faults.webhooks.latency_ms)
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def cancel_all(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def _deliver(self, subscription: Subscription, body: bytes, latency_ms: int) -> None:
        wait = self.policy.retry_seconds
        async with httpx.AsyncClient(
            timeout=httpx.Timeout(READ_TIMEOUT_SECONDS, connect=CONNECT_TIMEOUT_SECONDS)
        ) as client:
            while subscription.state == ACTIVE:
                if latency_ms:
                    await asyncio.sleep(latency_ms / 1000)
                if await self._post(client, subscription, body):
                    subscription.retry_started_at = None
                    return
                now = datetime.now(UTC)
                if subscription.retry_started_at is None:
                    subscription.retry_started_at = now
                failing = (now - subscription.retry_started_at).total_seconds()
                if failing >= self.policy.disable_after_seconds:
                    subscription.state = DISABLED
                    subscription.updated_at = now
                    logger.info("sandbox: subscription %s disabled", subscription.uuid)
                    return
                await asyncio.sleep(wait)
                wait *= 2

    @staticmethod
    async def _post(client: httpx.AsyncClient, subscription: Subscription, body: bytes) -> bool:
        headers = {"Content-Type": "application/json"}
        if subscription.signing_key:
            at = int(datetime.now(UTC).timestamp())
            headers["Calendly-Webhook-Signature"] = signature(subscription.signing_key, body, at)
        try:
            response = await client.post(subscription.callback_url, content=body, headers=headers)
        except httpx.HTTPError:
            return False
        return 200 <= response.status_code < 300
