"""`/v1/mcp`: the MCP tools (`autobook.agents`) over streamable HTTP, behind source auth.

The shape: one endpoint on `autobook serve`, so it has the intake's doors and none of its own.
Every HTTP call to it is authenticated as any `/v1` call is (a source's `Authorization: Bearer
<key>`; a missing or bad key is the same JSON 401, before the MCP layer sees a byte), counted
against the source's rate, and the tools then act as that source: its proposals and requests
only; another source's request is "not found". A signing source (a CRM's webhook) has no key
to send, so it is refused here.

The transport is the SDK's streamable HTTP session manager in stateless, JSON-response mode:
each POST carries one JSON-RPC message and gets one JSON answer, nothing is kept between
calls, so `serve --workers N` needs no session affinity, and no call can ride on another
caller's session. DNS-rebinding protection is off because it guards ambient credentials
(cookies, a localhost port a browser can reach); here every call carries a key.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

from mcp.server.mcpserver import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.requests import Request
from starlette.types import Receive, Scope, Send

from autobook.agents.mcp_server import SOURCE_SCOPE_KEY, build_server
from autobook.agents.service import AgentService
from autobook.serve.callers import check_rate, identify
from autobook.serve.context import IntakeContext
from autobook.serve.problems import unauthorized
from autobook.serve.proposals import shared_proposer

PATH = "/v1/mcp"
METHODS = ["GET", "POST", "DELETE"]
KEY_REQUIRED = "MCP is called with a source's API key: Authorization: Bearer <key>"


class McpEndpoint:
    """The ASGI endpoint at `PATH`: authenticate, count, then hand the call to the SDK."""

    def __init__(self, state: Any, ctx: IntakeContext) -> None:
        self.ctx = ctx
        service = AgentService(
            functools.partial(shared_proposer, state, ctx), ctx.sessions, ctx.ring
        )
        self.server: MCPServer = build_server(service, runner=ctx.run)
        # Builds the session manager that `lifespan` runs; its Starlette app is not used.
        self.server.streamable_http_app(
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        caller = await identify(request, self.ctx)
        request.state.source = caller.name
        if caller.signs:
            raise unauthorized(KEY_REQUIRED)
        await check_rate(caller, self.ctx)
        scope[SOURCE_SCOPE_KEY] = caller.source_id
        await self.server.session_manager.handle_request(scope, receive, send)

    @contextlib.asynccontextmanager
    async def lifespan(self) -> AsyncIterator[None]:
        async with self.server.session_manager.run():
            yield
