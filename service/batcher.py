"""Dynamic batching of opaque items: one bounded queue, one batch in flight, one result per item.

A batch closes when it holds max_batch_size items (an item may weigh more than one: a block of
N series counts N) or when max_wait has passed since its first item. With max_wait 0 a batch is
whatever queued while the previous one ran (continuous batching), so a lone request never waits
for company. The batch function must return one result per item;
an exception reaches every caller of that batch and no other; a cancelled caller is skipped.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")


class QueueFull(Exception):
    """The queue cannot take the request: answer 503 with Retry-After."""


class BatcherClosed(Exception):
    """Shutting down: no new work is taken."""


@dataclass
class _Entry(Generic[Item, Result]):
    item: Item
    future: asyncio.Future[Result]
    weight: int = 1
    enqueued: float = field(default_factory=time.perf_counter)


Observer = Callable[[int, float, float], None]  # (batch size, queue wait of the first item, compute seconds)


class Batcher(Generic[Item, Result]):
    def __init__(
        self,
        run_batch: Callable[[list[Item]], Awaitable[Sequence[Result]]],
        max_batch_size: int = 64,
        max_wait_s: float = 0.0,
        queue_limit: int = 1024,
        observe: Observer | None = None,
        weight: Callable[[Item], int] | None = None,
    ) -> None:
        self._run_batch = run_batch
        self.max_batch_size = max_batch_size
        self.max_wait_s = max_wait_s
        self.queue_limit = queue_limit
        self._observe = observe
        # How many of max_batch_size an item uses (a block of N series counts N); 1 by default.
        self._weight = weight or (lambda item: 1)
        self._queued = 0  # total weight waiting
        self._queue: deque[_Entry[Item, Result]] = deque()
        self._arrived = asyncio.Event()
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    @property
    def depth(self) -> int:
        return self._queued

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    @property
    def queued(self) -> int:
        """Weight waiting for a batch (not counting the batch running now)."""
        return self._queued

    async def submit(self, items: Sequence[Item]) -> list[Result]:
        """Queue all items (a request of N series is N items) and wait for their results, in order."""
        if self._closed:
            raise BatcherClosed("the server is shutting down")
        weight = sum(self._weight(item) for item in items)
        if self._queued + weight > self.queue_limit:
            raise QueueFull(f"{self._queued} series queued, limit {self.queue_limit}")
        self.start()
        loop = asyncio.get_running_loop()
        entries = [_Entry[Item, Result](item, loop.create_future(), self._weight(item)) for item in items]
        self._queue.extend(entries)
        self._queued += weight
        self._arrived.set()
        try:
            return list(await asyncio.gather(*(e.future for e in entries)))
        except asyncio.CancelledError:
            for e in entries:  # the caller left: its queued items are skipped
                e.future.cancel()
            raise

    async def close(self) -> None:
        """Refuse new items, finish everything queued, then stop."""
        self._closed = True
        self._arrived.set()
        if self._task is not None:
            await self._task

    async def _collect(self) -> list[_Entry[Item, Result]]:
        while not self._queue:
            if self._closed:
                return []
            self._arrived.clear()
            await self._arrived.wait()
        await asyncio.sleep(0)  # let requests that arrived together enqueue before the batch closes
        deadline = self._queue[0].enqueued + self.max_wait_s
        while self._queued < self.max_batch_size and not self._closed:
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                break
            self._arrived.clear()
            try:
                await asyncio.wait_for(self._arrived.wait(), remaining)
            except TimeoutError:
                break
        batch: list[_Entry[Item, Result]] = []
        size = 0
        while self._queue and (not batch or size + self._queue[0].weight <= self.max_batch_size):
            entry = self._queue.popleft()
            self._queued -= entry.weight
            if not entry.future.cancelled():
                batch.append(entry)
                size += entry.weight
        return batch

    async def _loop(self) -> None:
        while True:
            batch = await self._collect()
            if not batch:
                if self._closed and not self._queue:
                    return
                continue
            started = time.perf_counter()
            try:
                results = await self._run_batch([e.item for e in batch])
                if len(results) != len(batch):
                    raise RuntimeError(f"batch function returned {len(results)} results for {len(batch)} items")
            except Exception as exc:  # noqa: BLE001 - every caller of this batch gets it
                for e in batch:
                    if not e.future.done():
                        e.future.set_exception(exc)
            else:
                for e, result in zip(batch, results, strict=True):
                    if not e.future.done():
                        e.future.set_result(result)
            if self._observe is not None:
                size = sum(e.weight for e in batch)
                self._observe(size, started - batch[0].enqueued, time.perf_counter() - started)
