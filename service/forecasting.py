"""Between the HTTP bodies and the predictor: request series -> checked windows, forecasts -> response."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from model.config import ModelConfig
from model.predictor import INTERVAL_LEVELS, Forecasts
from model.windows import DataError, calendar_inputs, check_timestamps, parse_timestamps
from service.errors import Problem
from service.registry import ForecastItem
from service.schemas import ClassifyRequest, ForecastRequest, SeriesInput


def _invalid(field: str, reason: str) -> Problem:
    return Problem(422, f"{field}: {reason}", [{"field": field, "reason": reason}])


def check_request_size(series: Sequence[SeriesInput], max_series: int, max_points: int) -> None:
    if len(series) > max_series:
        raise Problem(413, f"{len(series)} series in one request; the limit is {max_series}",
                      [{"field": "series", "reason": f"at most {max_series} series"}])
    for i, s in enumerate(series):
        longest = max([len(s.values)] + [len(v) for v in s.covariates.values()])
        if longest > max_points:
            raise Problem(413, f"series[{i}] has {longest} points; the limit is {max_points}",
                          [{"field": f"series[{i}].values", "reason": f"at most {max_points} points"}])


def values_array(series: SeriesInput, i: int, dtype: type = np.float32) -> np.ndarray:
    """values as an array; a mix of numbers and lists (or lists of different lengths) is a 422."""
    try:
        return np.asarray(series.values, dtype=dtype)
    except ValueError as exc:
        raise _invalid(f"series[{i}].values", "mixes numbers and lists or lists of different lengths: give "
                       "one number per point (one target) or a list of one number per target") from exc


def _window(config: ModelConfig, series: SeriesInput, i: int) -> np.ndarray:
    """The last input_size points of one series as an (input_size, features) array."""
    need = config.input_size
    columns: list[np.ndarray] = []
    if config.task == "forecast":
        values = values_array(series, i)
        if values.size == 0:
            raise _invalid(f"series[{i}].values", f"is empty; the model needs at least {need} points (input_size)")
        n_targets = len(config.targets)
        if values.ndim == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[1] != n_targets:
            raise _invalid(f"series[{i}].values", f"each point needs {n_targets} values ({config.targets})")
        if len(values) < need:
            raise _invalid(f"series[{i}].values", f"{len(values)} points; the model needs at least {need} (input_size)")
        columns += [values[-need:, j] for j in range(n_targets)]
    unknown = sorted(set(series.covariates) - set(config.covariates))
    if unknown:
        raise _invalid(f"series[{i}].covariates", f"unknown {unknown}; the model takes {config.covariates}")
    for name in config.covariates:
        if name in config.inputs:
            continue
        if name not in series.covariates:
            raise _invalid(f"series[{i}].covariates.{name}", "is missing; the model needs it")
        column = np.asarray(series.covariates[name], dtype=np.float32)
        if len(column) < need:
            raise _invalid(f"series[{i}].covariates.{name}", f"{len(column)} points; the model needs at least {need}")
        if config.task == "forecast" and len(column) != len(series.values):
            reason = f"{len(column)} points but values has {len(series.values)}"
            raise _invalid(f"series[{i}].covariates.{name}", reason)
        columns.append(column[-need:])
    if config.calendar_columns:
        columns += list(_calendar(config, series, i).T)
    window = np.stack(columns, axis=1)
    if not np.isfinite(window).all():  # finite in JSON, but beyond float32 (|x| > 3.4e38)
        raise _invalid(f"series[{i}]", "values must lie within +-3.4e38 (float32)")
    return window


def _calendar(config: ModelConfig, series: SeriesInput, i: int) -> np.ndarray:
    """The calendar's inputs (model/calendar.py) for the window's last input_size timestamps."""
    field = f"series[{i}].timestamps"
    if not series.timestamps:
        raise _invalid(field, f"required: this model reads the time of year from them (calendar {config.calendar!r})")
    # A forecast's count was checked against its values (build_windows); a classifier's values are empty.
    if len(series.timestamps) < config.input_size:
        raise _invalid(field, f"{len(series.timestamps)} timestamps; the model needs at least {config.input_size}")
    try:
        index = parse_timestamps(series.timestamps[-config.input_size:], "timestamps")
        check_timestamps(index, config.frequency)
        return calendar_inputs(index, config)
    except (DataError, ValueError, OverflowError) as exc:  # pandas: out-of-bounds dates
        raise _invalid(field, str(exc)) from exc


def build_windows(config: ModelConfig, body: ForecastRequest | ClassifyRequest,
                  max_block: int) -> tuple[list[ForecastItem], int]:
    """Check every series and return its windows in blocks of at most max_block (one batch each)."""
    horizon = config.horizon
    levels: tuple[int, ...] = ()
    if isinstance(body, ForecastRequest):
        if config.task != "forecast":
            raise Problem(422, "this model classifies; use its /classify route")
        if body.horizon is not None and body.horizon > config.horizon:
            raise _invalid("horizon", f"{body.horizon} is beyond the model's horizon of {config.horizon}")
        horizon = body.horizon or config.horizon
        bad = [level for level in body.levels if level not in INTERVAL_LEVELS]
        if bad:
            raise _invalid("levels", f"{bad} not available; choose from {INTERVAL_LEVELS}")
        levels = tuple(sorted(set(body.levels)))
        for i, s in enumerate(body.series):
            if s.timestamps is not None and len(s.timestamps) != len(s.values):
                raise _invalid(f"series[{i}].timestamps", f"{len(s.timestamps)} timestamps for {len(s.values)} values")
    with np.errstate(over="ignore"):  # beyond float32 becomes inf, refused with the series named
        windows = _plain_windows(config, body.series)
        if windows is None:
            windows = np.stack([_window(config, s, i) for i, s in enumerate(body.series)])
    blocks = [ForecastItem(windows[start : start + max_block], levels) for start in range(0, len(windows), max_block)]
    return blocks, horizon


def _plain_windows(config: ModelConfig, series: Sequence[SeriesInput]) -> np.ndarray | None:
    """The common case in one NumPy call: one target, no covariates, every series long enough.

    Anything else (or anything wrong) returns None and takes the per-series path, which names the
    offending series and field.
    """
    need = config.input_size
    if config.task != "forecast" or config.covariates or config.calendar_columns or len(config.targets) != 1:
        return None
    tails = [s.values[-need:] for s in series]
    if any(len(t) < need or s.covariates or isinstance(t[0], list) for s, t in zip(series, tails, strict=True)):
        return None
    windows = np.array(tails, dtype=np.float32)  # (N, input_size)
    if windows.ndim != 2 or not np.isfinite(windows).all():
        return None
    return windows[:, :, None]  # (N, input_size, 1)


def _future(config: ModelConfig, timestamps: list[str], horizon: int, i: int) -> list[str]:
    """The horizon's timestamps after the last one given, checked as training checks them."""
    try:
        index = parse_timestamps(timestamps, "timestamps")
        # Reversed, duplicate or off-frequency timestamps would continue from the wrong point.
        check_timestamps(index, config.frequency)
        if config.frequency is None:
            step = index[-1] - index[-2] if len(index) > 1 else pd.Timedelta(0)
            future = [index[-1] + step * (k + 1) for k in range(horizon)]
        else:
            future = list(pd.date_range(index[-1], periods=horizon + 1, freq=config.frequency)[1:])
    except (DataError, ValueError, OverflowError) as exc:  # pandas: out-of-bounds dates, bad offsets
        raise _invalid(f"series[{i}].timestamps", str(exc)) from exc
    return [t.isoformat() for t in future]


