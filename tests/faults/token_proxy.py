"""A reverse proxy in front of the sandbox that can revoke the workers' token, and a timeline.

The sandbox accepts one token for its whole life, so "the token is revoked in the middle of a
run" is played here: while `revoked` is set, the proxy forwards every call with a token the
sandbox refuses, and the sandbox answers its own 401 (counted in its stats); `restore()` puts
the real token back. Every call is recorded with the instant it arrived and the instant its
answer left, so a test can tell which POSTs were sent after the first 401.

The Host header is the sandbox's, so the URIs in its answers are the same as in its ledger.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx

REVOKED_TOKEN = "revoked-token"  # a deliberately wrong token, not a secret
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "te", "upgrade"}
)


@dataclass(frozen=True)
class Call:
    method: str
    path: str  # without the query string
    status: int
    arrived: float  # time.monotonic()
    answered: float


@dataclass
class TokenProxy:
    upstream: str
    revoked: bool = False
    calls: list[Call] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def revoke(self) -> None:
        self.revoked = True

    def restore(self) -> None:
        self.revoked = False

    def record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)

    def first_401(self) -> float | None:
        with self._lock:
            times = [call.answered for call in self.calls if call.status == 401]
        return min(times) if times else None

    def posts_arrived_after(self, moment: float, until: float | None = None) -> list[Call]:
        with self._lock:
            return [
                call
                for call in self.calls
                if call.method == "POST"
                and call.path == "/invitees"
                and call.arrived > moment
                and (until is None or call.arrived <= until)
            ]


def _handler(proxy: TokenProxy, http: httpx.Client) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            pass  # quiet: the timeline is the record

        def _forward(self) -> None:
            arrived = time.monotonic()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            if proxy.revoked:
                headers["Authorization"] = f"Bearer {REVOKED_TOKEN}"
            response = http.request(self.command, self.path, headers=headers, content=body)
            self.send_response(response.status_code)
            for key, value in response.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(response.content)))
            self.end_headers()
            self.wfile.write(response.content)
            path = urlsplit(self.path).path
            proxy.record(Call(self.command, path, response.status_code, arrived, time.monotonic()))

        do_GET = _forward
        do_POST = _forward
        do_PUT = _forward
        do_DELETE = _forward

    return Handler


@contextlib.contextmanager
def running_proxy(upstream: str) -> Iterator[tuple[TokenProxy, str]]:
    """The proxy and its URL; stopped afterwards."""
    proxy = TokenProxy(upstream)
    with httpx.Client(base_url=upstream, timeout=60.0) as http:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy, http))
        server.daemon_threads = True
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield proxy, f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            server.server_close()
