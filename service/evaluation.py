"""/evaluate on the inference thread in chunks of windows, so a long series (two years of hourly data) is
scored without holding the thread for every forecast's turn, and never waits on a queue it cannot fit."""

from __future__ import annotations

import asyncio
from concurrent.futures import Executor
from typing import Any

import numpy as np

from model import metrics
from model.config import ModelConfig
from model.evaluate import WindowForecasts, score, window_forecasts
from model.predictor import Predictor
from model.windows import Series
from service.errors import Problem
from service.registry import LoadedModel

CHUNK_WINDOWS = 4096  # windows per turn on the inference thread: forecasts queued meanwhile run between turns


def _chunk(predictor: Predictor, series: Series, start: int, stop: int) -> WindowForecasts:
    """The windows starting at rows [start, stop), from only the rows they (and seasonal naive) read."""
    config = predictor.config
    span = config.input_size + config.horizon
    first = max(start - max((config.season_length or 1) - config.input_size, 0), 0)
    end = stop - 1 + span
    rows = Series(values=series.values[first:end], labels=None, index=series.index[first:end])
    return window_forecasts(predictor, rows, slice(start - first, stop - first))


def _joined(parts: list[WindowForecasts]) -> WindowForecasts:
    guarded = [p.guarded for p in parts if p.guarded is not None]
    return WindowForecasts(
        actual=np.concatenate([p.actual for p in parts]),
        forecasts={k: np.concatenate([p.forecasts[k] for p in parts]) for k in parts[0].forecasts},
        half_widths={k: np.concatenate([p.half_widths[k] for p in parts]) for k in parts[0].half_widths},
        guarded=np.concatenate(guarded) if guarded else None)


def own_scale(values: np.ndarray, config: ModelConfig) -> np.ndarray:
    """A panel model's MASE scale is each series' own (model/panel_train.py): here its in-sample seasonal
    naive error over the points sent (1 where that is 0: a constant series)."""
    scale = metrics.naive_scale(values[:, : len(config.targets)].astype(np.float64), config.season_length or 1)
    return np.where(np.isfinite(scale) & (scale > 0), scale, 1.0)


async def evaluate_series(loaded: LoadedModel, executor: Executor, series: Series,
                          mase_scale: np.ndarray) -> dict[str, Any]:
    """evaluate_forecaster's answer, computed chunk by chunk; 503 only while forecasts fill the queue."""
    predictor = loaded.artifact.predictor
    config = predictor.config
    windows = len(series.values) - config.input_size - config.horizon + 1
    batcher = loaded.batcher
    # A chunk counts against the queue limit as that many forecasts would: one never larger than the limit.
    size = max(min(CHUNK_WINDOWS, batcher.queue_limit), 1)
    loop = asyncio.get_running_loop()
    parts = []
    for start in range(0, windows, size):
        stop = min(start + size, windows)
        if batcher.queued + (stop - start) > batcher.queue_limit:
            raise Problem(503, f"overloaded: {batcher.queued} series queued, limit {batcher.queue_limit}; "
                          "retry shortly", headers={"Retry-After": "1"})
        parts.append(await loop.run_in_executor(executor, _chunk, predictor, series, start, stop))
    return await loop.run_in_executor(executor, score, _joined(parts), mase_scale)
