"""Batcher tests with plain ints and asyncio events, no sleeps."""

import asyncio

import pytest

from service.batcher import Batcher, BatcherClosed, QueueFull


class Recorder:
    """A batch function that records batch sizes and waits for a gate before answering."""

    def __init__(self, fail_on=None):
        self.batches: list[list[int]] = []
        self.gate = asyncio.Event()
        self.started = asyncio.Event()
        self.fail_on = fail_on

    async def __call__(self, items):
        self.batches.append(list(items))
        self.started.set()
        await self.gate.wait()
        if self.fail_on is not None and self.fail_on in items:
            raise ValueError(f"bad item {self.fail_on}")
        return [i * 10 for i in items]


async def spin(n=20):
    for _ in range(n):
        await asyncio.sleep(0)


def run(coro):
    return asyncio.run(coro)


def test_items_queued_during_a_batch_form_the_next_batch():
    async def main():
        rec = Recorder()
        b = Batcher(rec, max_batch_size=8)
        first = asyncio.create_task(b.submit([1]))
        await rec.started.wait()
        others = [asyncio.create_task(b.submit([i])) for i in (2, 3, 4)]
        await spin()
        assert not first.done() and not any(t.done() for t in others)  # nothing finished early
        rec.gate.set()
        assert await first == [10]
        assert [await t for t in others] == [[20], [30], [40]]
        assert rec.batches == [[1], [2, 3, 4]]
        await b.close()

    run(main())


def test_a_request_of_n_items_counts_as_n_and_batches_never_exceed_the_limit():
    async def main():
        rec = Recorder()
        b = Batcher(rec, max_batch_size=2)
        blocker = asyncio.create_task(b.submit([0]))
        await rec.started.wait()
        many = asyncio.create_task(b.submit([1, 2, 3, 4, 5]))
        await spin()
        rec.gate.set()
        await blocker
        assert await many == [10, 20, 30, 40, 50]
        assert rec.batches == [[0], [1, 2], [3, 4], [5]]
        await b.close()

    run(main())


def test_max_wait_holds_a_batch_open_until_it_is_full():
    async def main():
        rec = Recorder()
        rec.gate.set()
        b = Batcher(rec, max_batch_size=3, max_wait_s=60)
        t1 = asyncio.create_task(b.submit([1]))
        await spin()
        assert rec.batches == []  # waiting for company, within max_wait
        t2 = asyncio.create_task(b.submit([2, 3]))
        assert await t1 == [10] and await t2 == [20, 30]
        assert rec.batches == [[1, 2, 3]]
        await b.close()

    run(main())


def test_an_exception_reaches_every_caller_of_that_batch_and_no_other():
    async def main():
        rec = Recorder(fail_on=3)
        b = Batcher(rec, max_batch_size=8)
        first = asyncio.create_task(b.submit([1]))
        await rec.started.wait()
        bad = [asyncio.create_task(b.submit([i])) for i in (2, 3)]
        await spin()
        rec.gate.set()
        assert await first == [10]
        for t in bad:
            with pytest.raises(ValueError, match="bad item 3"):
                await t
        assert await b.submit([4]) == [40]  # the batcher lives on
        await b.close()

    run(main())


def test_one_result_per_item_is_checked():
    async def main():
        async def short(items):
            return items[:-1]

        b = Batcher(short)
        with pytest.raises(RuntimeError, match="returned 1 results for 2 items"):
            await b.submit([1, 2])
        await b.close()

    run(main())


def test_a_full_queue_refuses_at_once_and_a_cancelled_caller_is_skipped():
    async def main():
        rec = Recorder()
        b = Batcher(rec, max_batch_size=8, queue_limit=3)
        blocker = asyncio.create_task(b.submit([0]))
        await rec.started.wait()
        leaver = asyncio.create_task(b.submit([1, 2]))
        await spin()
        with pytest.raises(QueueFull):
            await b.submit([3, 4])  # 2 queued + 2 > 3
        leaver.cancel()
        stayer = asyncio.create_task(b.submit([5]))
        await spin()
        rec.gate.set()
        await blocker
        assert await stayer == [50]
        assert rec.batches == [[0], [5]]  # the cancelled caller's items never ran
        await b.close()

    run(main())


def test_close_finishes_what_is_queued_and_refuses_new_work():
    async def main():
        rec = Recorder()
        b = Batcher(rec)
        first = asyncio.create_task(b.submit([1]))
        await rec.started.wait()
        queued = asyncio.create_task(b.submit([2]))
        await spin()
        closing = asyncio.create_task(b.close())
        await spin()
        with pytest.raises(BatcherClosed):
            await b.submit([3])
        rec.gate.set()
        await closing
        assert await first == [10] and await queued == [20]

    run(main())


def test_weighted_items_fill_a_batch_by_weight():
    async def main():
        rec = Recorder()
        b = Batcher(rec, max_batch_size=5, weight=lambda item: item, queue_limit=12)
        blocker = asyncio.create_task(b.submit([1]))
        await rec.started.wait()
        blocks = asyncio.create_task(b.submit([3, 2, 4]))  # weights 3 + 2 fill one batch, 4 the next
        await spin()
        assert b.depth == 9
        with pytest.raises(QueueFull):
            await b.submit([4])  # 9 + 4 > 12
        rec.gate.set()
        await blocker
        assert await blocks == [30, 20, 40]
        assert rec.batches == [[1], [3, 2], [4]]
        assert b.depth == 0
        await b.close()

    run(main())
