"""`serve.batching.Batcher`: concurrent calls gathered into one blocking batch, answered apart."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest

from autobook.serve.batching import Batcher


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.to_thread(function, *args)


class Recorder:
    """A batch function that records its batches and can be held until released."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.release.set()
        self.started = threading.Event()

    def __call__(self, items: list[int]) -> list[int | BaseException]:
        self.batches.append(list(items))
        self.started.set()
        self.release.wait(5)
        return [ValueError(f"odd {i}") if i % 2 else i * 10 for i in items]


def test_a_lone_call_is_run_at_once_and_answered() -> None:
    recorder = Recorder()

    async def main() -> int:
        return await Batcher(recorder, _in_thread, max_items=8)(4)

    assert asyncio.run(main()) == 40
    assert recorder.batches == [[4]]


def test_a_caller_that_calls_again_as_soon_as_answered_is_served_again() -> None:
    """The drain that answered it may not have finished yet: the next call must not wait on it."""
    recorder = Recorder()

    async def main() -> list[int]:
        batcher = Batcher(recorder, _in_thread, max_items=8)
        return [await batcher(n) for n in (2, 4, 6)]

    assert asyncio.run(asyncio.wait_for(main(), timeout=5)) == [20, 40, 60]
    assert recorder.batches == [[2], [4], [6]]


def test_calls_arriving_while_a_batch_runs_are_run_together_and_answered_apart() -> None:
    recorder = Recorder()
    recorder.release.clear()

    async def main() -> list[Any]:
        batcher = Batcher(recorder, _in_thread, max_items=8)
        first = asyncio.ensure_future(batcher(0))
        await asyncio.to_thread(recorder.started.wait, 5)
        rest = [asyncio.ensure_future(batcher(i)) for i in range(1, 6)]
        await asyncio.sleep(0.05)
        recorder.release.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    answers = asyncio.run(main())
    assert recorder.batches == [[0], [1, 2, 3, 4, 5]]
    assert answers[0::2] == [0, 20, 40]
    assert [str(a) for a in answers[1::2]] == ["odd 1", "odd 3", "odd 5"]


def test_no_batch_holds_more_than_max_items() -> None:
    recorder = Recorder()
    recorder.release.clear()

    async def main() -> None:
        batcher = Batcher(recorder, _in_thread, max_items=2)
        first = asyncio.ensure_future(batcher(0))
        await asyncio.to_thread(recorder.started.wait, 5)
        rest = [asyncio.ensure_future(batcher(i)) for i in (2, 4, 6, 8)]
        await asyncio.sleep(0.05)
        recorder.release.set()
        await asyncio.gather(first, *rest)

    asyncio.run(main())
    assert recorder.batches == [[0], [2, 4], [6, 8]]


def test_a_failed_batch_fails_each_of_its_callers_and_the_next_batch_still_runs() -> None:
    calls: list[list[int]] = []

    def failing_once(items: list[int]) -> list[int | BaseException]:
        calls.append(items)
        if len(calls) == 1:
            raise ConnectionError("database unreachable")
        return list(items)

    async def main() -> tuple[list[Any], int]:
        batcher = Batcher(failing_once, _in_thread, max_items=8)
        failed = await asyncio.gather(batcher(1), batcher(2), return_exceptions=True)
        return list(failed), await batcher(3)

    failed, later = asyncio.run(main())
    assert [type(f) for f in failed] == [ConnectionError, ConnectionError]
    assert later == 3


def test_a_cancelled_caller_stops_waiting_but_its_batch_completes_for_the_others() -> None:
    recorder = Recorder()
    recorder.release.clear()

    async def main() -> int:
        batcher = Batcher(recorder, _in_thread, max_items=8)
        first = asyncio.ensure_future(batcher(0))
        await asyncio.to_thread(recorder.started.wait, 5)
        leaving = asyncio.ensure_future(batcher(2))
        staying = asyncio.ensure_future(batcher(4))
        await asyncio.sleep(0.05)
        leaving.cancel()
        recorder.release.set()
        await first
        with pytest.raises(asyncio.CancelledError):
            await leaving
        return await staying

    assert asyncio.run(main()) == 40
    assert recorder.batches == [[0], [2, 4]]
