"""The `gru-forecast` command: model/'s train, evaluate and rebuild-defaults, plus serve."""

from __future__ import annotations

import argparse
import copy
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from model.cli import build_parser
from model.cli import main as model_main
from service.telemetry import MULTIPROCESS_DIR


def serve(args: argparse.Namespace) -> int:
    import uvicorn

    from service.settings import default_workers, get_settings

    settings = get_settings()
    workers = args.workers or settings.workers or default_workers()
    fmt = ('{"time":"%(asctime)s","level":"%(levelname)s","logger":"%(name)s","message":"%(message)s"}'
           if settings.log_format == "json" else "%(asctime)s %(levelname)s %(name)s: %(message)s")
    metrics_dir = _metrics_directory() if workers > 1 else None
    try:
        # Each worker process has its own batcher, inference thread and model copies, and serves what
        # the store's LIVE records name; one of them (a file lock) runs the training jobs. uvicorn's
        # supervisor restarts a worker that dies and drains them all on SIGTERM. README "Processes".
        options: dict[str, Any] = dict(factory=True, host=args.host or settings.host, port=args.port or settings.port,
                                       log_config=log_config(fmt), access_log=settings.access_log,
                                       timeout_graceful_shutdown=30)
        if workers == 1:
            uvicorn.run("service.app:create_app", **options)
        else:
            from service import supervisor

            # A worker that does not answer the supervisor's ping in time is killed and respawned;
            # uvicorn's 5 s is less than a fresh interpreter needs on a busy machine (measured: a
            # replacement worker killed 20 times over 2.5 minutes with both cores loaded).
            supervisor.run(uvicorn.Config("service.app:create_app", workers=workers, timeout_worker_healthcheck=30,
                                          **options))
    finally:
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
    return 0


def log_config(fmt: str) -> dict[str, Any]:
    """uvicorn's logging, plus our format for the service's own loggers, applied in every worker."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["formatters"]["service"] = {"format": fmt}
    config["handlers"]["service"] = {"class": "logging.StreamHandler", "formatter": "service",
                                     "stream": "ext://sys.stderr"}
    config["root"] = {"handlers": ["service"], "level": "INFO"}
    return config


def _metrics_directory() -> str | None:
    """Where the workers' Prometheus values meet (service/telemetry.py); ours to remove unless the
    user named one, which is then emptied of the previous run's files."""
    given = os.environ.get(MULTIPROCESS_DIR)
    if given:
        for stale in Path(given).glob("*.db"):
            stale.unlink()
        return None
    directory = tempfile.mkdtemp(prefix="gru-forecast-metrics-")
    os.environ[MULTIPROCESS_DIR] = directory  # inherited by the spawned workers
    return directory


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    p = commands.add_parser("serve", help="start the HTTP server on the model store (GRU_FORECAST_* settings)")
    p.add_argument("--host")
    p.add_argument("--port", type=int)
    p.add_argument("--workers", type=int, help="HTTP worker processes (GRU_FORECAST_WORKERS; default: one per "
                   "core, at most 8)")
    p.set_defaults(run=serve)
    return model_main(argv, parser)


if __name__ == "__main__":
    raise SystemExit(main())
