"""Training on a panel: one global model on every series' windows, each series split as the competitions do.

The series are laid end to end in one array, each after input_size - MIN_POINTS rows of padding (its
first row repeated, the observed flag 0), so that every later step (choice, race, calibration) reads
windows by their start row exactly as it does for one series; a window that would straddle two series
is in no part. Each series' test part is its last horizon points, its validation part the horizon
before, its calibration part the horizon before that (where the series is long enough), its training
windows everything earlier. MASE divides each window by its own series' in-sample seasonal naive
error, so every choice weighs the series alike, whatever their level.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from model import calendar, metrics
from model.calibrate import Calibration, training_spread
from model.config import ModelConfig, TrainConfig
from model.fit import for_window
from model.intervals import FEW_WINDOWS, bands
from model.panel import MIN_POINTS, Panel, pad_window, padded_index
from model.predictor import Predictor, base_lag
from model.race import val_mase
from model.resolve import MAX_VAL_WINDOWS, Block, Resolved, evenly
from model.season import season_from_frequency
from model.windows import DataError, Series, Split, calendar_inputs, windows_view

# Validation windows scored each epoch: one per series, at most this many (evenly over the series).
MAX_PANEL_VAL = 4 * MAX_VAL_WINDOWS
# Choice blocks before the validation part, as for one series (model/resolve.py CHOICE_BLOCKS).
PANEL_BLOCKS = 3
# Training windows the guard's reference is read from (evenly over them), so a panel of millions of
# windows costs seconds here.
SPREAD_WINDOWS = 20_000


def training_min_rows(config: ModelConfig) -> int:
    """The fewest rows a series needs to train on: a test and a validation horizon after MIN_POINTS."""
    return 2 * config.horizon + MIN_POINTS


@dataclass(frozen=True)
class Layout:
    """Where each series lies in the joined array, and its parts' window starts."""

    first: np.ndarray  # (S,) the row of each series' first own point
    end: np.ndarray  # (S,) one past its last point
    test: np.ndarray  # (S,) window starts: each series' last horizon
    val: np.ndarray  # (S,)
    calibration: np.ndarray  # (<= S,) the series long enough for one
    train: np.ndarray  # every training window start
    scale: np.ndarray  # (S,) each series' MASE scale


def lay_out(panel: Panel, config: ModelConfig, train_config: TrainConfig) -> tuple[Series, Layout]:
    """The joined series (targets, covariates, observed flag) and each series' parts."""
    length, horizon = config.input_size, config.horizon
    pad = max(length - MIN_POINTS, 0)
    blocks, indexes = [], []
    first, end, scale, cal, train = [], [], [], [], []
    row = 0
    m = config.season_length or 1
    with_cal = train_config.calibration_fraction > 0
    calendar_count = len(config.calendar_columns)
    for one in panel.series:
        n = len(one.values)
        own_columns = one.values[:, : one.values.shape[1] - calendar_count]  # the calendar comes after the flag
        padded = pad_window(own_columns, n + pad)  # (pad + n, D + 1)
        times = padded_index(one.index, n + pad, config.frequency)
        if calendar_count:
            padded = np.concatenate([padded, calendar_inputs(times, config)], axis=1)
        blocks.append(padded)
        indexes.append(times)
        own, stop = row + pad, row + pad + n
        first.append(own)
        end.append(stop)
        seen = one.values[: n - horizon, 0]  # the points before the test part
        s = metrics.naive_scale(seen[:, None], m)[0] if len(seen) > 1 else 0.0
        scale.append(s if np.isfinite(s) and s > 0 else 1.0)
        held = 2 * horizon
        if with_cal and n >= 4 * horizon + MIN_POINTS:  # a calibration horizon and a training window left
            cal.append(stop - length - 3 * horizon)
            held = 3 * horizon
        last = stop - held - length - horizon  # the last training window's start
        train.append(np.arange(row, last + 1)[:: train_config.stride])
        row = stop
    values = np.concatenate(blocks)
    index = indexes[0].append(indexes[1:]) if len(indexes) > 1 else indexes[0]
    stops = np.asarray(end)
    layout = Layout(np.asarray(first), stops, stops - length - horizon, stops - length - 2 * horizon,
                    np.asarray(cal, dtype=np.int64), np.concatenate(train).astype(np.int64), np.asarray(scale))
    return Series(values=values, labels=None, index=index), layout