def _listed(block: np.ndarray) -> list[Any]:
    """(N, H, T) -> per series a list of H values (one target) or of H lists of T values."""
    return block[:, :, 0].tolist() if block.shape[2] == 1 else block.tolist()  # type: ignore[no-any-return]


def build_forecasts(config: ModelConfig, body: ForecastRequest, results: list[Forecasts],
                    horizon: int) -> list[dict[str, Any]]:
    """SeriesForecast-shaped dicts: the hot path skips building and re-validating pydantic objects."""
    means = np.concatenate([r.mean for r in results])[:, :horizon]
    finite = np.isfinite(means).all(axis=(1, 2)) & np.all(
        [np.isfinite(np.concatenate([r.intervals[level][1] for r in results])).all(axis=(1, 2))
         for level in body.levels] or [True], axis=0)
    if not finite.all():  # NaN and inf are not JSON: say which series instead of sending them
        i = int(np.argmin(finite))
        raise _invalid(f"series[{i}]", "the model's forecast is not finite for these values (far outside what it "
                       "was trained on)")
    mean = _listed(means)
    bands = {str(level): (_listed(np.concatenate([r.intervals[level][0] for r in results])[:, :horizon]),
                          _listed(np.concatenate([r.intervals[level][1] for r in results])[:, :horizon]))
             for level in body.levels}
    guarded = np.concatenate([r.guarded_mask() for r in results]).tolist()
    out = []
    for i, series in enumerate(body.series):
        timestamps = _future(config, series.timestamps, horizon, i) if series.timestamps else None
        intervals = {level: {"lower": lo[i], "upper": hi[i]} for level, (lo, hi) in bands.items()}
        out.append({"id": series.id, "mean": mean[i], "timestamps": timestamps, "intervals": intervals,
                    "guarded": guarded[i]})
    return out
