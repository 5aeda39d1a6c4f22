"""Between the HTTP bodies and the predictor: request series -> checked windows, forecasts -> response."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from model.config import ModelConfig
from model.predictor import INTERVAL_LEVELS, Forecasts
from model.windows import VALUE_LIMIT, future_times
from service.errors import Problem
from service.registry import ForecastItem
from service.request_windows import invalid, series_rows, series_timestamps
from service.schemas import ClassifyRequest, ForecastRequest, SeriesInput


def check_request_size(series: Sequence[SeriesInput], max_series: int, max_points: int) -> None:
    if len(series) > max_series:
        raise Problem(413, f"{len(series)} series in one request; the limit is {max_series}",
                      [{"field": "series", "reason": f"at most {max_series} series"}])
    for i, s in enumerate(series):
        longest = max([len(s.values)] + [len(v) for v in s.covariates.values()])
        if longest > max_points:
            raise Problem(413, f"series[{i}] has {longest} points; the limit is {max_points}",
                          [{"field": f"series[{i}].values", "reason": f"at most {max_points} points"}])


def build_windows(config: ModelConfig, body: ForecastRequest | ClassifyRequest,
                  max_block: int) -> tuple[list[ForecastItem], int, list[pd.DatetimeIndex | None]]:
    """Check every series (service/request_windows.py) and return its windows in blocks of at most
    max_block (one batch each), the horizon and each series' parsed timestamps."""
    horizon = config.horizon
    levels: tuple[int, ...] = ()
    if isinstance(body, ForecastRequest):
        if config.task != "forecast":
            raise Problem(422, "this model classifies; use its /classify route")
        if body.horizon is not None and body.horizon > config.horizon:
            raise invalid("horizon", f"{body.horizon} is beyond the model's horizon of {config.horizon}")
        horizon = body.horizon or config.horizon
        bad = [level for level in body.levels if level not in INTERVAL_LEVELS]
        if bad:
            raise invalid("levels", f"{bad} not available; choose from {INTERVAL_LEVELS}")
        levels = tuple(sorted(set(body.levels)))
    windows = _plain_windows(config, body.series)
    if windows is not None:
        indexes = [series_timestamps(config, s, i, len(s.values)) for i, s in enumerate(body.series)]
    else:
        checked = [series_rows(config, s, i, config.input_size) for i, s in enumerate(body.series)]
        windows, indexes = np.stack([c[0] for c in checked]), [c[1] for c in checked]
    blocks = [ForecastItem(windows[start : start + max_block], levels) for start in range(0, len(windows), max_block)]
    return blocks, horizon, indexes


def _plain_windows(config: ModelConfig, series: Sequence[SeriesInput]) -> np.ndarray | None:
    """The common case in one NumPy call: one target, no covariates, every series long enough.

    Anything else (or anything wrong) returns None and takes the per-series path, which names the
    offending series and field.
    """
    need = config.input_size
    if config.task != "forecast" or config.covariates or config.calendar_columns or len(config.targets) != 1:
        return None
    tails = [s.values[-need:] for s in series]
    if any(len(t) < need or s.covariates or isinstance(t[0], list)
           for s, t in zip(series, tails, strict=True)):
        return None
    windows = np.array(tails, dtype=np.float64)  # (N, input_size)
    if windows.ndim != 2 or not (np.abs(windows) <= VALUE_LIMIT).all():
        return None
    plain = windows.astype(np.float32)[:, :, None]  # (N, input_size, 1)
    if config.id_column is not None:  # a panel model's observed input: no padding in a full window
        plain = np.concatenate([plain, np.ones_like(plain)], axis=2)  # (N, input_size, 2)
    return plain


def _future(config: ModelConfig, index: pd.DatetimeIndex, horizon: int) -> list[str]:
    """The horizon's timestamps after the last one given, in the caller's zone or offset."""
    step = pd.TimedeltaIndex([index[-1] - index[-2] if len(index) > 1 else pd.Timedelta(0)])
    return [t.isoformat() for t in future_times(index[-1:], horizon, config.frequency, step)]


def _listed(block: np.ndarray) -> list[Any]:
    """(N, H, T) -> per series a list of H values (one target) or of H lists of T values."""
    return block[:, :, 0].tolist() if block.shape[2] == 1 else block.tolist()  # type: ignore[no-any-return]


def build_forecasts(config: ModelConfig, body: ForecastRequest, results: list[Forecasts], horizon: int,
                    indexes: list[pd.DatetimeIndex | None]) -> list[dict[str, Any]]:
    """SeriesForecast-shaped dicts: the hot path skips building and re-validating pydantic objects."""
    means = np.concatenate([r.mean for r in results])[:, :horizon]
    finite = np.isfinite(means).all(axis=(1, 2)) & np.all(
        [np.isfinite(np.concatenate([r.intervals[level][1] for r in results])).all(axis=(1, 2))
         for level in body.levels] or [True], axis=0)
    if not finite.all():  # NaN and inf are not JSON: say which series instead of sending them
        i = int(np.argmin(finite))
        raise invalid(f"series[{i}]", "the model's forecast is not finite for these values (far outside what it "
                       "was trained on)")
    mean = _listed(means)
    bands = {str(level): (_listed(np.concatenate([r.intervals[level][0] for r in results])[:, :horizon]),
                          _listed(np.concatenate([r.intervals[level][1] for r in results])[:, :horizon]))
             for level in body.levels}
    guarded = np.concatenate([r.guarded_mask() for r in results]).tolist()
    out = []
    for i, series in enumerate(body.series):
        index = indexes[i]
        try:
            timestamps = _future(config, index, horizon) if index is not None else None
        except (ValueError, OverflowError) as exc:  # pandas: past the last representable date
            raise invalid(f"series[{i}].timestamps", f"the future timestamps cannot be computed: {exc}") from exc
        intervals = {level: {"lower": lo[i], "upper": hi[i]} for level, (lo, hi) in bands.items()}
        out.append({"id": series.id, "mean": mean[i], "timestamps": timestamps, "intervals": intervals,
                    "guarded": guarded[i]})
    return out
