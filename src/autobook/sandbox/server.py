"""Running the sandbox: :func:`serve` (blocking, for the CLI) and :class:`SandboxServer`.

:class:`SandboxServer` is a context manager that serves the sandbox with uvicorn in a
background thread, on a free port when ``port=0``, for tests, benchmarks and the demo:

    with SandboxServer(seed_path="seed.json") as sandbox:
        httpx.get(f"{sandbox.url}/users/me", headers={"Authorization": "Bearer sandbox-token"})

Both use an HTTP protocol class that records each connection's transport under its
peer address, so the ``drop_after_commit`` fault can abort exactly the connection of
the request it hits, with no HTTP response at all.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import sys
import threading
import time
from types import TracebackType
from typing import Any

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .app import SandboxApp
from .seed import Seed, load_seed, parse_seed
from .state import Clock, SandboxState

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's well-known default, not a secret
DEFAULT_MAX_WINDOW_DAYS = 7
STARTUP_TIMEOUT_SECONDS = 10.0
SHUTDOWN_TIMEOUT_SECONDS = 5.0

logger = logging.getLogger("autobook.sandbox")

try:  # httptools is faster when present; h11 is uvicorn's always-available fallback.
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol as _BaseProtocol
except ImportError:  # pragma: no cover - depends on the environment
    _BaseProtocol = H11Protocol  # type: ignore[assignment,misc]


def registering_protocol(
    registry: dict[tuple[str, int], asyncio.Transport],
) -> type[asyncio.Protocol]:
    """uvicorn's HTTP protocol, plus a registry of open transports by peer address."""

    class RegisteringProtocol(_BaseProtocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            if self.client:
                registry[self.client] = transport

        def connection_lost(self, exc: Exception | None) -> None:
            if self.client and registry.get(self.client) is self.transport:
                del registry[self.client]
            super().connection_lost(exc)

    return RegisteringProtocol


def build_state(
    seed_path: str | None = None,
    seed: Seed | dict[str, Any] | None = None,
    token: str = DEFAULT_TOKEN,
    max_window_days: int = DEFAULT_MAX_WINDOW_DAYS,
    clock: Clock | None = None,
) -> SandboxState:
    """Validated state for a server; raises SeedError for a bad seed, ValueError otherwise."""
    if max_window_days < 1:
        raise ValueError("max_window_days must be at least 1")
    if not token:
        raise ValueError("the token must not be empty")
    if seed is None:
        resolved = load_seed(seed_path)
    elif isinstance(seed, Seed):
        resolved = seed
    else:
        resolved = parse_seed(seed)
    return SandboxState(resolved, token, max_window_days, clock)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` and listening; raises OSError if the address is busy.

    Binding before anything is announced means a busy port fails at once, before a line that
    says the sandbox is serving there.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
    # proto says TCP, and without it every response waits ~40 ms for a delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen()  # SO_REUSEADDR lets a bind to a busy port pass; listen is what fails
    except OSError:
        sock.close()
        raise
    return sock


def _config(state: SandboxState, log_level: str, **extra: Any) -> uvicorn.Config:
    return uvicorn.Config(
        SandboxApp(state),
        http=registering_protocol(state.transports),
        lifespan="off",
        access_log=False,
        log_level=log_level,
        # The drop fault finds a connection by its real peer address: never rewrite it.
        proxy_headers=False,
        timeout_graceful_shutdown=1,
        **extra,
    )


def serve(
    host: str = DEFAULT_HOST,
    port: int = DEFAULT_PORT,
    seed_path: str | None = None,
    token: str = DEFAULT_TOKEN,
    max_window_days: int = DEFAULT_MAX_WINDOW_DAYS,
) -> None:
    """Serve the sandbox until interrupted (Ctrl-C, which returns normally).

    A bad seed or option is a user error, not a crash: its problems go to stderr and the
    process exits with status 2, without a traceback. An address that can't be listened on
    raises OSError before anything is printed.
    """
    try:
        state = build_state(seed_path, token=token, max_window_days=max_window_days)
    except ValueError as exc:  # SeedError is a ValueError
        print(exc, file=sys.stderr)
        raise SystemExit(2) from None
    store = state.store
    sock = listening_socket(host, port)
    bound_port = sock.getsockname()[1]
    shown_host = f"[{host}]" if ":" in host else host
    print(
        f"Calendly sandbox on http://{shown_host}:{bound_port} - {store.organization.name}: "
        f"{len(store.users)} users, {len(store.event_types)} event types, "
        f"window {max_window_days} days; token owner {store.owner.email}",
        flush=True,
    )
    try:
        uvicorn.Server(_config(state, "info")).run(sockets=[sock])
    except KeyboardInterrupt:
        # uvicorn shuts down gracefully on Ctrl-C, then re-raises the signal; stopping the
        # sandbox is what the operator asked for, so it is a normal end, not a traceback.
        print("Calendly sandbox stopped", flush=True)
    finally:
        sock.close()


class SandboxServer:
    """The sandbox on a background thread; ``url`` is set once it accepts connections."""

    def __init__(
        self,
        *,
        host: str = DEFAULT_HOST,
        port: int = 0,
        seed_path: str | None = None,
        token: str = DEFAULT_TOKEN,
        max_window_days: int = DEFAULT_MAX_WINDOW_DAYS,
        seed: Seed | dict[str, Any] | None = None,
        clock: Clock | None = None,
        log_level: str = "warning",
    ) -> None:
        self.state = build_state(seed_path, seed, token, max_window_days, clock)
        self.host = host
        self.port = port
        self.url = ""
        self._log_level = log_level
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def __enter__(self) -> SandboxServer:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = listening_socket(self.host, self.port)
        self.port = sock.getsockname()[1]
        # log_config=None: a server inside a test run must not reconfigure logging.
        config = _config(self.state, self._log_level, log_config=None)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [sock]}, name="sandbox", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError("the sandbox server did not start")
            time.sleep(0.01)
        host = f"[{self.host}]" if family == socket.AF_INET6 else self.host
        self.url = f"http://{host}:{self.port}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(SHUTDOWN_TIMEOUT_SECONDS)
            if self._thread.is_alive() and self._server is not None:
                self._server.force_exit = True
                self._thread.join(SHUTDOWN_TIMEOUT_SECONDS)
