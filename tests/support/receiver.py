"""A real local HTTP receiver of callbacks, recording every POST (headers and raw body)."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HANG_SECONDS = 30.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """A callback receiver: `/ok`, `/flaky` (500 three times, then 204), `/hang`, and
    `/hang-once` (the first POST hangs, the next ones answer 204)."""

    received: list[Received] = field(default_factory=list)
    failures_left: int = 3
    hung_once: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> tuple[str, ThreadingHTTPServer]:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                with outer.lock:
                    outer.received.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                    failing = self.path == "/flaky" and outer.failures_left > 0
                    if failing:
                        outer.failures_left -= 1
                    hang = self.path == "/hang" or (
                        self.path == "/hang-once" and not outer.hung_once
                    )
                    if self.path == "/hang-once":
                        outer.hung_once = True
                if hang:
                    time.sleep(HANG_SECONDS)
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}", server

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]


@contextlib.contextmanager
def running_receiver() -> Iterator[tuple[Receiver, str]]:
    """A started receiver and its base URL, shut down afterwards."""
    made = Receiver()
    url, server = made.start()
    try:
        yield made, url
    finally:
        server.shutdown()
