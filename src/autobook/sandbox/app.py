"""The ASGI application: routing, the bearer token, rate limits, faults, stats.

One request goes through, in order: route match; token check (401); for the
Calendly API, the rate limiter (429), then the injected faults (latency, 429, 500),
the handler, and the after-commit faults (500 anyway, or a dropped connection); a
stats count by route template; ``X-RateLimit-*`` headers on every response, admin
and errors included. Admin calls (``/_sandbox/``) skip limits, faults and stats.
Invariant: no exception leaves this module; anything unexpected is logged (never
with the token or a body) and answered with Calendly's exact 500 body.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from . import admin, api_org, api_read, api_webhooks, api_write, pages
from .access import Identity, insufficient_scope
from .errors import (
    INTERNAL_ERROR_BODY,
    NOT_FOUND_BODY,
    TOO_MANY_REQUESTS_BODY,
    UNAUTHENTICATED_BODY,
    ApiError,
    invalid,
)
from .ratelimit import Verdict
from .state import Call, Handler, SandboxState, json_response

logger = logging.getLogger("autobook.sandbox")

ADMIN_PREFIX = "/_sandbox/"
BOOKING_ENDPOINT = "POST /invitees"
UNMATCHED_ROUTE = "(unmatched)"

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Route:
    method: str
    template: str
    handler: Handler
    pattern: re.Pattern[str]

    @property
    def key(self) -> str:
        return f"{self.method} {self.template}"


def _route(method: str, template: str, handler: Handler) -> Route:
    regex = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", template)
    return Route(method, template, handler, re.compile(f"^{regex}$"))


API_ROUTES = (
    _route("GET", "/users/me", api_read.get_user),
    _route("GET", "/users/{uuid}", api_read.get_user),
    _route("GET", "/organizations/{uuid}", api_org.get_organization),
    _route("GET", "/organization_memberships", api_org.list_memberships),
    _route("GET", "/event_types", api_read.list_event_types),
    _route("GET", "/event_types/{uuid}", api_read.get_event_type),
    _route("GET", "/event_type_available_times", api_read.list_available_times),
    _route("POST", "/invitees", api_write.create_invitee),
    _route("GET", "/scheduled_events", api_read.list_events),
    _route("GET", "/scheduled_events/{uuid}", api_read.get_event),
    _route("GET", "/scheduled_events/{uuid}/invitees", api_read.list_invitees),
    _route("GET", "/scheduled_events/{event_uuid}/invitees/{invitee_uuid}", api_read.get_invitee),
    _route("POST", "/scheduled_events/{uuid}/cancellation", api_write.cancel_event),
    _route("POST", "/webhook_subscriptions", api_webhooks.create),
    _route("GET", "/webhook_subscriptions", api_webhooks.list_all),
    _route("GET", "/webhook_subscriptions/{uuid}", api_webhooks.get_one),
    _route("DELETE", "/webhook_subscriptions/{uuid}", api_webhooks.delete),
)
ADMIN_ROUTES = (
    _route("GET", "/_sandbox/ledger", admin.ledger),
    _route("GET", "/_sandbox/stats", admin.stats),
    _route("GET", "/_sandbox/faults", admin.get_faults),
    _route("PUT", "/_sandbox/faults", admin.put_faults),
    _route("GET", "/_sandbox/limits", admin.get_limits),
    _route("PUT", "/_sandbox/limits", admin.put_limits),
    _route("POST", "/_sandbox/reset", admin.reset),
    _route("GET", "/_sandbox/webhooks", admin.get_webhooks),
    _route("PUT", "/_sandbox/webhooks", admin.put_webhooks),
)


def _match(method: str, path: str) -> tuple[Route | None, dict[str, str]]:
    routes = ADMIN_ROUTES if path.startswith(ADMIN_PREFIX) else API_ROUTES
    for route in routes:
        found = route.pattern.match(path)
        if found and route.method == method:
            return route, found.groupdict()
    return None, {}


def error_response(error: ApiError) -> Response:
    return json_response(error.body, status=error.status)


class SandboxApp:
    """The ASGI callable serving one :class:`SandboxState`."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        state.fault_endpoints = {route.key for route in API_ROUTES}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        started = False

        async def tracking_send(message: MutableMapping[str, Any]) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self._handle(scope, receive, tracking_send)
        except Exception:
            logger.exception("sandbox: unexpected error on %s %s", scope["method"], scope["path"])
            if not started:
                await json_response(INTERNAL_ERROR_BODY, status=500)(scope, receive, send)

    def _identify(self, request: Request, is_admin: bool) -> Identity | None:
        """Who the bearer token is, or None; only the main (owner's) token opens the admin API."""
        header = request.headers.get("authorization", "")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        given = token.strip().encode()
        found = None
        for known, identity in self.state.identities.items():
            # Compared with every token, in constant time each: no early exit to time.
            if hmac.compare_digest(given, known.encode()):
                found = identity
        if found is None or (is_admin and not found.is_main):
            return None
        return found

    async def _handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        state = self.state
        route, path_params = _match(scope["method"], scope["path"])
        scope["path_params"] = path_params
        request = Request(scope, receive)
        is_admin = scope["path"].startswith(ADMIN_PREFIX)
        owner = state.store.owner.uuid
        now = state.now()
        if pages.matches(scope["path"]):
            # An invitee's cancel and reschedule pages: public, as Calendly's are.
            call = Call(request, state, str(request.base_url).rstrip("/"), now)
            await (await self._run(pages.handle, call))(scope, receive, send)
            return
        identity = self._identify(request, is_admin)
        if identity is None:
            response = json_response(UNAUTHENTICATED_BODY, 401)
            if not is_admin:
                self._count(scope, route, 401)
            await self._send(response, state.limiter.peek(owner, now), scope, receive, send)
            return
        call = Call(request, state, str(request.base_url).rstrip("/"), now, identity=identity)
        if is_admin:
            response = (
                await self._run(route.handler, call)
                if route
                else json_response(NOT_FOUND_BODY, 404)
            )
            await self._send(response, state.limiter.peek(owner, now), scope, receive, send)
            return
        # Calendly limits per user: a member's token spends that member's budget.
        verdict = state.limiter.admit(
            identity.user_uuid, route is not None and route.key == BOOKING_ENDPOINT, now
        )
        if not verdict.allowed:
            response = json_response(TOO_MANY_REQUESTS_BODY, 429)
        elif route is None:
            response = json_response(NOT_FOUND_BODY, 404)
        elif not identity.may(route.key):
            response = error_response(insufficient_scope(route.key))
        else:
            call.rolls = state.faults.roll(route.key)
            if call.rolls.latency_ms:
                # A real server holds the whole request before it works on it: read the body
                # first, so a client that dies during the latency still has its booking made.
                try:
                    await request.body()
                except ClientDisconnect:
                    return  # nobody to answer, and nothing to book: not an error
                await asyncio.sleep(call.rolls.latency_ms / 1000)
            if call.rolls.error_429:
                response = json_response(TOO_MANY_REQUESTS_BODY, 429)
                verdict = Verdict(False, verdict.limit, 0, verdict.reset_seconds)
            elif call.rolls.error_500:
                response = json_response(INTERNAL_ERROR_BODY, 500)
            else:
                response = await self._run(route.handler, call)
                if call.rolls.drop_after_commit:
                    await self._drop(scope, call)
                    return
                if call.rolls.error_500_after_commit:
                    response = json_response(INTERNAL_ERROR_BODY, 500)
        self._count(scope, route, response.status_code)
        await self._send(response, verdict, scope, receive, send)

    async def _run(self, handler: Handler, call: Call) -> Response:
        try:
            return await handler(call)
        except ApiError as error:
            return error_response(error)
        except ClientDisconnect:
            # The client hung up mid-body: nothing was done, and nobody reads the answer.
            return error_response(invalid())
        except Exception:
            # A bug, not bad input: log it (path only, no body) and answer like Calendly.
            scope = call.request.scope
            logger.exception("sandbox: unexpected error on %s %s", scope["method"], scope["path"])
            return json_response(INTERNAL_ERROR_BODY, 500)

    async def _send(
        self, response: Response, verdict: Verdict, scope: Scope, receive: Receive, send: Send
    ) -> None:
        response.headers.update(verdict.headers())
        await response(scope, receive, send)

    def _count(self, scope: Scope, route: Route | None, status: int | None) -> None:
        template = route.template if route is not None else UNMATCHED_ROUTE
        self.state.stats[(scope["method"], template, status)] += 1

    async def _drop(self, scope: Scope, call: Call) -> None:
        """Abort the connection without a response; the request's bookings stay committed."""
        for invitee_uuid in call.created_invitees:
            call.store.invitees[invitee_uuid].dropped = True
        route, _ = _match(scope["method"], scope["path"])
        self._count(scope, route, None)
        client = scope.get("client")
        transport = self.state.transports.get((client[0], client[1])) if client else None
        if transport is None:
            logger.warning("sandbox: cannot drop a connection this server did not register")
            return
        transport.abort()
        # Let the loop run the connection_lost callback, so the server knows there is
        # no one left to answer and doesn't write a 500 of its own.
        for _ in range(3):
            await asyncio.sleep(0)
