"""Gather the blocking calls that arrive together and run them as one batch, in one thread hop.

Under load, most of an intake call's cost is fixed per database transaction, per connection
checkout and per hop to a worker thread, not per request. A `Batcher` turns N concurrent calls
into one: a call queues its item and waits; a drain takes everything queued (up to `max_items`),
runs `run_batch` on the lot in one blocking call, and hands each caller its own result. While a
batch runs, the next one gathers; a lone call waits for nothing (no timer), so one client sees the
latency it saw before.

`run_batch` answers one result per item, in order: a value, or the exception to raise in that
caller alone. An exception raised by `run_batch` itself reaches every caller of the batch. A
caller that is cancelled (its client went away) stops waiting, but its item's batch still runs:
work that may have been committed is never abandoned half-way.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Runs a blocking function off the event loop (`IntakeContext.run`).
Blocking = Callable[..., Awaitable[Any]]


class Batcher(Generic[Item, Result]):
    def __init__(
        self,
        run_batch: Callable[[list[Item]], list[Result | BaseException]],
        blocking: Blocking,
        *,
        max_items: int,
        concurrency: int = 1,
    ) -> None:
        self._run_batch = run_batch
        self._blocking = blocking
        self._max_items = max_items
        self._concurrency = concurrency
        self._queue: deque[tuple[Item, asyncio.Future[Result]]] = deque()
        self._drains: set[asyncio.Task[None]] = set()  # held: the loop keeps only weak refs
        # Drains not yet finished, counted down by the drain itself in the same step in which
        # it saw the queue empty (a done callback runs later: a call queued in between would
        # find no drain coming and wait for ever).
        self._running = 0

    async def __call__(self, item: Item) -> Result:
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._queue.append((item, future))
        if self._running < self._concurrency:
            self._running += 1
            drain = asyncio.get_running_loop().create_task(self._drain())
            self._drains.add(drain)
            drain.add_done_callback(self._drains.discard)
        return await future

    async def _drain(self) -> None:
        try:
            await self._drain_queue()
        finally:
            self._running -= 1

    async def _drain_queue(self) -> None:
        while self._queue:
            taken = [self._queue.popleft() for _ in range(min(self._max_items, len(self._queue)))]
            items = [item for item, _ in taken]
            try:
                results = await self._blocking(self._run_batch, items)
                if len(results) != len(taken):
                    raise RuntimeError(f"a batch of {len(taken)} answered {len(results)} results")
            except BaseException as exc:  # handed to every caller of the batch, not swallowed
                for _, future in taken:
                    if not future.done():
                        future.set_exception(exc)
                if not isinstance(exc, Exception):
                    raise
                continue
            for (_, future), result in zip(taken, results, strict=True):
                if future.done():  # its caller was cancelled
                    continue
                if isinstance(result, BaseException):
                    future.set_exception(result)
                else:
                    future.set_result(result)
