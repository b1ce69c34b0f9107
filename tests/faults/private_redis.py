"""A Redis server of the test's own, on a free port, that the test may kill and restart.

The shared Redis on 6379 is never restarted: other tests and engineers use it. This one keeps
nothing on disk (`--save "" --appendonly no`), so a restart loses every key, like a crash of a
Redis without persistence: the queued messages, the unacknowledged ones and the rate budget.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from autobook.localstack import free_port
from tests.support.databases import running_in_ci

READY_TIMEOUT_SECONDS = 10.0


@dataclass
class PrivateRedis:
    port: int
    log_path: Path
    process: subprocess.Popen[bytes] | None = field(default=None, init=False)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        argv = [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--daemonize",
            "no",
        ]
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while True:
            try:
                client.ping()
                return
            except redis.RedisError:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"redis-server on {self.port} did not start") from None
                time.sleep(0.05)
            finally:
                client.close()

    def kill(self) -> None:
        """SIGKILL: a crash, everything in memory is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self, down_seconds: float = 0.0) -> None:
        self.kill()
        time.sleep(down_seconds)
        self.start()


@contextlib.contextmanager
def private_redis(log_dir: Path) -> Iterator[PrivateRedis]:
    if shutil.which("redis-server") is None:
        reason = "redis-server is not installed"
        if running_in_ci():
            pytest.fail(f"{reason} (CI=true: it is required)")
        pytest.skip(reason)
    log_dir.mkdir(parents=True, exist_ok=True)
    server = PrivateRedis(free_port(), log_dir / "redis.log")
    server.start()
    try:
        yield server
    finally:
        server.kill()
