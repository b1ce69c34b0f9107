"""Run autobook's parts as local processes: the sandbox, Celery workers and the HTTP intake.

`autobook demo`, the integration tests and the benchmarks all need the same thing: a Calendly
sandbox on a free port and one or more real `autobook worker` processes, configured through
`AUTOBOOK_*` variables, and all of them gone afterwards, even when the caller fails.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

import httpx

SANDBOX_TOKEN = "sandbox-token"  # noqa: S105 - the sandbox's public default, not a secret
READY_TIMEOUT_SECONDS = 60.0  # generous: CI machines are shared and slow to fork
STOP_TIMEOUT_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for_sandbox(url: str, token: str, timeout: float = READY_TIMEOUT_SECONDS) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = httpx.get(
                f"{url}/users/me", headers={"Authorization": f"Bearer {token}"}, timeout=2.0
            )
            if response.status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"the sandbox at {url} did not start within {timeout:.0f}s")
        time.sleep(0.1)


@dataclass
class LocalStack:
    """A sandbox and workers as subprocesses; a context manager that stops them all."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    log_dir: Path | None = None
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    sandbox_url: str | None = None

    def __enter__(self) -> LocalStack:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop_all()

    def _spawn(self, argv: list[str], name: str, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
        log_dir = self.log_dir or self.data_dir
        log_dir.mkdir(parents=True, exist_ok=True)
        log_file = (log_dir / f"{name}.log").open("ab")
        process = subprocess.Popen(
            argv,
            env={**os.environ, **env},
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() reaches the pool children
        )
        log_file.close()
        self.processes.append(process)
        return process

    def start_sandbox(
        self, *, port: int | None = None, token: str = SANDBOX_TOKEN, extra: tuple[str, ...] = ()
    ) -> str:
        port = port or free_port()
        argv = [sys.executable, "-m", "autobook.sandbox", "--port", str(port), "--token", token]
        self._spawn([*argv, *extra], "sandbox", {})
        url = f"http://127.0.0.1:{port}"
        wait_for_sandbox(url, token)
        self.sandbox_url = url
        return url

    def worker_env(self) -> dict[str, str]:
        env = {"AUTOBOOK_DATA_DIR": str(self.data_dir), **self.env}
        if self.sandbox_url and "AUTOBOOK_CALENDLY_URL" not in env:
            env["AUTOBOOK_CALENDLY_URL"] = self.sandbox_url
            env.setdefault("AUTOBOOK_CALENDLY_TOKEN", SANDBOX_TOKEN)
        return env

    def start_worker(
        self, *, concurrency: int = 2, name: str = "worker", dispatcher: bool = True
    ) -> subprocess.Popen[bytes]:
        argv = [sys.executable, "-m", "autobook", "worker", "-c", str(concurrency)]
        argv += ["--name", name, "--loglevel", "INFO"]
        if not dispatcher:
            argv.append("--no-dispatcher")
        return self._spawn(argv, name, self.worker_env())

    def start_serve(
        self, *, port: int | None = None, workers: int = 1, name: str = "serve"
    ) -> tuple[str, subprocess.Popen[bytes]]:
        """`autobook serve` on a free port, with the workers' settings; ready when it answers."""
        port = port or free_port()
        argv = [sys.executable, "-m", "autobook", "serve", "--port", str(port)]
        argv += ["--workers", str(workers), "--log-level", "INFO"]
        process = self._spawn(argv, name, self.worker_env())
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"autobook serve exited with {process.returncode}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2.0).status_code == 200:
                    return url, process
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"autobook serve at {url} did not start")
            time.sleep(0.1)

    @staticmethod
    def stop(process: subprocess.Popen[bytes], *, kill: bool = False) -> None:
        """SIGTERM to the process itself (Celery then stops its pool), SIGKILL to the whole
        group after the timeout or when `kill` (a crash, as `kill -9` would make it)."""
        if process.poll() is None:
            try:
                if kill:
                    os.killpg(process.pid, signal.SIGKILL)
                else:
                    process.send_signal(signal.SIGTERM)
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                pass
            except ProcessLookupError:
                return
        # Whatever is left of the group (pool children of a killed worker) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            self.stop(process)
        self.processes.clear()
