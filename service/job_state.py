"""A training job's states and the moves between them: the one vocabulary of the job store's SQL,
the runner, the worker process and the API's JobStatus."""

from __future__ import annotations

from enum import StrEnum


class JobState(StrEnum):
    QUEUED = "queued"  # waiting for a worker process
    RUNNING = "running"  # a worker trains it (or its version is being loaded)
    SUCCEEDED = "succeeded"  # its version is saved and loaded (live if it was to go live)
    FAILED = "failed"  # training raised, the worker died, or the version did not load
    CANCELLED = "cancelled"  # asked to stop, before or while it ran
    INTERRUPTED = "interrupted"  # the server process that ran it stopped


# Every legal move; a state with no way out is finished. A queued job can fail before it runs when its
# dataset cannot be read (an old job database whose data is gone, for example).
TRANSITIONS: dict[JobState, frozenset[JobState]] = {
    JobState.QUEUED: frozenset({JobState.RUNNING, JobState.CANCELLED, JobState.FAILED}),
    JobState.RUNNING: frozenset({JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED}),
    JobState.SUCCEEDED: frozenset(),
    JobState.FAILED: frozenset(),
    JobState.CANCELLED: frozenset(),
    JobState.INTERRUPTED: frozenset(),
}
FINISHED = frozenset(state for state, moves in TRANSITIONS.items() if not moves)


class IllegalTransition(ValueError):
    pass


def sources(target: JobState) -> tuple[JobState, ...]:
    """The states a job may move to target from (what the SQL's WHERE status IN (...) allows)."""
    found = tuple(state for state, moves in TRANSITIONS.items() if target in moves)
    if not found:
        raise IllegalTransition(f"no job ever moves to {target.value!r}")
    return found


def check_move(current: JobState, target: JobState) -> None:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"a {current.value} job cannot become {target.value}")
