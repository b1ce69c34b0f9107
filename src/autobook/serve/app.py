"""The Starlette app of `autobook serve`: routes, refusals as JSON, health and readiness.

Only `/v1/*` (the MCP tools at `/v1/mcp`, `autobook.serve.mcp`), `/healthz`, `/readyz` and
`/metrics` exist; anything else is a JSON 404, and an unknown path under `/v1` asks for
credentials first (nothing under `/v1` answers a stranger). An unexpected error is a JSON 500
that says nothing of its cause (the log has it); a database that can't be reached is a 503 with
`Retry-After`, and a signed delivery that could not be recorded is forgotten, so the sender's
retry is not refused as a replay.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from sqlalchemy import text
from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route

from autobook import metrics
from autobook.config import Settings, get_settings
from autobook.serve import bookings, calendly_webhook, proposals
from autobook.serve.callers import identify
from autobook.serve.context import IntakeContext
from autobook.serve.mcp import METHODS as MCP_METHODS
from autobook.serve.mcp import PATH as MCP_PATH
from autobook.serve.mcp import McpEndpoint
from autobook.serve.problems import AsciiJSONResponse, Refusal, log_refusal, not_found
from autobook.store import StoreUnavailable

log = logging.getLogger("autobook.serve")
BROKER_CHECK_TIMEOUT_SECONDS = 2.0
RETRY_AFTER_UNAVAILABLE_SECONDS = 5


async def healthz(request: Request) -> Response:
    return AsciiJSONResponse({"status": "ok"})


def _database_ready(ctx: IntakeContext) -> str:
    try:
        with ctx.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"


def _broker_ready(ctx: IntakeContext) -> str:
    try:
        with ctx.celery.connection_for_write() as connection:
            connection.ensure_connection(max_retries=1, timeout=BROKER_CHECK_TIMEOUT_SECONDS)
    except Exception as exc:
        return f"unreachable ({type(exc).__name__})"
    return "ok"


async def readyz(request: Request) -> Response:
    ctx: IntakeContext = request.app.state.intake
    checks = {
        "database": await ctx.run(_database_ready, ctx),
        "broker": await ctx.run(_broker_ready, ctx),
    }
    ready = all(value == "ok" for value in checks.values())
    return AsciiJSONResponse(
        {"status": "ready" if ready else "not ready", **checks}, status_code=200 if ready else 503
    )


async def unknown_v1(request: Request) -> Response:
    await identify(request, request.app.state.intake)
    raise not_found()


def _route_of(request: Request) -> str:
    route = request.scope.get("route")
    path: str = getattr(route, "path", None) or "(no route)"
    return path


def _forget_delivery(request: Request) -> None:
    delivery = getattr(request.state, "delivery", None)
    if delivery is None or delivery[1] is None:
        return
    ctx: IntakeContext = request.app.state.intake
    with contextlib.suppress(Exception):
        ctx.guards.forget_delivery(*delivery)


async def on_refusal(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Refusal)
    log_refusal(request.method, _route_of(request), exc, getattr(request.state, "source", None))
    return exc.response()


async def on_http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        refusal = not_found()
    elif exc.status_code == 405:
        refusal = Refusal(405, "Method Not Allowed", f"{request.method} is not allowed here")
    else:
        refusal = Refusal(exc.status_code, "Error", "the call could not be answered")
    return await on_refusal(request, refusal)


async def on_store_unavailable(request: Request, exc: Exception) -> Response:
    await request.app.state.intake.run(_forget_delivery, request)
    refusal = Refusal(
        503,
        "Service Unavailable",
        "the database can't be reached; nothing was recorded: retry later",
        headers={"Retry-After": str(RETRY_AFTER_UNAVAILABLE_SECONDS)},
    )
    return await on_refusal(request, refusal)


async def on_error(request: Request, exc: Exception) -> Response:
    log.error("internal error on %s %s: %s", request.method, _route_of(request), type(exc).__name__)
    await request.app.state.intake.run(_forget_delivery, request)
    refusal = Refusal(500, "Internal Server Error", "the call failed; it is logged: retry later")
    return refusal.response()


def create_app(settings: Settings | None = None) -> Starlette:
    """The app (uvicorn calls this factory once per worker process)."""
    settings = settings or get_settings()
    context = IntakeContext.build(settings)
    state = State()
    mcp = McpEndpoint(state, context)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with mcp.lifespan():
            yield
        context.close()

    every_method = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    app = Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            # Prometheus scrapes it, as on each worker (`autobook.metrics`); no auth, no data.
            Mount("/metrics", app=metrics.asgi_app(settings)),
            Route("/v1/calendly/webhook", calendly_webhook.receive, methods=["POST"]),
            Route("/v1/bookings", bookings.submit, methods=["POST"]),
            Route("/v1/proposals", proposals.propose, methods=["POST"]),
            Route(MCP_PATH, mcp, methods=MCP_METHODS),
            Route("/v1/bookings/{request_id:path}/cancel", bookings.cancel, methods=["POST"]),
            Route("/v1/bookings/{request_id:path}", bookings.read, methods=["GET"]),
            Route("/v1/{rest:path}", unknown_v1, methods=every_method),
        ],
        exception_handlers={
            Refusal: on_refusal,
            HTTPException: on_http_exception,
            StoreUnavailable: on_store_unavailable,
            Exception: on_error,
        },
        lifespan=lifespan,
    )
    app.state = state
    app.state.intake = context
    return app
