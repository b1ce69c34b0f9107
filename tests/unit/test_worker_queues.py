"""`autobook.worker_queues`: the `--queues` choice, the options of each pool, and the callback
consumer child that the worker starts, starts again when it dies, and stops with the worker."""

from __future__ import annotations

import os
import signal
import sys
import time

import pytest

from autobook import worker_queues
from autobook.worker_queues import CALLBACK_QUEUE, CallbackConsumer, parse_queues


def test_queues_parse_in_a_stable_order_and_refuse_unknown_names() -> None:
    assert parse_queues("autobook.callbacks, autobook") == ("autobook", "autobook.callbacks")
    assert parse_queues("autobook") == ("autobook",)
    with pytest.raises(ValueError, match="unknown queue nope"):
        parse_queues("autobook,nope")
    with pytest.raises(ValueError, match="unknown queue"):
        parse_queues(" , ")


def test_the_callback_pool_is_threads_and_the_booking_pool_prefork() -> None:
    callbacks = worker_queues.pool_options(CALLBACK_QUEUE, concurrency=2, callback_slots=6)
    assert callbacks == [f"--queues={CALLBACK_QUEUE}", "--pool=threads", "--concurrency=6"]
    assert worker_queues.pool_options("autobook", concurrency=3, callback_slots=6) == [
        "--queues=autobook",
        "--concurrency=3",
    ]


def _wait(predicate: object, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline
        time.sleep(0.05)


def test_a_consumer_that_dies_is_started_again_and_stopped_with_the_worker(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker_queues, "RESTART_PAUSE_SECONDS", 0.1)
    consumer = CallbackConsumer(name="w", callback_slots=2, loglevel="INFO")
    assert consumer.argv[-8:] == [
        "--callback-slots", "2", "--name", "w-callbacks", "--loglevel", "INFO",
        "--no-dispatcher", "--child",
    ]  # fmt: skip
    consumer.argv = [sys.executable, "-c", "import time; time.sleep(60)"]
    consumer.start()
    try:
        first = consumer.child
        assert first is not None
        os.kill(first.pid, signal.SIGKILL)  # a crash
        _wait(lambda: consumer.starts == 2 and consumer.child is not first)
        second = consumer.child
        assert second is not None
        assert second.poll() is None
    finally:
        consumer.stop()
    assert second.poll() is not None
    time.sleep(0.3)
    assert consumer.starts == 2  # not started again after the stop
