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
from model.windows import DataError, Series, calendar_inputs, normalize_frequency, prepare_series

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
    than min_rows rows, or a value it cannot use, is reported in short, never silently dropped."""
    check_panel_config(config)
    assert config.id_column is not None
    if config.id_column not in frame.columns:
        raise DataError(f"unknown id_column {config.id_column!r}; the data has {list(map(str, frame.columns))}")
    if frame[config.id_column].isna().any():
        line = int(np.argmax(frame[config.id_column].isna().to_numpy())) + 2
        raise DataError(f"column {config.id_column!r} is missing a series id at line {line} (header = line 1)")
    ids, series, short = [], [], {}
    for key, rows in frame.groupby(config.id_column, sort=False):
        name = str(key)
        try:
            one = prepare_series(rows.reset_index(drop=True), config, time_column, interpolate, min_rows=min_rows)
        except DataError as exc:
            short[name] = str(exc)
            continue
        ids.append(name)
        series.append(one)
    return Panel(ids, series, short)


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


def training_min_rows(config: ModelConfig) -> int:
    """The fewest rows a series needs to train a panel model: the test part (its last horizon points), the
    validation part (the horizon before it) and 2 points of history to forecast them from."""
    return 2 * config.horizon + MIN_POINTS
