"""Training jobs: the SQLite job store, and the runner that starts one worker process per job
(service/worker.py), watches it end, and recovers after a restart."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import signal
import sqlite3
import threading
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from service import job_data
from service.job_data import JobData
from service.job_state import FINISHED, JobState, sources
from service.leader import Leadership

log = logging.getLogger(__name__)

__all__ = ["FINISHED", "JobData", "JobRunner", "JobState", "JobStore", "verdict"]
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0, epochs INTEGER NOT NULL DEFAULT 0,
    train_loss REAL, val_loss REAL, metrics TEXT, version TEXT, error TEXT,
    request TEXT NOT NULL, cancel INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL, updated TEXT NOT NULL, panel TEXT
);
CREATE INDEX IF NOT EXISTS jobs_by_created ON jobs (created, id)
"""
# What listing and polling read: never the request column (a job from an older server holds its data there).
STATUS_COLUMNS = ("id, name, status, epoch, epochs, train_loss, val_loss, metrics, version, error, created, updated, "
                  "panel")
MAX_PAGE = 1000


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class UnknownCursor(LookupError):
    pass


class JobStore:
    """Rows in <store>/jobs.sqlite3 (WAL, so the server reads while a worker writes); each job's
    dataset is a file beside it (service/job_data.py), named in the row's request."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.root = path.parent
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(SCHEMA)
            _add_panel_column(db)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def create(self, name: str, request: dict[str, Any], epochs: int, data: JobData | None = None) -> str:
        """Queue a job; its data is written to the store first, so the row only ever names a whole file."""
        job_id = uuid.uuid4().hex[:16]
        if data is not None:
            request = {**request, "dataset": job_data.write(self.root, job_id, data)}
        now = _now()
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs (id, name, status, epochs, request, created, updated) VALUES (?,?,?,?,?,?,?)",
                (job_id, name, JobState.QUEUED, epochs, json.dumps(request), now, now),
            )
        return job_id

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute(f"SELECT {STATUS_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _row(row) if row else None

    def request(self, job_id: str) -> dict[str, Any]:
        """What the job was asked to do: name, options and its dataset's file (read by the worker)."""
        with self._connect() as db:
            row = db.execute("SELECT request FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise KeyError(job_id)
        return json.loads(row[0])  # type: ignore[no-any-return]

    def active(self, name: str) -> list[str]:
        """The ids of a model's jobs that are queued or running (any age: not only the last page)."""
        with self._connect() as db:
            rows = db.execute("SELECT id FROM jobs WHERE name = ? AND status IN (?, ?) ORDER BY created",
                              (name, JobState.QUEUED, JobState.RUNNING)).fetchall()
        return [row[0] for row in rows]

    def list(self, limit: int = 100, before: str | None = None) -> list[dict[str, Any]]:
        """Newest first, at most limit (1..MAX_PAGE); before: a job id, for the jobs created after it
        was listed last (a cursor stays right while new jobs arrive, where an offset would shift)."""
        limit = max(1, min(limit, MAX_PAGE))
        query, args = f"SELECT {STATUS_COLUMNS} FROM jobs", [limit]
        with self._connect() as db:
            if before is not None:
                cursor = db.execute("SELECT created, id FROM jobs WHERE id = ?", (before,)).fetchone()
                if cursor is None:
                    raise UnknownCursor(f"unknown job {before!r} in before=")
                query, args = query + " WHERE (created, id) < (?, ?)", [*cursor, limit]
            rows = db.execute(query + " ORDER BY created DESC, id DESC LIMIT ?", args).fetchall()
        return [_row(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._connect() as db:
            return dict(db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall())

    def update(self, job_id: str, only_if: JobState | None = None, **values: Any) -> bool:
        """Set columns but the status (move() changes that); with only_if, only while the job has that
        status. True when a row changed."""
        assert "status" not in values, "a status changes through move(): the transition table decides"
        values["updated"] = _now()
        sets = ", ".join(f"{k} = ?" for k in values)
        query, args = f"UPDATE jobs SET {sets} WHERE id = ?", [*values.values(), job_id]
        if only_if:
            query += " AND status = ?"
            args.append(only_if)
        with self._connect() as db:
            return db.execute(query, args).rowcount > 0

    def move(self, job_id: str, target: JobState, only_from: JobState | None = None, **values: Any) -> bool:
        """Change the status, only from a state the transition table allows (only_from narrows it).
        True when the job moved; False when it was in another state (a race lost, or an illegal move)."""
        allowed = [s for s in sources(target) if only_from in (None, s)]
        values.update(status=target, updated=_now())
        sets = ", ".join(f"{k} = ?" for k in values)
        marks = ",".join("?" * len(allowed))
        query = f"UPDATE jobs SET {sets} WHERE id = ? AND status IN ({marks})"
        with self._connect() as db:
            return db.execute(query, [*values.values(), job_id, *allowed]).rowcount > 0

    def next_queued(self) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute(f"SELECT {STATUS_COLUMNS} FROM jobs WHERE status = ? ORDER BY created LIMIT 1",
                             (JobState.QUEUED,)).fetchone()
        return _row(row) if row else None

    def request_cancel(self, job_id: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE jobs SET cancel = 1, updated = ? WHERE id = ?", (_now(), job_id))
        if self.move(job_id, JobState.CANCELLED, only_from=JobState.QUEUED, error="cancelled before it started"):
            job_data.remove(self.root, job_id)  # it never runs: its data goes now

    def cancel_requested(self, job_id: str) -> bool:
        with self._connect() as db:
            row = db.execute("SELECT cancel FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return bool(row and row[0])

    def mark_interrupted(self) -> int:
        """At start-up: a job still 'running' lost its worker with the previous server."""
        allowed = sources(JobState.INTERRUPTED)
        with self._connect() as db:
            return db.execute(
                "UPDATE jobs SET status = ?, error = 'the server stopped while the job ran', updated = ? "
                f"WHERE status IN ({','.join('?' * len(allowed))})", (JobState.INTERRUPTED, _now(), *allowed)).rowcount

    def sweep_datasets(self) -> int:
        """Remove the dataset files of finished jobs (and old ones no job names); returns how many."""
        ids = job_data.job_ids(self.root)
        if not ids:
            return 0
        with self._connect() as db:
            marks = ",".join("?" * len(ids))
            status = dict(db.execute(f"SELECT id, status FROM jobs WHERE id IN ({marks})", ids).fetchall())
        return job_data.sweep(self.root, status, frozenset(FINISHED))


def _add_panel_column(db: sqlite3.Connection) -> None:
    """A store made before panels has no panel column (a panel job's series used and too short)."""
    if "panel" in {row[1] for row in db.execute("PRAGMA table_info(jobs)")}:
        return
    try:
        db.execute("ALTER TABLE jobs ADD COLUMN panel TEXT")
    except sqlite3.OperationalError as exc:  # another server process added it first
        if "duplicate column" not in str(exc):
            raise


def _row(row: sqlite3.Row) -> dict[str, Any]:
    job = dict(row)
    for column in ("metrics", "panel"):
        job[column] = json.loads(job[column]) if job[column] else None
    return job


def verdict(metrics: dict[str, Any] | None) -> str | None:
    """One line comparing the test metrics with the baselines (None when there is nothing to compare)."""
    if not metrics or "model" not in metrics:
        return None
    if "mase" in metrics["model"]:
        model = metrics["model"]["mase"]
        baselines = {k: metrics[k]["mase"] for k in ("naive", "seasonal_naive") if k in metrics}
        best = min(baselines, key=baselines.__getitem__)
        word = "beats" if model < baselines[best] else "does NOT beat"
        line = f"test MASE {model:.4g} {word} {best.replace('_', ' ')} ({baselines[best]:.4g})"
        warning = metrics.get("coverage_warning")  # bands that missed their coverage: said beside the score
        return f"{line}; {warning}" if warning else line
    if "accuracy" in metrics["model"] and "majority" in metrics:
        model, majority = metrics["model"]["accuracy"], metrics["majority"]["accuracy"]
        word = "beats" if model > majority else "does NOT beat"
        return f"test accuracy {model:.3f} {word} the majority class ({majority:.3f})"
    return None


def _start_without_sigint(process: BaseProcess) -> None:
    """Start a worker that ignores Ctrl-C from its first instruction: a spawned interpreter keeps an
    inherited SIG_IGN (Python only installs its KeyboardInterrupt handler over SIG_DFL), so a
    Ctrl-C while it still imports torch prints no traceback. The server stops its workers itself."""
    if threading.current_thread() is not threading.main_thread():  # signal.signal needs the main thread
        process.start()
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        process.start()
    finally:
        signal.signal(signal.SIGINT, previous)


OnSuccess = Callable[[dict[str, Any]], Awaitable[None]]


class JobRunner:
    """Starts queued jobs in worker processes (max_concurrent at once) and watches them end."""

    def __init__(self, jobs: JobStore, store: Path, on_success: OnSuccess, max_concurrent: int = 1,
                 threads: int = 1, device: str = "auto", leadership: Leadership | None = None) -> None:
        self.jobs, self.store, self.on_success = jobs, store, on_success
        self.max_concurrent, self.threads, self.device = max_concurrent, threads, device
        # With several server workers only the leader starts jobs (service/leader.py); the others'
        # loops keep asking for the lock and take over if the leader dies.
        self.leadership = leadership or Leadership(store)
        self._led = False
        self.running: dict[str, BaseProcess] = {}
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._context = multiprocessing.get_context("spawn")  # never fork a process that holds threads

    def start(self) -> None:
        self._lead()
        self._task = asyncio.get_running_loop().create_task(self._loop())

    def wake(self) -> None:
        self._wake.set()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
        for process in self.running.values():
            process.terminate()
        for process in self.running.values():
            process.join(5)
        self.leadership.release()

    def _take_over(self) -> None:
        """Newly leading: a job still 'running' lost its worker with the previous leader (a server
        that stopped, or a worker process that died), and no other process starts jobs."""
        interrupted = self.jobs.mark_interrupted()
        if interrupted:
            log.warning("%d training job(s) were interrupted when their server process stopped", interrupted)
        self.jobs.sweep_datasets()  # the data of jobs that ended while no process led
        log.info("this process (pid %d) runs the training jobs", os.getpid())

    async def _loop(self) -> None:
        while True:
            try:
                if self._lead():
                    await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - keep the runner alive; the log says why
                log.exception("job runner step failed")
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), 0.25)
            except TimeoutError:
                pass

    def _lead(self) -> bool:
        if not self.leadership.try_acquire():
            return False
        if self._led:
            return True
        self._led = True
        self._take_over()
        return True

    async def _step(self) -> None:
        for job_id, process in list(self.running.items()):
            if not process.is_alive():
                del self.running[job_id]
                await self._finish(job_id, process.exitcode)
        self._start_queued()

    async def _finish(self, job_id: str, exitcode: int | None) -> None:
        """A worker ended: publish its version or record why not. One log line says how the job ended,
        whoever marked it (the worker marks its own failures and cancellations)."""
        job = self.jobs.get(job_id)
        if job is None:
            return
        if job["status"] == JobState.RUNNING:
            await self._settle(job, exitcode)
            job = self.jobs.get(job_id) or job
        job_data.remove(self.store, job_id)  # finished, whichever way: its data has served
        if job["status"] == JobState.SUCCEEDED:
            log.info("job %s: %s %s succeeded; %s", job_id, job["name"], job["version"], verdict(job["metrics"]))
        else:
            level = logging.ERROR if job["status"] == JobState.FAILED else logging.WARNING
            log.log(level, "job %s: %s %s: %s", job_id, job["name"], job["status"], job["error"])

    async def _settle(self, job: dict[str, Any], exitcode: int | None) -> None:
        """The worker left the job running: its version is saved, so load it (or say why it failed)."""
        if not (job["version"] and exitcode == 0):
            self.jobs.move(job["id"], JobState.FAILED, only_from=JobState.RUNNING,
                           error=f"the training worker exited with code {exitcode}")
            return
        try:
            await self.on_success({**job, "request": self.jobs.request(job["id"])})
        except Exception as exc:  # noqa: BLE001 - the saved version does not load: say why
            self.jobs.move(job["id"], JobState.FAILED, only_from=JobState.RUNNING, error=f"saved but not loaded: {exc}")
            return
        self.jobs.move(job["id"], JobState.SUCCEEDED)

    def _start_queued(self) -> None:
        while len(self.running) < self.max_concurrent:
            job = self.jobs.next_queued()
            if job is None or not self.jobs.move(job["id"], JobState.RUNNING):
                break
            from service.worker import run_job  # here: the worker module imports this one

            process = self._context.Process(target=run_job, daemon=True, args=(
                str(self.jobs.path), str(self.store), job["id"], self.threads, self.device))
            _start_without_sigint(process)
            self.running[job["id"]] = process
            log.info("job %s: training %s started (worker pid %s)", job["id"], job["name"], process.pid)
