"""Training jobs: a SQLite job store, one worker process per job, progress, cancel, restart recovery."""

from __future__ import annotations

import asyncio
import json
import logging
import multiprocessing
import os
import signal
import sqlite3
import threading
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from service.job_state import FINISHED, JobState, sources
from service.leader import Leadership

log = logging.getLogger(__name__)

__all__ = ["FINISHED", "JobRunner", "JobState", "JobStore", "run_job", "verdict"]
SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, status TEXT NOT NULL,
    epoch INTEGER NOT NULL DEFAULT 0, epochs INTEGER NOT NULL DEFAULT 0,
    train_loss REAL, val_loss REAL, metrics TEXT, version TEXT, error TEXT,
    request TEXT NOT NULL, cancel INTEGER NOT NULL DEFAULT 0,
    created TEXT NOT NULL, updated TEXT NOT NULL
)
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class JobStore:
    """Rows in <store>/jobs.sqlite3; WAL so the server reads while a worker writes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(SCHEMA)

    def _connect(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.row_factory = sqlite3.Row
        return db

    def create(self, name: str, request: dict[str, Any], epochs: int) -> str:
        job_id = uuid.uuid4().hex[:16]
        now = _now()
        with self._connect() as db:
            db.execute(
                "INSERT INTO jobs (id, name, status, epochs, request, created, updated) VALUES (?,?,?,?,?,?,?)",
                (job_id, name, JobState.QUEUED, epochs, json.dumps(request), now, now),
            )
        return job_id

    def get(self, job_id: str) -> dict[str, Any] | None:
        with self._connect() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _row(row) if row else None

    def list(self, limit: int = 100) -> list[dict[str, Any]]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM jobs ORDER BY created DESC LIMIT ?", (limit,)).fetchall()
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
            row = db.execute("SELECT * FROM jobs WHERE status = ? ORDER BY created LIMIT 1",
                             (JobState.QUEUED,)).fetchone()
        return _row(row) if row else None

    def request_cancel(self, job_id: str) -> None:
        with self._connect() as db:
            db.execute("UPDATE jobs SET cancel = 1, updated = ? WHERE id = ?", (_now(), job_id))
        self.move(job_id, JobState.CANCELLED, only_from=JobState.QUEUED, error="cancelled before it started")

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


def _row(row: sqlite3.Row) -> dict[str, Any]:
    job = dict(row)
    job["metrics"] = json.loads(job["metrics"]) if job["metrics"] else None
    job["request"] = json.loads(job["request"])
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
        return f"test MASE {model:.4g} {word} {best.replace('_', ' ')} ({baselines[best]:.4g})"
    if "accuracy" in metrics["model"] and "majority" in metrics:
        model, majority = metrics["model"]["accuracy"], metrics["majority"]["accuracy"]
        word = "beats" if model > majority else "does NOT beat"
        return f"test accuracy {model:.3f} {word} the majority class ({majority:.3f})"
    return None


def run_job(db_path: str, store_path: str, job_id: str, threads: int) -> None:
    """Entry point of the worker process: train, save the version atomically, record the outcome."""
    import pandas as pd
    import torch

    # Ctrl-C reaches the whole process group: the server stops this worker itself, without a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from model import store
    from model.config import ModelConfig, TrainConfig
    from model.fit import Cancelled, EpochReport
    from model.train import train
    from model.windows import read_csv_text

    torch.set_num_threads(threads)
    os.nice(10)  # training yields the CPU to serving: forecasts keep their latency while a job runs
    jobs = JobStore(Path(db_path))
    job = jobs.get(job_id)
    assert job is not None
    request = job["request"]
    parent = os.getppid()
    options = dict(request["options"])
    checked = [0.0, False]

    def should_cancel() -> bool:
        # The database is read at most twice a second; an orphaned worker (server killed) stops too.
        if os.getppid() != parent:
            return True
        now = time.monotonic()
        if now - checked[0] > 0.5:
            checked[0], checked[1] = now, jobs.cancel_requested(job_id)
        return bool(checked[1])

    def progress(report: EpochReport) -> None:
        jobs.update(job_id, epoch=report.epoch, epochs=report.epochs, train_loss=report.train_loss,
                    val_loss=report.val_loss)

    try:
        if "csv" in request:
            frame = read_csv_text(request["csv"])
        else:
            frame = pd.DataFrame(request["data"])
        config = ModelConfig.from_dict(options)
        train_config = TrainConfig(**{k: v for k, v in options.items() if k in TrainConfig.__dataclass_fields__})
        train_config.device = request.get("device", "auto")
        artifact = train(frame, config, train_config, options.get("time_column"), progress, should_cancel)
        if os.getppid() != parent or jobs.get(job_id, )["status"] != JobState.RUNNING:  # type: ignore[index]
            return  # the server restarted meanwhile and marked this job interrupted: publish nothing
        if options.get("promote") == "if_better":
            artifact.manifest.metrics["promotion"] = _gate(Path(store_path), request["name"], artifact, frame,
                                                              options.get("time_column"), train_config)
        version = store.save_version(Path(store_path), request["name"], artifact)
        # Still "running": the server marks it succeeded once the version is loaded (or live), so a
        # client that sees "succeeded" can forecast with it at once.
        jobs.update(job_id, only_if=JobState.RUNNING, version=version, metrics=json.dumps(artifact.manifest.metrics))
    except Cancelled:
        if os.getppid() != parent:  # the server died (kill -9): nothing was published
            jobs.move(job_id, JobState.INTERRUPTED, error="the server stopped while the job ran")
        else:
            jobs.move(job_id, JobState.CANCELLED, only_from=JobState.RUNNING, error="cancelled while training")
    except Exception as exc:  # noqa: BLE001 - the job row is where the reason goes
        jobs.move(job_id, JobState.FAILED, only_from=JobState.RUNNING, error=f"{type(exc).__name__}: {exc}")


def _gate(root: Path, name: str, artifact: Any, frame: Any, time_column: str | None, train_config: Any) -> Any:
    """The if_better decision against the version live now (read in the worker: it has the data)."""
    from model import store
    from model.artifact import ArtifactError, load_artifact
    from model.gate import judge

    live_version = store.live_version(root, name) if (root / name).is_dir() else None
    live = None
    if live_version is not None:
        try:
            live = load_artifact(root / name / live_version)
        except ArtifactError as exc:
            log.warning("if_better: the live version %s of %s does not load (%s)", live_version, name, exc)
    return judge(artifact, live, live_version, frame, time_column, train_config)


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
            await self.on_success(job)
        except Exception as exc:  # noqa: BLE001 - the saved version does not load: say why
            self.jobs.move(job["id"], JobState.FAILED, only_from=JobState.RUNNING, error=f"saved but not loaded: {exc}")
            return
        self.jobs.move(job["id"], JobState.SUCCEEDED)

    def _start_queued(self) -> None:
        while len(self.running) < self.max_concurrent:
            job = self.jobs.next_queued()
            if job is None or not self.jobs.move(job["id"], JobState.RUNNING):
                break
            job["request"]["device"] = self.device
            self.jobs.update(job["id"], request=json.dumps(job["request"]))
            process = self._context.Process(
                target=run_job, args=(str(self.jobs.path), str(self.store), job["id"], self.threads), daemon=True
            )
            _start_without_sigint(process)
            self.running[job["id"]] = process
            log.info("job %s: training %s started (worker pid %s)", job["id"], job["name"], process.pid)