def resolve_panel(panel: Panel, config: ModelConfig, train_config: TrainConfig) -> tuple[Resolved, Layout]:
    """Resolved (model/resolve.py) for a panel: the joined windows, the parts, the per-window MASE scale."""
    source = "given"
    if config.season_length is None:  # detection on joined series would read the seams: the frequency's
        config, source = replace(config, season_length=season_from_frequency(config.frequency) or 1), "frequency"
    offered = config.calendar == "auto" and _year_offered(panel, config)
    if config.calendar == "auto":
        config = replace(config, calendar="none")
    series, layout = lay_out(panel, config, train_config)
    if not len(layout.train):
        raise DataError(f"no series of the panel is long enough for a training window: input needs "
                        f"{MIN_POINTS} points, then horizon {config.horizon} for training, validation and test")
    x, y = windows_view(series.values, config.input_size, config.horizon)
    row_scale = np.ones(len(x))
    pad = max(config.input_size - MIN_POINTS, 0)
    for lo, hi, s in zip(layout.first, layout.end, layout.scale, strict=True):
        row_scale[lo - pad: hi - config.input_size - config.horizon + 1] = s  # the series' window starts
    rows = len(series.values)
    split = Split(train=slice(0, 0), val=slice(0, 0), calibration=slice(0, 0), test=slice(0, 0), train_rows=rows)
    val_rows = layout.val[evenly(slice(0, len(layout.val)), MAX_PANEL_VAL)]
    data = Resolved(config=config, series=series, split=split, x=x, y=y[:, :, :1], train_rows=layout.train,
                    val_rows=val_rows, blocks=panel_blocks(layout, config), mase_scale=np.ones(1),
                    budget=for_window(train_config, config.input_size), season_source=source,
                    calendar_offered=offered, row_scale=row_scale)
    return data, layout


def _year_offered(panel: Panel, config: ModelConfig) -> bool:
    """The year is tried as for one series (model/calendar.py offered), judged on the longest series."""
    longest = max(panel.series, key=lambda s: len(s.values))
    return calendar.offered(longest.index, len(longest.values) - 2 * config.horizon, config.frequency,
                            config.season_length)


def panel_blocks(layout: Layout, config: ModelConfig) -> list[Block]:
    """Choice blocks: every series' window k horizons before its validation window (k = PANEL_BLOCKS..1),
    scored beside a ridge fitted on the training windows that share no row with any of them; a block
    needs FEW_WINDOWS series."""
    span = config.input_size + config.horizon
    blocks = []
    for k in range(PANEL_BLOCKS, 0, -1):
        rows = layout.val - k * config.horizon
        rows = rows[rows >= layout.first - config.input_size + MIN_POINTS]
        if len(rows) < FEW_WINDOWS:
            continue
        covered = np.zeros(int(layout.end.max()) + span + 1, np.int64)
        np.add.at(covered, rows, 1)
        np.add.at(covered, rows + span, -1)
        inside = np.concatenate([[0], np.cumsum(np.cumsum(covered) > 0)])  # rows covered before each row
        fit = layout.train[inside[layout.train + span] == inside[layout.train]]
        if len(fit) >= len(rows):
            blocks.append((fit, rows[evenly(slice(0, len(rows)), MAX_PANEL_VAL)]))
    return blocks


def calibrate_panel(predictor: Predictor, data: Resolved, layout: Layout) -> Calibration:
    """The guard's reference and split-conformal widths from the calibration windows (the validation
    windows where fewer than FEW_WINDOWS series have one). No refit: the served model is the one scored."""
    predictor.spread = training_spread_rows(predictor, data)
    score = val_mase(predictor, data)
    if not np.isfinite(score):
        raise DataError("training gave non-finite forecasts on the validation part: rescale the data")
    rows = layout.calibration if len(layout.calibration) >= FEW_WINDOWS else layout.val
    forecast, unit = predictor.forecast_array(data.x[rows])
    made = bands(np.asarray((data.y[rows] - forecast) / unit[:, None, :]))
    if rows is layout.val:
        made = replace(made, note=f"calibrated on the validation windows: {len(layout.calibration)} series are "
                       f"long enough for a calibration window (fewer than {FEW_WINDOWS})")
    predictor.quantiles = made.quantiles
    lag = predictor.interval_lag = base_lag(predictor.config)
    return Calibration(score, False, 0, lag, predictor.exponent, 1.0, made)


def training_spread_rows(predictor: Predictor, data: Resolved) -> list[float]:
    """training_spread over the training windows (evenly, at most SPREAD_WINDOWS of them)."""
    rows = data.train_rows[evenly(slice(0, len(data.train_rows)), SPREAD_WINDOWS)]
    return training_spread(predictor, np.asarray(data.x[rows]), slice(0, len(rows)))
