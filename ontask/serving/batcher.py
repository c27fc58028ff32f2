"""Micro-batching of our own: concurrent requests' rows are gathered for a few milliseconds and
answered by one forward pass, which is how a GPU earns its throughput."""

from __future__ import annotations

import asyncio
from typing import Any, Callable, Optional, Sequence


class MicroBatcher:
    """Collects items from concurrent callers; `fn(items) -> results` runs in a worker thread on
    at most `max_batch` items, after at most `max_wait_ms` of waiting for company."""

    def __init__(self, fn: Callable[[Sequence[Any]], Sequence[Any]], max_batch: int = 8, max_wait_ms: float = 0.0):
        self.fn, self.max_batch, self.max_wait = fn, max_batch, max_wait_ms / 1000
        self._queue: Optional[asyncio.Queue] = None
        self._worker: Optional[asyncio.Task] = None

    async def submit(self, items: Sequence[Any]) -> list[Any]:
        """Results for `items`, in order. When a batch fails, its items are tried one by one, so
        an exception reaches only the callers whose own items fail."""
        if self._queue is None:
            self._queue = asyncio.Queue()
            self._worker = asyncio.get_running_loop().create_task(self._run())
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in items]
        for item, fut in zip(items, futures):
            self._queue.put_nowait((item, fut))
        return list(await asyncio.gather(*futures))

    async def _run(self) -> None:
        assert self._queue is not None
        while True:
            batch = [await self._queue.get()]
            deadline = asyncio.get_running_loop().time() + self.max_wait
            while len(batch) < self.max_batch:
                timeout = deadline - asyncio.get_running_loop().time()
                try:
                    batch.append(
                        self._queue.get_nowait() if timeout <= 0 else await asyncio.wait_for(self._queue.get(), timeout)
                    )
                except (asyncio.QueueEmpty, asyncio.TimeoutError):
                    break
            items = [item for item, _ in batch]
            try:
                results = await asyncio.to_thread(self.fn, items)
            except Exception as e:  # noqa: BLE001 - handed to the callers of the failing items
                if len(batch) == 1:
                    if not batch[0][1].done():
                        batch[0][1].set_exception(e)
                    continue
                # One caller's bad row must not fail its neighbours: each item again, alone, and
                # only the items that fail alone fail (a fault of every item fails every one).
                for item, fut in batch:
                    try:
                        (result,) = await asyncio.to_thread(self.fn, [item])
                    except Exception as alone:  # noqa: BLE001 - this item's own failure
                        if not fut.done():
                            fut.set_exception(alone)
                        continue
                    if not fut.done():
                        fut.set_result(result)
                continue
            for (_, fut), result in zip(batch, results):
                if not fut.done():
                    fut.set_result(result)
