"""Service settings: environment variables prefixed GRU_FORECAST_, read once through get_settings()."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRU_FORECAST_", extra="ignore")

    host: str = Field("127.0.0.1", description="interface to listen on (0.0.0.0 in containers)")
    port: int = Field(8000, description="TCP port")
    store: Path = Field(Path("models"), description="model store directory: versions, LIVE pointers, jobs database")
    device: Literal["auto", "cpu", "cuda"] = Field("auto", description="inference device; auto = CUDA when present")
    workers: int = Field(0, ge=0, description="HTTP worker processes, each with its own batcher and model copies; "
                         "0 = one per usable core, at most 8 (see default_workers)")
    chunk_size: int = Field(0, ge=0, description="most series in one forward pass of the network; a bigger batch "
                            "runs as chunks (0 = the device's best: 64 on a CPU thread, 4096 on a GPU)")
    max_batch_size: int = Field(256, ge=1, description="most series in one forward pass")
    max_wait_ms: float = Field(
        0.0, ge=0, description="how long a batch may wait for more series after its first; 0 = run what is queued"
    )
    queue_limit: int = Field(16384, ge=1, description="series waiting per model before 503 + Retry-After")
    max_body_bytes: int = Field(8_000_000, ge=1024, description="larger request bodies get 413")
    body_timeout_s: float = Field(30.0, gt=0, description="a request body must arrive within this many seconds "
                                  "of its headers (408 otherwise): a trickling client cannot hold a connection")
    max_series: int = Field(1024, ge=1, description="series in one forecast request")
    max_points: int = Field(100_000, ge=1, description="points in one series (longer gets 413)")
    api_key: str | None = Field(None, description="when set, state-changing routes need it (Bearer or X-API-Key)")
    log_format: Literal["text", "json"] = Field("text", description="log line format")
    access_log: bool = Field(False, description="one log line per request (costs ~5% of throughput)")
    torch_threads: int = Field(1, ge=1, description="intra-op threads of the inference thread (1 avoids OpenMP stalls)")
    training_threads: int = Field(1, ge=1, description="torch threads of a training worker process")
    max_concurrent_jobs: int = Field(1, ge=1, description="training jobs run at once; others wait queued")
    seed_defaults: bool = Field(True, description="copy the bundled default models into an empty store")


def default_workers() -> int:
    """One worker per core the process may use, at most 8. Each worker runs one inference thread and
    its event loop: on 2 cores 2 workers beat 1 (benchmarks/serving.py, README "Processes"); on the
    16-core H200 machine 8 workers reached 0.65-0.84x of the 8-worker FastAPI floor where one process
    stayed near 1,700 requests/s, and 8 CUDA contexts took 6.6 GB. On an H100 machine these workers
    on CUDA served 5-10x one process (README "Processes")."""
    return max(1, min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1))


@lru_cache
def get_settings() -> Settings:
    return Settings()
