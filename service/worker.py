"""The training worker process: read the job's dataset, train, save the version atomically, record
the outcome in the job row. Started (spawned) by service/jobs.py's runner, one process per job."""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from pathlib import Path
from typing import Any

from service import job_data
from service.job_state import JobState
from service.jobs import JobStore

log = logging.getLogger(__name__)


def run_job(db_path: str, store_path: str, job_id: str, threads: int, device: str = "auto") -> None:
    """Entry point of the worker process: train, save the version atomically, record the outcome."""
    import torch

    # Ctrl-C reaches the whole process group: the server stops this worker itself, without a traceback.
    signal.signal(signal.SIGINT, signal.SIG_IGN)

    from model import store
    from model.config import split_options
    from model.fit import Cancelled, EpochReport
    from model.train import train

    torch.set_num_threads(threads)
    os.nice(10)  # training yields the CPU to serving: forecasts keep their latency while a job runs
    jobs = JobStore(Path(db_path))
    request = jobs.request(job_id)
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
        frame = job_data.read(Path(store_path), request)
        config, train_config = split_options({**options, "device": device})
        artifact = train(frame, config, train_config, options.get("time_column"), progress, should_cancel)
        if os.getppid() != parent or jobs.get(job_id)["status"] != JobState.RUNNING:  # type: ignore[index]
            return  # the server restarted meanwhile and marked this job interrupted: publish nothing
        if options.get("promote") == "if_better":
            artifact.manifest.metrics["promotion"] = _gate(Path(store_path), request["name"], artifact, frame,
                                                              options.get("time_column"), train_config)
        version = store.save_version(Path(store_path), request["name"], artifact)
        # Still "running": the server marks it succeeded once the version is loaded (or live), so a
        # client that sees "succeeded" can forecast with it at once.
        # A panel's series used and those too short, by id (model/panel.py): in the job, never dropped unseen.
        panel = getattr(artifact.manifest, "panel", None)
        jobs.update(job_id, only_if=JobState.RUNNING, version=version, metrics=json.dumps(artifact.manifest.metrics),
                    panel=json.dumps(panel) if panel else None)
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
