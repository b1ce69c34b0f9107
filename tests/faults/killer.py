"""Killing worker processes with SIGKILL in the middle of booking, and replacing them.

A request's lease names the pool process that holds it (`host:pid`). To land a kill in the
middle of a `POST /invitees`, `Killer` picks a request in status `booking` (its intent is
committed and its POST is in flight), finds the worker whose process group holds that pid, and
kills either the whole worker (main process, beat and pool: what `kill -9` of a container does)
or only that pool process (what the OOM killer does; Celery's main process then notices).
A replacement worker is started after a whole-worker kill, so capacity stays the same.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Literal

from autobook.localstack import LocalStack
from autobook.models import RequestStatus
from tests.support.stack import Stack

KillKind = Literal["worker", "pool_process"]


@dataclass
class Kill:
    kind: KillKind
    worker: str
    request_id: str | None  # the request whose POST was in flight, if one was
    at: float  # time.monotonic()


@dataclass
class Killer:
    stack: Stack
    concurrency: int = 2
    rng: random.Random = field(default_factory=lambda: random.Random(4))
    workers: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    kills: list[Kill] = field(default_factory=list)
    _started: int = 0

    def start_workers(self, count: int) -> None:
        for _ in range(count):
            self._start_one()

    def _start_one(self) -> None:
        name = f"worker{self._started}"
        self._started += 1
        self.workers[name] = self.stack.start_worker(concurrency=self.concurrency, name=name)

    def owner_of(self, pid: int) -> str | None:
        for name, process in self.workers.items():
            try:
                if os.getpgid(pid) == process.pid:
                    return name
            except ProcessLookupError:
                return None
        return None

    def _in_flight(self) -> list[tuple[str, int]]:
        """(request_id, pid) of requests whose POST is in flight now."""
        found = []
        for row in self.stack.rows():
            if row.status is RequestStatus.BOOKING and row.lease_owner:
                pid_text = row.lease_owner.rsplit(":", 1)[-1]
                if pid_text.isdigit():
                    found.append((row.request_id, int(pid_text)))
        return found

    def kill_mid_booking(self, kind: KillKind, *, wait_seconds: float = 10.0) -> Kill | None:
        """Kill the worker (or pool process) of a request whose POST is in flight."""
        deadline = time.monotonic() + wait_seconds
        while time.monotonic() < deadline:
            candidates = self._in_flight()
            self.rng.shuffle(candidates)
            for request_id, pid in candidates:
                name = self.owner_of(pid)
                if name is None:
                    continue
                return self.kill(kind, name, pid, request_id)
            time.sleep(0.05)
        return None

    def kill_random(self, kind: KillKind) -> Kill:
        name = self.rng.choice(sorted(self.workers))
        return self.kill(kind, name, None, None)

    def kill(self, kind: KillKind, name: str, pid: int | None, request_id: str | None) -> Kill:
        process = self.workers[name]
        if kind == "pool_process" and pid is not None:
            os.kill(pid, signal.SIGKILL)
        else:
            kind = "worker"
            LocalStack.stop(process, kill=True)
            del self.workers[name]
            self._start_one()
        kill = Kill(kind, name, request_id, time.monotonic())
        self.kills.append(kill)
        return kill
