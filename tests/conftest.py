"""Shared fixtures for tests that run a whole autobook (sandbox + real worker subprocesses).

Starting a stack costs a few seconds, so integration modules share one per module:

    @pytest.fixture(scope="module")
    def stack(start_stack: StartStack) -> Stack:
        return start_stack("embedded", recording=True)

`start_stack(...)` takes the arguments of `tests.support.stack.running_stack`, plus `recording`:
put a `RecordingProxy` between the workers and the sandbox, so a test can read exactly what
autobook sent on the wire (the sandbox's ledger only says what it stored); and `dispatcher`:
False runs the workers without the periodic dispatcher, so only a rung doorbell (a task message)
gets a request worked on. Every stack (and proxy) a module started is stopped when the module
ends.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Protocol

import httpx
import pytest

from tests.support.receiver import Receiver, running_receiver
from tests.support.stack import Stack, backend

# Headers that belong to one hop; the proxy sets its own.
HOP_HEADERS = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}
)


@dataclass(frozen=True)
class Exchange:
    """One request that went through the proxy, and the status the sandbox answered."""

    method: str
    path: str
    body: Any
    status: int


@dataclass
class RecordingProxy:
    """A pass-through HTTP proxy in a thread that records every request it forwards.

    The original Host header is forwarded, so the sandbox builds its URIs on the proxy's address
    and every later call (GET of an event URI...) goes through the proxy too.
    """

    upstream: str
    exchanges: list[Exchange] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> str:
        proxy = self
        client = httpx.Client(base_url=self.upstream, timeout=30.0)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_HEADERS}
                response = client.request(self.command, self.path, content=raw, headers=headers)
                try:
                    body: Any = json.loads(raw) if raw else None
                except ValueError:
                    body = raw.decode(errors="replace")
                proxy.record(Exchange(self.command, self.path, body, response.status_code))
                self.send_response(response.status_code)
                for key, value in response.headers.items():
                    if key.lower() not in HOP_HEADERS:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(response.content)))
                self.end_headers()
                self.wfile.write(response.content)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._client = client
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def record(self, exchange: Exchange) -> None:
        with self._lock:
            self.exchanges.append(exchange)

    def sent(self, method: str, path_prefix: str) -> list[Exchange]:
        with self._lock:
            return [
                e for e in self.exchanges if e.method == method and e.path.startswith(path_prefix)
            ]

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._client.close()


@dataclass
class ProxiedStack(Stack):
    """A `Stack` whose workers may talk to the sandbox through a `RecordingProxy`."""

    proxy: RecordingProxy | None = None

    def posted(self, path: str = "/invitees") -> list[Exchange]:
        """Every POST to `path` the workers sent, in order (needs `recording=True`)."""
        assert self.proxy is not None, "start the stack with recording=True"
        return [e for e in self.proxy.sent("POST", path) if e.path.split("?")[0] == path]

    def cli(self, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        """`autobook ARGS` as a subprocess, with the workers' AUTOBOOK_* settings."""
        env = {**os.environ, **self.local.worker_env(), "COLUMNS": "250", "NO_COLOR": "1"}
        return subprocess.run(
            [sys.executable, "-m", "autobook", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
            check=False,
        )


class StartStack(Protocol):
    def __call__(
        self,
        backend_name: str = "embedded",
        *,
        workers: int = 1,
        concurrency: int = 2,
        extra_env: dict[str, str] | None = None,
        sandbox_args: tuple[str, ...] = (),
        recording: bool = False,
        dispatcher: bool = True,
    ) -> ProxiedStack: ...


@pytest.fixture(scope="module")
def start_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StartStack]:
    """A factory of running stacks, all stopped at the end of the module."""
    with contextlib.ExitStack() as cleanup:

        def start(
            backend_name: str = "embedded",
            *,
            workers: int = 1,
            concurrency: int = 2,
            extra_env: dict[str, str] | None = None,
            sandbox_args: tuple[str, ...] = (),
            recording: bool = False,
            dispatcher: bool = True,
        ) -> ProxiedStack:
            tmp_path: Path = tmp_path_factory.mktemp(f"stack-{backend_name}")
            chosen = cleanup.enter_context(backend(backend_name, tmp_path))
            stack = ProxiedStack(chosen, tmp_path / "autobook", dict(extra_env or {}))
            cleanup.callback(stack.stop)
            stack.start(sandbox_args=sandbox_args)
            if recording:
                proxy = RecordingProxy(stack.sandbox_url)
                proxy_url = proxy.start()
                cleanup.callback(proxy.stop)
                stack.local.env["AUTOBOOK_CALENDLY_URL"] = proxy_url
                stack.proxy = proxy
            for index in range(workers):
                stack.local.start_worker(
                    concurrency=concurrency, name=f"worker{index}", dispatcher=dispatcher
                )
            return stack

        yield start


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    """A local HTTP receiver of callbacks for the module, and its base URL."""
    with running_receiver() as running:
        yield running
