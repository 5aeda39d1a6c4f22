"""A panel: many series in one long-format table (one row per series and time step), one global model.

Series may differ in length and start. A window of a series shorter than input_size is padded on the
left with its first row, and the OBSERVED input (1 on the series' own points, 0 on the padding) tells
the network which steps are padding; the scalings read only observed steps (model/scaling.py).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from model.config import ModelConfig
from model.windows import (
    VALUE_LIMIT,
    DataError,
    Series,
    calendar_inputs,
    normalize_frequency,
    parse_timestamps,
    prepare_series,
)

# The fewest points a panel model forecasts from: one step, so a window has a scale.
MIN_POINTS = 2
# Nixtla's long-format names (statsforecast, NeuralForecast, utilsforecast).
NIXTLA_TIME, NIXTLA_TARGET = "ds", "y"


@dataclass
class Panel:
    """A long-format table read series by series."""

    ids: list[str]  # the usable series, in the order they first appear
    series: list[Series]  # their checked rows: targets and covariates (no observed flag, no calendar)
    short: dict[str, str]  # id -> why the series cannot be used (too short, a bad value)


def nixtla_names(frame: pd.DataFrame, config: ModelConfig, time_column: str | None) -> tuple[ModelConfig, str | None]:
    """unique_id / ds / y need no option but id_column: the target "value" (the default) becomes "y" and
    the time column "ds" where the frame has those and not the defaults."""
    if config.targets == ["value"] and "value" not in frame.columns and NIXTLA_TARGET in frame.columns:
        config = replace(config, targets=[NIXTLA_TARGET])
    if time_column is None and NIXTLA_TIME in frame.columns:
        time_column = NIXTLA_TIME
    return config, time_column


def check_panel_config(config: ModelConfig) -> None:
    if config.id_column is None:
        raise DataError("id_column is not set: this is not a panel model")
    if config.task != "forecast":
        raise DataError("a panel (id_column) trains a forecaster; classify one series at a time")
    if len(config.targets) != 1:
        raise DataError(f"a panel model forecasts one target per series (got {config.targets})")


def read_panel(frame: pd.DataFrame, config: ModelConfig, time_column: str | None = None, interpolate: bool = False,
               min_rows: int = MIN_POINTS) -> Panel:
    """Every series of a long-format frame checked on its own (timestamps, numbers); a series with fewer
    than min_rows rows, or a value it cannot use, is reported in short, never silently dropped.

    The checks run on whole columns at once (_screen): 100,000 series read in seconds, where one
    prepare_series per series took over a minute. A series they flag (or every series, when a column
    cannot be read whole) goes through prepare_series, whose message names what is wrong."""
    check_panel_config(config)
    assert config.id_column is not None
    if config.id_column not in frame.columns:
        raise DataError(f"unknown id_column {config.id_column!r}; the data has {list(map(str, frame.columns))}")
    if frame[config.id_column].isna().any():
        line = int(np.argmax(frame[config.id_column].isna().to_numpy())) + 2
        raise DataError(f"column {config.id_column!r} is missing a series id at line {line} (header = line 1)")
    codes, keys = pd.factorize(frame[config.id_column], sort=False)  # ids in the order they first appear
    order = np.argsort(codes, kind="stable")  # each series' rows together, in their order in the file
    sizes = np.bincount(codes, minlength=len(keys))
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    screened = _screen(frame.iloc[order], codes[order], len(keys), config, time_column)
    ids, series, short = [], [], {}
    for k, key in enumerate(keys):
        name, rows = str(key), slice(int(starts[k]), int(starts[k] + sizes[k]))
        if sizes[k] < min_rows and not interpolate:  # interpolation may add the missing times' rows
            short[name] = f"{sizes[k]} rows is too short: a panel model needs at least {min_rows}"
        elif screened is not None and screened.clean[k] and sizes[k] >= min_rows:
            ids.append(name)
            series.append(Series(screened.values[rows], None, screened.index[rows] if screened.index is not None
                                 else pd.RangeIndex(int(sizes[k]))))
        else:
            try:
                one = prepare_series(frame.iloc[order[rows]].reset_index(drop=True), config, time_column,
                                     interpolate, min_rows=min_rows)
            except DataError as exc:
                short[name] = str(exc)
                continue
            ids.append(name)
            series.append(one)
    return Panel(ids, series, short)


@dataclass
class _Screened:
    values: np.ndarray  # (rows, D) float32 in series order: targets, covariates, calendar
    index: pd.Index | None  # the rows' times (None: no time column, each series counts from 0)
    clean: np.ndarray  # per series: nothing for prepare_series to refuse or fill


def _screen(rows: pd.DataFrame, codes: np.ndarray, count: int, config: ModelConfig,
            time_column: str | None) -> _Screened | None:
    """prepare_series' checks on whole columns of rows sorted by series (codes: each row's series). None
    when a column cannot be read whole (an unknown column, text that is not times): every series then
    goes through prepare_series."""
    config = replace(config, frequency=normalize_frequency(config.frequency))
    data_columns = [c for c in config.features if c not in config.fixed_columns]
    if any(c not in rows.columns for c in [*data_columns, *([time_column] if time_column else [])]):
        return None
    bad = np.zeros(len(rows), bool)  # rows prepare_series would refuse or change
    columns = []
    for column in data_columns:
        numbers = pd.to_numeric(rows[column], errors="coerce").to_numpy(np.float64)
        with np.errstate(invalid="ignore"):
            bad |= ~(np.abs(numbers) <= VALUE_LIMIT)  # missing, not a number, inf or too big
        columns.append(numbers)
    values = np.stack(columns, axis=1).astype(np.float32) if columns else np.zeros((len(rows), 0), np.float32)
    index = None
    if time_column:
        index = _times(rows[time_column], config.frequency)
        if index is None:
            return None
        same = codes[1:] == codes[:-1]  # consecutive rows of one series
        bad[1:] |= same & ~_steps_ok(index, config.frequency)
        if config.frequency and config.frequency.upper().startswith("B") and isinstance(index, pd.DatetimeIndex):
            bad |= np.asarray(index.day_of_week) >= 5  # trading days: weekdays only
    if config.calendar_columns:
        if not isinstance(index, pd.DatetimeIndex):
            return None
        values = np.concatenate([values, calendar_inputs(index, config)], axis=1)
    # With interpolate, a gap or a missing value is a bad row too: prepare_series fills those series.
    clean = np.bincount(codes, weights=bad.astype(np.float64), minlength=count) == 0
    return _Screened(values, index, clean)


def _times(column: pd.Series, frequency: str | None) -> pd.Index | None:
    """The time column read whole as prepare_series reads one series' (None: text that is not times)."""
    try:
        index: pd.Index = pd.Index(column.to_numpy()) if pd.api.types.is_numeric_dtype(column) else \
            parse_timestamps(pd.Index(column), str(column.name), frequency)
    except DataError:
        return None
    return index


