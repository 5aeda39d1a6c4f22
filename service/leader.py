"""Which of the server's worker processes runs the store's training jobs: the holder of a file lock.

Every worker serves HTTP; exactly one also starts queued jobs and publishes their versions. The lock
is an flock on <store>/.leader.lock, so the kernel releases it when its holder dies, however it dies,
and another worker takes over within a runner tick (0.25 s). One process alone always leads.
"""

from __future__ import annotations

import fcntl
from contextlib import AbstractContextManager
from pathlib import Path
from typing import IO

from model import store


class Leadership:
    def __init__(self, root: Path) -> None:
        self.path = root / ".leader.lock"
        self._handle: IO[str] | None = None

    @property
    def held(self) -> bool:
        return self._handle is not None

    def try_acquire(self) -> bool:
        """True when this process leads (now or already); never blocks."""
        if self._handle is not None:
            return True
        handle = open(self.path, "a")  # noqa: SIM115 - held open for as long as this process leads
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the descriptor drops the lock
            self._handle = None


def startup_lock(root: Path) -> AbstractContextManager[None]:
    """Workers starting together on one store take turns at its housekeeping (seeding the defaults,
    clearing leftovers), so none removes another's half-copied folder."""
    return store.file_lock(root / ".startup.lock")
