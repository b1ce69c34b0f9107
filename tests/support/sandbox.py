"""Helpers for any test that talks to the Calendly sandbox.

- :func:`admin` wraps the ``/_sandbox/`` admin API: ``ledger()``, ``stats()``,
  ``set_faults(...)``, ``set_limits(...)``, ``reset()`` (and their GETs).
- :func:`calendly_client` / :func:`async_calendly_client` are httpx clients with the
  bearer token and, by default, the conformance hook: every Calendly response body
  they receive is validated against Calendly's schemas.
- :func:`running_sandbox` starts a :class:`SandboxServer` in a thread (port 0);
  :func:`sandbox_process` runs ``python -m autobook.sandbox`` as a subprocess (its
  ``.url`` and ``.pid``), for tests whose workers live in other processes.
- :class:`FakeClock` is a settable clock for ``SandboxServer(clock=...)``.

    with running_sandbox() as sandbox, admin(sandbox.url) as sandbox_admin:
        sandbox_admin.set_faults({"seed": 1, "endpoints": {"POST /invitees": {"error_500": 1}}})
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from autobook.sandbox.server import SandboxServer
from tests.support.conformance import async_conformance_hook, conformance_hook

TOKEN = "sandbox-token"
USER_AGENT = "autobook-tests/1.0"
TRACKING_KEYS = (
    "utm_campaign",
    "utm_source",
    "utm_medium",
    "utm_content",
    "utm_term",
    "salesforce_uuid",
)
PROCESS_START_TIMEOUT_SECONDS = 20.0


def auth_headers(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "User-Agent": USER_AGENT}


class SandboxAdmin:
    """A small client for ``/_sandbox/*``; raises for any non-2xx answer."""

    def __init__(self, url: str, token: str = TOKEN) -> None:
        self._http = httpx.Client(base_url=url, headers=auth_headers(token), timeout=10.0)

    def _call(self, method: str, path: str, body: object | None = None) -> Any:
        response = self._http.request(method, f"/_sandbox/{path}", json=body)
        response.raise_for_status()
        return response.json()

    def ledger(self) -> list[dict[str, Any]]:
        """Every booking made since the last reset (seed bookings excluded), oldest first."""
        entries: list[dict[str, Any]] = self._call("GET", "ledger")["collection"]
        return entries

    def stats(self) -> list[dict[str, Any]]:
        """``[{"method", "path", "status", "count"}]`` for Calendly API calls since the reset."""
        rows: list[dict[str, Any]] = self._call("GET", "stats")["requests"]
        return rows

    def count(self, method: str, path: str, status: int | None = None) -> int:
        """Requests to one route (``"/invitees"``, ``"/event_types/{uuid}"``), any or one status."""
        return sum(
            row["count"]
            for row in self.stats()
            if row["method"] == method
            and row["path"] == path
            and (status is None or row["status"] == status)
        )

    def faults(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "faults")
        return result

    def set_faults(self, faults: dict[str, Any]) -> dict[str, Any]:
        """E.g. ``{"seed": 7, "endpoints": {"POST /invitees": {"error_500": 1}}}``; {} clears."""
        result: dict[str, Any] = self._call("PUT", "faults", faults)
        return result

    def limits(self) -> dict[str, Any]:
        result: dict[str, Any] = self._call("GET", "limits")
        return result

    def set_limits(self, limits: dict[str, Any]) -> dict[str, Any]:
        """``{"tier": "standard"}``, or ``{"users": {"<uri or email>": {"tier": ...}}}``."""
        result: dict[str, Any] = self._call("PUT", "limits", limits)
        return result

    def reset(self) -> None:
        self._call("POST", "reset")

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> SandboxAdmin:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def admin(url: str, token: str = TOKEN) -> SandboxAdmin:
    return SandboxAdmin(url, token)


def calendly_client(
    url: str, token: str = TOKEN, *, validate: bool = True, timeout: float = 10.0
) -> httpx.Client:
    """A client for the sandbox's Calendly API; ``validate`` checks every body's schema."""
    hooks = {"response": [conformance_hook]} if validate else {}
    return httpx.Client(
        base_url=url, headers=auth_headers(token), timeout=timeout, event_hooks=hooks
    )


def async_calendly_client(
    url: str,
    token: str = TOKEN,
    *,
    validate: bool = True,
    timeout: float = 10.0,
    max_connections: int = 100,
) -> httpx.AsyncClient:
    hooks = {"response": [async_conformance_hook]} if validate else {}
    limits = httpx.Limits(
        max_connections=max_connections, max_keepalive_connections=max_connections
    )
    return httpx.AsyncClient(
        base_url=url, headers=auth_headers(token), timeout=timeout, event_hooks=hooks, limits=limits
    )


class FakeClock:
    """A thread-safe clock the test sets and moves; pass it as ``SandboxServer(clock=...)``."""

    def __init__(self, now: datetime) -> None:
        self._now = now.astimezone(UTC)
        self._lock = threading.Lock()

    def __call__(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, now: datetime) -> None:
        with self._lock:
            self._now = now.astimezone(UTC)

    def advance(self, **delta: float) -> None:
        with self._lock:
            self._now += timedelta(**delta)


@contextmanager
def running_sandbox(**kwargs: Any) -> Iterator[SandboxServer]:
    """``SandboxServer(**kwargs)`` on a free port, stopped afterwards."""
    with SandboxServer(**kwargs) as server:
        yield server


def tracking(**values: str | None) -> dict[str, str | None]:
    """All six tracking keys (Calendly refuses a subset), nulls unless given."""
    return {key: values.get(key) for key in TRACKING_KEYS}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def write_seed(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document, indent=2), "utf-8")
    return path


@dataclass(frozen=True)
class SandboxProcess:
    url: str
    pid: int


@contextmanager
def sandbox_process(
    port: int | None = None,
    seed_path: str | Path | None = None,
    token: str = TOKEN,
    max_window_days: int = 7,
) -> Iterator[SandboxProcess]:
    """``python -m autobook.sandbox`` as a subprocess, stopped afterwards."""
    port = port or free_port()
    command = [sys.executable, "-m", "autobook.sandbox", "--port", str(port), "--token", token]
    command += ["--max-window-days", str(max_window_days)]
    if seed_path is not None:
        command += ["--seed", str(seed_path)]
    url = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + PROCESS_START_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                output = process.stdout.read().decode() if process.stdout else ""
                raise RuntimeError(f"sandbox exited with {process.returncode}: {output}")
            try:
                httpx.get(f"{url}/_sandbox/faults", headers=auth_headers(token), timeout=1.0)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("sandbox process did not start") from None
                time.sleep(0.05)
        yield SandboxProcess(url, process.pid)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