def _steps_ok(index: pd.Index, frequency: str | None) -> np.ndarray:
    """Per pair of consecutive rows: the second comes after the first and, with a frequency, one step
    later (business days: any later weekday), as check_timestamps requires of one series."""
    later: np.ndarray = np.asarray(index[1:]) > np.asarray(index[:-1])
    if frequency is None or not isinstance(index, pd.DatetimeIndex):
        return later
    if frequency.upper().startswith("B"):  # holidays may be missing: any later weekday (checked by _screen)
        return later
    expected = index[:-1] + pd.tseries.frequencies.to_offset(frequency)
    on_step: np.ndarray = later & (np.asarray(index[1:]) == np.asarray(expected))
    return on_step


def pad_window(values: np.ndarray, input_size: int) -> np.ndarray:
    """(n, D) -> (input_size, D + 1): the last input_size rows, left-padded with the first row where n is
    shorter, and the OBSERVED column (1 on the series' rows, 0 on the padding)."""
    values = np.asarray(values, np.float32)
    tail = values[-input_size:]
    pad = input_size - len(tail)
    observed = np.ones((input_size, 1), np.float32)
    if pad:
        tail = np.concatenate([np.repeat(tail[:1], pad, axis=0), tail])
        observed[:pad] = 0.0
    return np.concatenate([tail, observed], axis=1)


def padded_index(index: pd.Index, input_size: int, frequency: str | None) -> pd.Index:
    """The last input_size timestamps (or sample numbers), extended back by the frequency where the
    series is shorter: the times the padding stands at, which the calendar's inputs are read from."""
    tail = index[-input_size:]
    pad = input_size - len(tail)
    if not pad:
        return tail
    if isinstance(tail, pd.DatetimeIndex):
        freq = normalize_frequency(frequency) or (tail[-1] - tail[-2] if len(tail) > 1 else pd.Timedelta(days=1))
        before = pd.date_range(end=tail[0], periods=pad + 1, freq=freq)[:-1]
        return before.append(tail)
    first = int(tail[0]) if len(tail) else 0
    return pd.Index(np.arange(first - pad, first)).append(pd.Index(tail))


def window(values: np.ndarray, index: pd.Index, config: ModelConfig) -> np.ndarray:
    """A panel model's network input for one series: (n, D) rows of targets and covariates (n >=
    MIN_POINTS) -> (input_size, features), padded, observed flag and calendar inputs appended."""
    if len(values) < MIN_POINTS:
        raise DataError(f"{len(values)} points; a panel model needs at least {MIN_POINTS}")
    padded = pad_window(values, config.input_size)
    if config.calendar_columns:
        times = padded_index(index, config.input_size, config.frequency)
        padded = np.concatenate([padded, calendar_inputs(times, config)], axis=1)
    return padded

