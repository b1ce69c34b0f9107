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
gets SIGTERM when the worker exits, even after `kill -9`), is started again if it exits on its
own, and writes its metrics into the worker's folder, so the worker's `/metrics` counts its
deliveries.

`--queues autobook` or `--queues autobook.callbacks` runs one pool only, for deployments that
scale the two apart.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import subprocess
import sys
import threading

log = logging.getLogger(__name__)

BOOKING_QUEUE = "autobook"
CALLBACK_QUEUE = "autobook.callbacks"
ALL_QUEUES = (BOOKING_QUEUE, CALLBACK_QUEUE)
DEFAULT_CALLBACK_SLOTS = 4
# Between a callback consumer's unexpected exit and its restart (no tight crash loop).
RESTART_PAUSE_SECONDS = 2.0
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


class CallbackConsumer:
    """The worker's child that consumes `autobook.callbacks` (see the module docstring).

    A watcher thread starts it again if it exits while the worker runs (a crash, an OOM kill),
    after a pause, so the callbacks queue never stays without a consumer.
    """

    def __init__(self, *, name: str, callback_slots: int, loglevel: str) -> None:
        self.argv = [sys.executable, "-m", "autobook", "worker", "--queues", CALLBACK_QUEUE]
        self.argv += ["--callback-slots", str(callback_slots), "--name", f"{name}-callbacks"]
        self.argv += ["--loglevel", loglevel, "--no-dispatcher", "--child"]
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self.child: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self._spawn()
        threading.Thread(target=self._watch, name="callback-consumer", daemon=True).start()

    def _spawn(self) -> None:
        with self._lock:
            if self._stopping.is_set():
                return
            # Same process group: whoever stops the worker's group stops this one too.
            self.child = subprocess.Popen(
                self.argv, env=dict(os.environ), preexec_fn=_die_with_parent
            )
            self.starts += 1

    def _watch(self) -> None:
        while not self._stopping.is_set():
            child = self.child
            if child is None:
                return
            code = child.wait()
            if self._stopping.wait(RESTART_PAUSE_SECONDS):
                return
            log.warning("the callback consumer exited (code %s); starting it again", code)
            self._spawn()

    def stop(self, *, timeout: float = 10.0) -> None:
        with self._lock:
            self._stopping.set()
            child = self.child
        if child is None or child.poll() is not None:
            return
        child.terminate()
        try:
            child.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
