"""Who a bearer token is, and what it may do: identities, scopes and roles.

The token given on the command line belongs to the organization's owner and holds every scope;
the seed's `tokens` add others, for another member (an admin or a plain user) or with fewer
scopes (API-NOTES §1: tokens issued since 2026-03 get only the scopes chosen for them). Each API
route needs one scope; a token without it gets Calendly's 403 `Insufficient scope` naming it in
`required_scopes`, before the handler looks at anything, as Calendly checks scopes first.
Organization-wide lists need an owner or admin: a plain user gets the 403 Calendly sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import ApiError
from .seed import Seed

INSUFFICIENT_SCOPE_TITLE = "Insufficient scope"
INSUFFICIENT_SCOPE_MESSAGE = (
    "This operation requires the scopes listed in the 'required_scopes' array."
)
ADMIN_ROLES = frozenset({"owner", "admin"})

# "METHOD /route template" -> the scope Calendly asks for it.
ROUTE_SCOPES = {
    "GET /users/me": "users:read",
    "GET /users/{uuid}": "users:read",
    "GET /organizations/{uuid}": "organizations:read",
    "GET /organization_memberships": "organizations:read",
    "GET /event_types": "event_types:read",
    "GET /event_types/{uuid}": "event_types:read",
    "GET /event_type_available_times": "availability:read",
    "POST /invitees": "scheduled_events:write",
    "GET /scheduled_events": "scheduled_events:read",
    "GET /scheduled_events/{uuid}": "scheduled_events:read",
    "GET /scheduled_events/{uuid}/invitees": "scheduled_events:read",
    "GET /scheduled_events/{event_uuid}/invitees/{invitee_uuid}": "scheduled_events:read",
    "POST /scheduled_events/{uuid}/cancellation": "scheduled_events:write",
    "POST /webhook_subscriptions": "webhooks:write",
    "GET /webhook_subscriptions": "webhooks:read",
    "GET /webhook_subscriptions/{uuid}": "webhooks:read",
    "DELETE /webhook_subscriptions/{uuid}": "webhooks:write",
}


@dataclass(frozen=True)
class Identity:
    """The member a token acts as. `scopes` None: every scope (a token from before scopes)."""

    user_uuid: str
    role: str
    scopes: frozenset[str] | None
    is_main: bool = False

    @property
    def is_admin(self) -> bool:
        return self.role in ADMIN_ROLES

    def may(self, route_key: str) -> bool:
        needed = ROUTE_SCOPES.get(route_key)
        return needed is None or self.scopes is None or needed in self.scopes


def insufficient_scope(route_key: str) -> ApiError:
    body: dict[str, Any] = {
        "title": INSUFFICIENT_SCOPE_TITLE,
        "message": INSUFFICIENT_SCOPE_MESSAGE,
        "required_scopes": [ROUTE_SCOPES[route_key]],
    }
    return ApiError(403, body)


def identities(seed: Seed, main_token: str, users_by_email: dict[str, Any]) -> dict[str, Identity]:
    """Every token the sandbox accepts, mapped to who it is; the main token is the owner's."""
    owner = users_by_email[seed.owner().email]
    found = {
        token.token: Identity(
            user_uuid=users_by_email[token.user].uuid,
            role=users_by_email[token.user].role,
            scopes=None if token.scopes is None else frozenset(token.scopes),
        )
        for token in seed.tokens
    }
    found[main_token] = Identity(user_uuid=owner.uuid, role="owner", scopes=None, is_main=True)
    return found
