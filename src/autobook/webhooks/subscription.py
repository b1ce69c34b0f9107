"""`autobook webhooks ensure` and `status`: the organization's subscription, kept alive.

Calendly disables a subscription after 24 hours of failed deliveries and tells nobody, and a
disabled one can't be re-enabled. `ensure` therefore makes sure there is an *active*
subscription to URL whose signing key we hold: if there is none, or it is disabled, or it was
made elsewhere (we can't know its key), it is deleted and made again with a new random key,
which is kept sealed in the database (`calendly_subscription`), where `autobook serve` reads it.
The key is never printed. `status` lists the organization's subscriptions and their state.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from autobook import store
from autobook.calendly.client import CalendlyClient
from autobook.calendly.models import WebhookSubscription
from autobook.sources.sealing import Sealer

EVENTS = ("invitee.created", "invitee.canceled")
ACTIVE = "active"
KEY_BYTES = 32


@dataclass(frozen=True)
class Ensured:
    subscription: WebhookSubscription
    created: bool
    replaced: str | None  # why an existing one was replaced


def organization_of(client: CalendlyClient) -> str:
    organization = client.get_current_user().current_organization
    if not organization:
        raise ValueError("the token's user belongs to no organization")
    return organization


def ensure(
    sessions: sessionmaker[Session],
    client: CalendlyClient,
    sealer: Sealer,
    url: str,
    now: datetime,
) -> Ensured:
    organization = organization_of(client)
    existing = next(
        (
            s
            for s in client.iter_webhook_subscriptions(organization=organization)
            if s.callback_url == url
        ),
        None,
    )
    with sessions() as session:
        ours = set(store.calendly_events.subscription_uris(session))
    replaced: str | None = None
    if existing is not None:
        if existing.state == ACTIVE and existing.uri in ours:
            return Ensured(existing, created=False, replaced=None)
        replaced = "it was disabled" if existing.state != ACTIVE else "its signing key is unknown"
        client.delete_webhook_subscription(existing.uri)
    key = secrets.token_urlsafe(KEY_BYTES)
    made = client.create_webhook_subscription(
        url=url, events=EVENTS, organization=organization, signing_key=key
    )
    with sessions.begin() as session:
        store.calendly_events.save_subscription(
            session, uri=made.uri, callback_url=url, signing_key_sealed=sealer.seal(key), now=now
        )
    return Ensured(made, created=True, replaced=replaced)


def status(
    sessions: sessionmaker[Session], client: CalendlyClient
) -> list[tuple[WebhookSubscription, bool]]:
    """Every subscription of the organization, with whether we hold its signing key."""
    organization = organization_of(client)
    with sessions() as session:
        ours = set(store.calendly_events.subscription_uris(session))
    return [
        (s, s.uri in ours) for s in client.iter_webhook_subscriptions(organization=organization)
    ]
