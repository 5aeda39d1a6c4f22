"""Prometheus metrics of the service, in a registry of its own (one per app, so tests stay apart)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram


class Telemetry:
    def __init__(self) -> None:
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
        self.queue_depth = Gauge("gru_queue_depth", "series waiting", ["model"], registry=r)
        self.jobs = Gauge("gru_jobs", "training jobs by status", ["status"], registry=r)
        self.models_loaded = Gauge("gru_models_loaded", "models serving", registry=r)

    def batch_observer(self, model: str):  # type: ignore[no-untyped-def]
        def observe(size: int, wait: float, compute: float) -> None:
            self.batch_size.labels(model).observe(size)
            self.queue_wait.labels(model).observe(wait)
            self.compute.labels(model).observe(compute)
            self.forecasts.labels(model).inc(size)

        return observe
