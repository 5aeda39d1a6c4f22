"""Training's first step: the data, its windows and parts, and the config with "auto" season and calendar resolved."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from model import calendar, metrics
from model.config import OBSERVED, ModelConfig, TrainConfig
from model.fit import for_window
from model.scaling import fit_scaler
from model.season import resolve_season, season_from_frequency
from model.windows import Series, Split, calendar_inputs, make_windows, windows_view

# Validation windows scored each epoch (evenly spaced over the part) and training windows the ridge
# sees: enough for a stable choice, bounded so a 100,000-point series costs seconds, not minutes.
MAX_VAL_WINDOWS = 1024
MAX_RIDGE_WINDOWS = 20_000
# Blocks the starts are scored on: the validation part and up to three blocks of its length just
# before it, in the training part (model/choice.py says why; docs/experiments.md T3).
CHOICE_BLOCKS = 4

# Why "auto" did not try the year (model/calendar.py offered).
NOT_OFFERED = ("auto: not tried (no timestamps, a training part under two years, or a season of a year "
               "or longer already)")

Block = tuple[np.ndarray, np.ndarray]  # (rows a ridge is fitted on, rows it is scored on)


def evenly(part: slice, limit: int, stride: int = 1) -> np.ndarray:
    """Window positions of a part, every stride-th, at most limit of them evenly spaced."""
    rows = np.arange(part.start, part.stop)[::stride]
    if len(rows) > limit:
        rows = rows[np.linspace(0, len(rows) - 1, limit).round().astype(int)]
    return rows


@dataclass(frozen=True, eq=False)
class Resolved:
    """What every later step reads: the series as the network sees it, its windows and parts."""

    config: ModelConfig  # season resolved; calendar "none" until the year wins (model/calendar.py)
    series: Series
    split: Split
    x: np.ndarray  # (N, L, F) every window's inputs
    y: np.ndarray  # (N, H, T) the targets after each window
    train_rows: np.ndarray  # training window starts, every stride-th
    val_rows: np.ndarray  # validation windows scored, at most MAX_VAL_WINDOWS
    blocks: list[Block]  # the choice blocks before the validation part, oldest first
    mase_scale: np.ndarray  # (T,) in-sample naive error on the training part (1 where it is 0)
    budget: TrainConfig  # the run's steps for this window length (fit.for_window)
    season_source: str  # "given", "frequency" or "detected"
    calendar_offered: bool  # "auto" and the training part spans two years: the year is tried
    # A panel's MASE scale per window (N,): its own series' in-sample seasonal naive error (model/panel_train.py).
    row_scale: np.ndarray | None = None

    def scale(self, rows: np.ndarray) -> np.ndarray:
        """MASE's denominator for the windows at rows: (T,) for one series, (len(rows), 1, 1) for a panel."""
        return self.mase_scale if self.row_scale is None else self.row_scale[rows][:, None, None]

    def scaler(self, kind: str) -> dict[str, Any]:
        """A scaler of this kind fitted on the training part, the fixed columns (observed flag, calendar) unscaled."""
        config = self.config
        observed = config.features.index(OBSERVED) if config.id_column else None
        return fit_scaler(self.train_values, kind, len(config.fixed_columns), observed)

    @property
    def train_values(self) -> np.ndarray:
        return self.series.values[: self.split.train_rows]

    @property
    def n_targets(self) -> int:
        return len(self.config.targets)

    def with_year(self) -> Resolved:
        """The same data with the time of year's input columns appended (calendar "year")."""
        year, dated = with_year(self.config, self.series)
        x = windows_view(dated.values, year.input_size, year.horizon)[0] if year.id_column else \
            make_windows(dated.values, year.input_size, year.horizon)[0]
        return replace(self, config=year, series=dated, x=x, calendar_offered=False)


def with_year(config: ModelConfig, series: Series) -> tuple[ModelConfig, Series]:
    """The config and series with the year's input columns appended."""
    year = replace(config, calendar="year")
    return year, replace(series, values=np.concatenate([series.values, calendar_inputs(series.index, year)], axis=1))


def year_offered(config: ModelConfig, series: Series, split: Split) -> bool:
    """Whether "auto" tries the time of year (model/calendar.py)."""
    return config.calendar == "auto" and calendar.offered(series.index, split.train_rows, config.frequency,
                                                          config.season_length)


def resolve(series: Series, config: ModelConfig, split: Split, train_config: TrainConfig) -> Resolved:
    """The season and the calendar resolved, the windows made, the parts and choice blocks picked."""
    train_values = series.values[: split.train_rows]
    config, season_source = resolve_config_season(config, train_values)
    offered = year_offered(config, series, split)
    if config.calendar == "auto":
        config = replace(config, calendar="none")
    n = len(config.targets)
    x, y = make_windows(series.values, config.input_size, config.horizon)
    mase_scale = metrics.naive_scale(train_values[:, :n])
    train_rows = np.arange(split.train.start, split.train.stop)[:: train_config.stride]
    return Resolved(
        config=config, series=series, split=split, x=x, y=y[:, :, :n], train_rows=train_rows,
        val_rows=evenly(split.val, MAX_VAL_WINDOWS),
        blocks=choice_blocks(split, train_rows, config.input_size + config.horizon),
        mase_scale=np.where(mase_scale > 0, mase_scale, 1.0),
        # The run's steps: fewer for a window longer than fit.STEP_WINDOW, so the budget bounds the time.
        budget=for_window(train_config, config.input_size), season_source=season_source, calendar_offered=offered)


def resolve_config_season(config: ModelConfig, train_values: np.ndarray) -> tuple[ModelConfig, str]:
    """The config with its season length, and where that came from."""
    if config.season_length is not None:
        return config, "given"
    from_frequency = season_from_frequency(config.frequency)
    season = resolve_season(None, config.frequency, train_values[:, 0], len(train_values) // 3)
    return replace(config, season_length=season), "frequency" if from_frequency is not None else "detected"


def choice_blocks(split: Split, train_rows: np.ndarray, window: int) -> list[Block]:
    """(fit rows, score rows) of the blocks before the validation part, oldest first; window =
    input_size + horizon, the rows a window spans. A block's ridge is fitted on the training windows
    that share no row with it, before and after it (blocked cross-validation, Bergmeir, Hyndman and
    Koo 2018), and a block needs its own length of windows to fit on."""
    length = split.val.stop - split.val.start
    blocks = []
    for k in range(CHOICE_BLOCKS - 1, 0, -1):
        first = split.val.start - k * length
        last = first + length - 1  # the block's last window start
        fit = train_rows[(train_rows + window <= first) | (train_rows >= last + window)]  # no shared row
        if first >= 0 and len(fit) >= length:
            blocks.append((fit, evenly(slice(first, last + 1), MAX_VAL_WINDOWS)))
    return blocks
