"""The one request-to-windows validator: a request's series -> checked feature rows, or a 422 naming the field.

/v1 forecast and classify, plot.svg (and the page, which calls the API), /evaluate and /v2 infer
all check through here, so the same bad series gets the same message on every route.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.config import ModelConfig
from model.panel import MIN_POINTS, window
from model.windows import VALUE_LIMIT, DataError, calendar_inputs, check_timestamps, parse_timestamps
from service.errors import Problem
from service.schemas import SeriesInput


def invalid(field: str, reason: str) -> Problem:
    return Problem(422, f"{field}: {reason}", [{"field": field, "reason": reason}])


def out_of_range(matrix: np.ndarray, first: int = 0) -> tuple[int, str] | None:
    """The first column and why a (points, features) matrix cannot be used, or None: one limit for
    training, forecasts, evaluation and /v2 (first: the series position of the matrix's first row)."""
    with np.errstate(invalid="ignore"):
        bad = ~(np.abs(matrix) <= VALUE_LIMIT)  # NaN and inf too
    if not bad.any():
        return None
    point, column = (int(k) for k in np.unravel_index(int(np.argmax(bad)), bad.shape))
    return column, (f"point {first + point} is {float(matrix[point, column]):g}; values must lie within "
                    f"+-{VALUE_LIMIT:g} (float32 arithmetic keeps squared errors finite below that): rescale "
                    "the series")


def values_array(series: SeriesInput, i: int, dtype: type = np.float64) -> np.ndarray:
    """values as an array; a mix of numbers and lists (or lists of different lengths) is a 422."""
    try:
        return np.asarray(series.values, dtype=dtype)
    except ValueError as exc:
        raise invalid(f"series[{i}].values", "mixes numbers and lists or lists of different lengths: give "
                      "one number per point (one target) or a list of one number per target") from exc


def _targets(config: ModelConfig, series: SeriesInput, i: int, need: int, needs: str) -> np.ndarray:
    """The target columns (T, targets), at least need points."""
    values = values_array(series, i)
    field = f"series[{i}].values"
    if values.size == 0:
        raise invalid(field, f"is empty; the model needs at least {need} points ({needs})")
    if values.ndim == 1:
        values = values[:, None]
    if values.ndim != 2 or values.shape[1] != len(config.targets):
        raise invalid(field, f"each point needs {len(config.targets)} values ({config.targets})")
    if len(values) < need:
        raise invalid(field, f"{len(values)} points; the model needs at least {need} ({needs})")
    return values


def _covariates(config: ModelConfig, series: SeriesInput, i: int, need: int, length: int | None) -> list[np.ndarray]:
    """The covariate columns the model reads from the request, in its feature order."""
    unknown = sorted(set(series.covariates) - set(config.covariates))
    if unknown:
        raise invalid(f"series[{i}].covariates", f"unknown {unknown}; the model takes {config.covariates}")
    columns = []
    other = "values" if length is not None else None  # a classifier's first covariate sets the length
    for name in config.covariates:
        if name in config.inputs:
            continue
        field = f"series[{i}].covariates.{name}"
        if name not in series.covariates:
            raise invalid(field, "is missing; the model needs it")
        column = np.asarray(series.covariates[name], dtype=np.float64)
        if len(column) < need:
            raise invalid(field, f"{len(column)} points; the model needs at least {need}")
        if length is not None and len(column) != length:
            raise invalid(field, f"{len(column)} points but {other} has {length}")
        if length is None:
            length, other = len(column), f"covariates.{name}"
        columns.append(column)
    return columns


def series_timestamps(config: ModelConfig, series: SeriesInput, i: int, length: int | None) -> pd.DatetimeIndex | None:
    """The series' timestamps parsed and checked as training checks them (None when none were sent)."""
    field = f"series[{i}].timestamps"
    if not series.timestamps:
        if config.calendar_columns:
            raise invalid(field, "required: this model reads the time of year from them "
                          f"(calendar {config.calendar!r})")
        return None
    if length is not None and len(series.timestamps) != length:
        points = "values" if config.task == "forecast" else "covariate points"
        raise invalid(field, f"{len(series.timestamps)} timestamps for {length} {points}")
    try:
        index = parse_timestamps(series.timestamps, "timestamps", config.frequency)
        check_timestamps(index, config.frequency)
    except (DataError, ValueError, OverflowError) as exc:  # pandas: out-of-bounds dates
        raise invalid(field, str(exc)) from exc
    return index


def _needed(config: ModelConfig, rows: int | None) -> tuple[int, str]:
    """The fewest points a series needs, and why: a window of rows (a panel model pads a shorter series
    down to MIN_POINTS), or every window of input_size + horizon (rows None: /evaluate)."""
    if rows is None:
        return config.input_size + config.horizon, f"input_size {config.input_size} + horizon {config.horizon}"
    if config.id_column is not None:
        return MIN_POINTS, f"a panel model pads a series shorter than input_size {config.input_size}"
    return rows, "input_size"


def series_rows(config: ModelConfig, series: SeriesInput, i: int,
                rows: int | None) -> tuple[np.ndarray, pd.DatetimeIndex | None]:
    """One series as its model's (points, features) float32 matrix, the last `rows` points (None: all),
    and its timestamps; a 422 naming the field for anything the model cannot read. A panel model's
    window of a shorter series is padded (model/panel.py), with its observed input."""
    need, needs = _needed(config, rows)
    columns: list[np.ndarray] = []
    length: int | None = None
    if config.task == "forecast":
        targets = _targets(config, series, i, need, needs)
        length = len(targets)
        columns += list(targets.T)
    columns += _covariates(config, series, i, need, length)
    length = len(columns[0]) if columns else length
    index = series_timestamps(config, series, i, length)
    if index is not None and len(index) < need:
        raise invalid(f"series[{i}].timestamps", f"{len(index)} timestamps; the model needs at least {need}")
    tail = slice(-rows, None) if rows is not None else slice(None)
    matrix = np.stack([c[tail] for c in columns], axis=1) if columns else np.zeros((need, 0))
    found = out_of_range(matrix, length - len(matrix) if length is not None else 0)
    if found is not None:
        column, reason = found
        read = [f"series[{i}].covariates.{c}" for c in config.covariates if c not in config.inputs]
        fields = [f"series[{i}].values"] * (len(columns) - len(read)) + read
        raise invalid(fields[column], reason)
    try:
        if config.id_column is not None and rows is not None:
            times = index if index is not None else pd.RangeIndex(len(matrix))
            return window(matrix, times, config), index
        if config.id_column is not None:  # every point is the series' own: observed
            matrix = np.concatenate([matrix, np.ones((len(matrix), 1))], axis=1)
        if config.calendar_columns:
            assert index is not None  # series_timestamps requires them for a calendar model
            matrix = np.concatenate([matrix, calendar_inputs(index[tail], config)], axis=1)
    except (DataError, OverflowError, pd.errors.OutOfBoundsDatetime) as exc:  # padding's times before year 1677
        raise invalid(f"series[{i}].timestamps", str(exc)) from exc
    return matrix.astype(np.float32), index
