"""Everything one running sandbox holds, and the per-request view of it handlers get.

:class:`SandboxState` owns the seed, the :class:`Store`, availability, rate limits,
faults, request statistics and the lock that serializes every change of bookings.
:meth:`SandboxState.reset` puts all of it back to the seed. :class:`Call` is what a
handler receives: the request, the state, the clock reading taken when the request
arrived, and the base URL every URI of the response is built on.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from .access import Identity, identities
from .availability import Availability, WorkingHours
from .errors import invalid
from .faults import NO_FAULTS, Faults, Rolls
from .ratelimit import RateLimiter, plan_for_tier
from .seed import Seed
from .seeding import build_store
from .store import Store
from .webhooks import Webhooks

MAX_BODY_BYTES = 1_000_000

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


class SandboxState:
    def __init__(
        self, seed: Seed, token: str, max_window_days: int, clock: Clock | None = None
    ) -> None:
        self.seed = seed
        self.token = token
        self.max_window_days = max_window_days
        self.clock: Clock = clock or utc_now
        self.lock = asyncio.Lock()
        # Working hours depend on the seed only, so their cache survives resets.
        self._hours = WorkingHours()
        self.transports: dict[tuple[str, int], asyncio.Transport] = {}
        # "METHOD /route" keys that faults may target; filled in by the app.
        self.fault_endpoints: set[str] = set()
        self.reset()

    def reset(self) -> None:
        """Back to the seed: its bookings only, no faults, its limits, no statistics."""
        self.store = build_store(self.seed)
        self.identities = identities(self.seed, self.token, self.store.users_by_email)
        self.availability = Availability(self.store, self._hours)
        self.faults = Faults()
        self.limiter = RateLimiter()
        for user in self.store.users.values():
            self.limiter.set_plan(user.uuid, plan_for_tier(user.plan))
        self.stats: Counter[tuple[str, str, int | None]] = Counter()
        previous: Webhooks | None = getattr(self, "webhooks", None)
        if previous is not None:
            previous.cancel_all()
        self.webhooks: Webhooks = Webhooks()

    def now(self) -> datetime:
        return self.clock().astimezone(UTC)


@dataclass
class Call:
    """One request as a handler sees it."""

    request: Request
    state: SandboxState
    base: str
    now: datetime
    identity: Identity | None = None  # set by the app once the token is checked
    rolls: Rolls = NO_FAULTS
    created_invitees: list[str] = field(default_factory=list)

    @property
    def store(self) -> Store:
        return self.state.store

    @property
    def caller(self) -> Identity:
        """Who the token is; before the app sets it (handler unit tests), the owner."""
        return self.identity or self.state.identities[self.state.token]

    @property
    def params(self) -> dict[str, str]:
        return dict(self.request.query_params)

    async def json_body(self, empty: object = None) -> object:
        """The decoded JSON body; ``empty`` when there is none; bare 400 when it isn't JSON."""
        raw = await self.request.body()
        if len(raw) > MAX_BODY_BYTES:
            raise invalid()
        if not raw.strip():
            return empty
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            raise invalid() from None
        if _holds_lone_surrogate(body):
            # `\ud83d` is valid JSON but no text: storing it would make every later answer
            # that renders it (the ledger, the event's invitees) fail to encode, so refuse it
            # before anything is committed, as a server that reads UTF-8 would.
            raise invalid()
        return body


def _holds_lone_surrogate(value: object) -> bool:
    """True if any string of a decoded JSON value (keys too) holds an unpaired surrogate."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return False


Handler = Callable[[Call], Awaitable[Response]]


def json_response(content: Any, status: int = 200) -> Response:
    body = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return Response(body, status_code=status, media_type="application/json")
