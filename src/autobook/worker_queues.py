"""Which queues an `autobook worker` consumes, and the callback consumer beside the booking pool.

Bookings and callback deliveries are on separate Celery queues (`autobook`, `autobook.callbacks`)
so that a receiver that hangs can never hold a booking slot: a delivery waits on somebody
else's server for up to its timeout, a booking must not wait behind it.

By default one `autobook worker` consumes both, with two pools: the booking pool (prefork,
`--concurrency` processes) consumes `autobook`, and a callback consumer, started by the worker
as a child process, consumes `autobook.callbacks` on a thread pool of `--callback-slots`
threads (deliveries are I/O: a thread each is enough). So the default deployment, and
`autobook demo`, deliver callbacks with no extra command, and at most `--callback-slots`
receivers can hang at once without touching bookings. The child dies with its worker (it
gets SIGTERM when the worker exits, even after `kill -9`) and writes its metrics into the
worker's folder, so the worker's `/metrics` counts its deliveries.

`--queues autobook` or `--queues autobook.callbacks` runs one pool only, for deployments that
scale the two apart.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from collections.abc import Sequence

BOOKING_QUEUE = "autobook"
CALLBACK_QUEUE = "autobook.callbacks"
ALL_QUEUES = (BOOKING_QUEUE, CALLBACK_QUEUE)
DEFAULT_CALLBACK_SLOTS = 4
# Linux's prctl option that signals a child when its parent dies.
_PR_SET_PDEATHSIG = 1


def parse_queues(text: str) -> tuple[str, ...]:
    """`--queues`: a comma-separated subset of the known queues, in a stable order."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = sorted(names - set(ALL_QUEUES))
    if unknown or not names:
        raise ValueError(
            f"unknown queue {', '.join(unknown) or '(none)'}: choose from {', '.join(ALL_QUEUES)}"
        )
    return tuple(name for name in ALL_QUEUES if name in names)


def pool_options(queue: str, *, concurrency: int, callback_slots: int) -> list[str]:
    """Celery worker options for a pool that consumes `queue` alone."""
    if queue == CALLBACK_QUEUE:
        return [f"--queues={CALLBACK_QUEUE}", "--pool=threads", f"--concurrency={callback_slots}"]
    return [f"--queues={BOOKING_QUEUE}", f"--concurrency={concurrency}"]


def _die_with_parent() -> None:
    """In the child before exec: SIGTERM when the worker exits, however it exits (Linux)."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # elsewhere the worker's `finally` still stops it on an ordinary exit


def start_callback_consumer(
    *, name: str, callback_slots: int, loglevel: str, extra: Sequence[str] = ()
) -> subprocess.Popen[bytes]:
    """The worker's child that consumes `autobook.callbacks` (see the module docstring)."""
    argv = [sys.executable, "-m", "autobook", "worker", "--queues", CALLBACK_QUEUE]
    argv += ["--callback-slots", str(callback_slots), "--name", f"{name}-callbacks"]
    argv += ["--loglevel", loglevel, "--no-dispatcher", "--child", *extra]
    # Same process group: whoever stops the worker's group stops this one too.
    return subprocess.Popen(argv, env=dict(os.environ), preexec_fn=_die_with_parent)


def stop(child: subprocess.Popen[bytes], *, timeout: float = 10.0) -> None:
    if child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
