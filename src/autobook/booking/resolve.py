"""Resolve a request's event type: by URI, or by a selector over every page of the organization.

Event types are cached for a short time per process: a burst of requests for the same type costs
one listing, and a renamed question or location is seen again within the TTL. The organization
is the token owner's current organization (the admin token sees every host's types).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from autobook.calendly.client import CalendlyClient
from autobook.calendly.models import EventType
from autobook.errors import RequestRejected
from autobook.requests import BookingRequest, EventTypeSelector


class EventTypeNotFound(RequestRejected):
    """No event type matches the request's selector."""


class EventTypeResolver:
    """Finds event types, with a TTL cache; safe to share between threads."""

    def __init__(
        self,
        client: CalendlyClient,
        *,
        ttl_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._ttl_seconds = ttl_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._organization: str | None = None
        self._listing: tuple[float, list[EventType]] | None = None
        self._by_uri: dict[str, tuple[float, EventType]] = {}
        self._owner_emails: dict[str, str] = {}

    def organization(self) -> str:
        with self._lock:
            if self._organization is None:
                organization = self._client.get_current_user().current_organization
                if not organization:
                    raise RequestRejected("the token's user has no current organization")
                self._organization = organization
            return self._organization

    def by_uri(self, uri: str) -> EventType:
        now = self._monotonic()
        with self._lock:
            cached = self._by_uri.get(uri)
        if cached and now - cached[0] < self._ttl_seconds:
            return cached[1]
        event_type = self._client.get_event_type(uri)
        with self._lock:
            self._by_uri[uri] = (now, event_type)
        return event_type

    def all_event_types(self) -> list[EventType]:
        now = self._monotonic()
        with self._lock:
            listing = self._listing
        if listing and now - listing[0] < self._ttl_seconds:
            return listing[1]
        event_types = list(self._client.iter_event_types(organization=self.organization()))
        with self._lock:
            self._listing = (now, event_types)
            for event_type in event_types:
                self._by_uri[event_type.uri] = (now, event_type)
        return event_types

    def owner_email(self, owner_uri: str) -> str:
        with self._lock:
            email = self._owner_emails.get(owner_uri)
        if email is None:
            email = self._client.get_user(owner_uri).email or ""
            with self._lock:
                self._owner_emails[owner_uri] = email
        return email

    def by_selector(self, selector: EventTypeSelector) -> EventType:
        candidates = [et for et in self.all_event_types() if _matches(et, selector)]
        if selector.owner:
            wanted = selector.owner.casefold()
            candidates = [
                et
                for et in candidates
                if et.profile is not None
                and et.profile.owner
                and self.owner_email(et.profile.owner).casefold() == wanted
            ]
        described = _describe(selector)
        active = [et for et in candidates if et.active]
        if not active:
            hint = " (it is inactive)" if candidates else ""
            raise EventTypeNotFound(f"event_type: no active event type matches {described}{hint}")
        if len(active) > 1:
            owners = ", ".join((et.profile.name if et.profile else None) or et.uri for et in active)
            raise EventTypeNotFound(
                f"event_type: {len(active)} event types match {described} "
                f"(owners: {owners}); add `owner` to choose one"
            )
        return active[0]


def _matches(event_type: EventType, selector: EventTypeSelector) -> bool:
    if selector.slug is not None:
        return (event_type.slug or "") == selector.slug
    return (event_type.name or "").strip().casefold() == (selector.name or "").strip().casefold()


def _describe(selector: EventTypeSelector) -> str:
    parts = []
    if selector.name is not None:
        parts.append(f"name {selector.name!r}")
    if selector.slug is not None:
        parts.append(f"slug {selector.slug!r}")
    if selector.owner is not None:
        parts.append(f"owner {selector.owner!r}")
    return " and ".join(parts)


def event_type_of(resolver: EventTypeResolver, request: BookingRequest) -> EventType:
    """The event type a request names, by selector or by URI; an inactive one is refused."""
    ref = request.event_type
    if isinstance(ref, EventTypeSelector):
        return resolver.by_selector(ref)
    event_type = resolver.by_uri(ref)
    if not event_type.active:
        raise RequestRejected(f"event_type: event type {event_type.name!r} is inactive")
    return event_type
