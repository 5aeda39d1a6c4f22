"""deps.submit_or_leave: a client that disconnects before its batch forms costs no forward pass."""

import asyncio
from types import SimpleNamespace

import pytest

from service.batcher import Batcher
from service.deps import submit_or_leave
from service.errors import Problem
from tests.service.test_batcher import Recorder, run, spin


class Request:
    """Just enough of a Starlette request: receive() says whether the client is still there."""

    def __init__(self):
        self.left = asyncio.Event()

    async def receive(self):
        await self.left.wait()
        return {"type": "http.disconnect"}


def test_a_client_that_leaves_before_its_batch_forms_costs_no_forward_pass():
    async def main():
        rec = Recorder()
        batcher = Batcher(rec, max_batch_size=2)
        loaded = SimpleNamespace(batcher=batcher)
        first = asyncio.create_task(submit_or_leave(Request(), loaded, [1]))
        await rec.started.wait()  # the batch function is busy with [1]: the next items queue
        queued = asyncio.create_task(submit_or_leave(Request(), loaded, [2, 3]))  # fills the next batch
        await spin()
        leaving, staying = Request(), Request()
        gone = asyncio.create_task(submit_or_leave(leaving, loaded, [4]))  # behind a full batch: watches
        kept = asyncio.create_task(submit_or_leave(staying, loaded, [5]))
        await spin()
        leaving.left.set()  # the client of [4] disconnects while [4] waits in the queue
        with pytest.raises(Problem) as info:
            await gone
        assert info.value.status == 499
        rec.gate.set()
        assert await first == [10] and await queued == [20, 30] and await kept == [50]
        assert rec.batches == [[1], [2, 3], [5]]  # [4] never reached a forward pass
        await batcher.close()

    run(main())


def test_a_client_that_stays_gets_its_results():
    async def main():
        rec = Recorder()
        rec.gate.set()
        batcher = Batcher(rec, max_batch_size=8)
        assert await submit_or_leave(Request(), SimpleNamespace(batcher=batcher), [4, 5]) == [40, 50]
        await batcher.close()

    run(main())
