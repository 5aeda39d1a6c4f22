"""Prometheus metrics of the service, in a registry of its own (one per app, so tests stay apart).

With several worker processes (`gru-forecast serve --workers N` sets PROMETHEUS_MULTIPROC_DIR before
it starts them) every process writes its values to files there, and /metrics answers with the sum of
all processes, whichever worker takes the scrape: prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


class Telemetry:
    def __init__(self) -> None:
        self.directory = os.environ.get(MULTIPROCESS_DIR) or None
        self.registry = CollectorRegistry()
        r = self.registry
        self.latency = Histogram("gru_request_seconds", "request latency by route", ["route", "status"], registry=r)
        self.forecasts = Counter("gru_forecasts_total", "series forecast or classified", ["model"], registry=r)
        self.batch_size = Histogram("gru_batch_size", "series per forward pass", ["model"], registry=r,
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024))
        self.queue_wait = Histogram("gru_queue_wait_seconds", "first item's wait before its batch ran", ["model"],
                                    registry=r, buckets=(1e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.5, 1))
        self.compute = Histogram("gru_compute_seconds", "forward pass time per batch", ["model"], registry=r,
                                 buckets=(1e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 2e-2, 5e-2, 0.1, 0.5, 1))
        # Gauges across processes: queues add up over the live workers; job counts come from the one
        # database (whoever set them last is right); models loaded is livemax, not a sum: every worker
        # serves the store's models (the registry follows the store), so the largest count is the service's.
        self.queue_depth = Gauge("gru_queue_depth", "series waiting", ["model"], registry=r,
                                 multiprocess_mode="livesum")
        self.jobs = Gauge("gru_jobs", "training jobs by status", ["status"], registry=r, multiprocess_mode="mostrecent")
        self.models_loaded = Gauge("gru_models_loaded", "models serving", registry=r, multiprocess_mode="livemax")
        self.processes = Gauge("gru_processes", "server worker processes serving", registry=r,
                               multiprocess_mode="livesum")
        self.processes.set(1)
        if self.directory:
            forget_dead_processes(Path(self.directory))

    def batch_observer(self, model: str):  # type: ignore[no-untyped-def]
        def observe(size: int, wait: float, compute: float) -> None:
            self.batch_size.labels(model).observe(size)
            self.queue_wait.labels(model).observe(wait)
            self.compute.labels(model).observe(compute)
            self.forecasts.labels(model).inc(size)

        return observe

    def refresh(self, registry: Any) -> None:
        """Gauges read from this process's registry (every second in multiprocess mode, so a scrape
        that lands on another worker still sees this one's queues)."""
        self.models_loaded.set(len(registry.models))
        for name, loaded in list(registry.models.items()):
            self.queue_depth.labels(name).set(loaded.batcher.depth)

    def exposition(self) -> bytes:
        """The Prometheus text: this process's registry, or every process's files in multiprocess mode."""
        if not self.directory:
            return generate_latest(self.registry)
        merged = CollectorRegistry()
        multiprocess.MultiProcessCollector(merged, path=self.directory)  # type: ignore[no-untyped-call]
        return generate_latest(merged)

    def close(self) -> None:
        """This process stops: its live gauges (queue depth, models, processes) leave the sums."""
        if self.directory:
            multiprocess.mark_process_dead(os.getpid(), self.directory)  # type: ignore[no-untyped-call]


def forget_dead_processes(directory: Path) -> None:
    """A worker that was killed never ran close(): drop its live gauges when the next one starts."""
    for path in directory.glob("gauge_live*_*.db"):
        match = re.search(r"_(\d+)\.db$", path.name)
        if match is None:
            continue
        pid = int(match.group(1))
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
        except PermissionError:
            pass  # alive, someone else's
