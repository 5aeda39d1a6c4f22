"""Service settings: environment variables prefixed GRU_FORECAST_, read once through get_settings()."""

from __future__ import annotations

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
