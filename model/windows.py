"""From a DataFrame to checked arrays, windows and a chronological train/validation/test split."""

from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd
from pandas.tseries.offsets import BaseOffset

from model import calendar
from model.config import ModelConfig

# The largest magnitude accepted anywhere (training, /forecast, /evaluate, /v2): float32 reaches 3.4e38,
# but training squares errors and sums them over millions of values in float32 (1e30 ended as inf).
VALUE_LIMIT = 1e15


class DataError(ValueError):
    """Data the model cannot use; the message says what to change."""


@dataclass
class Series:
    values: np.ndarray  # (T, F) float32, columns in ModelConfig.features order
    labels: np.ndarray | None  # (T,) int64 class indices, classification only
    index: pd.Index  # timestamps or sample numbers
    classes: list[str] | None = None  # class names in label order, classification only


# Aliases pandas renamed (M -> ME in pandas 2.2, removed later): accepted and rewritten.
RENAMED_ALIASES = {"M": "ME", "BM": "BME", "SM": "SME", "Q": "QE", "BQ": "BQE", "Y": "YE", "A": "YE", "BY": "BYE",
                   "BA": "BYE", "H": "h", "BH": "bh", "T": "min", "S": "s", "L": "ms", "U": "us", "N": "ns"}
COMMON_ALIASES = "D (days), B (business days), h (hours), min, s, W (weeks), ME/MS (month end/start), QE/QS, YE/YS"
_ALIAS = re.compile(r"^(\d*)([A-Za-z]+)(-[A-Za-z]+)?$")


def normalize_frequency(frequency: str | None) -> str | None:
    """A pandas offset alias in today's spelling ("M" -> "ME", "H" -> "h"), or a DataError listing the common ones."""
    if frequency is None:
        return None
    text = frequency.strip()
    match = _ALIAS.match(text)
    if match and match.group(2) in RENAMED_ALIASES:
        text = match.group(1) + RENAMED_ALIASES[match.group(2)] + (match.group(3) or "")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a deprecated spelling is refused here, not later
            pd.tseries.frequencies.to_offset(text)
    except (ValueError, TypeError, Warning) as exc:
        raise DataError(f"frequency {frequency!r} is not a pandas offset alias; use one of {COMMON_ALIASES}, "
                        "optionally with a multiple (30min, 2h)") from exc
    return text


def parse_timestamps(values: pd.Index | list[str], column: str, frequency: str | None = None) -> pd.DatetimeIndex:
    """ISO 8601 first (fast, unambiguous), then element by element; a clear error otherwise.

    Offsets that change at daylight saving (-05:00 then -04:00) are one clock: see _mixed_offsets.
    """
    with warnings.catch_warnings():
        # pandas 2 warns (pandas 3 raises) on mixed offsets: handled below
        warnings.filterwarnings("error", message=".*mixed time zones", category=FutureWarning)
        for form in ("ISO8601", "mixed"):
            try:
                return pd.DatetimeIndex(pd.to_datetime(values, format=form))
            except (ValueError, TypeError, OverflowError, FutureWarning) as exc:
                error: Exception = exc
    try:
        utc = pd.to_datetime(values, format="ISO8601", utc=True)
    except (ValueError, TypeError, OverflowError):
        raise DataError(f"column {column!r} does not hold timestamps: {error}") from error
    try:
        return _mixed_offsets(utc, list(values), frequency)
    except ValueError as exc:
        raise DataError(f"column {column!r}: {exc}") from exc


def _is_duration(frequency: str | None) -> bool:
    """Hours, minutes, seconds: a fixed length of time (a day or a month follows the wall clock)."""
    if frequency is None:
        return True
    offset = pd.tseries.frequencies.to_offset(frequency)
    return isinstance(offset, pd.offsets.Tick) and not isinstance(offset, pd.offsets.Day)


def _mixed_offsets(utc: pd.DatetimeIndex, texts: list[str], frequency: str | None) -> pd.DatetimeIndex:
    """Timestamps whose UTC offset changes (daylight saving): in the last one's offset, so the answer's
    future timestamps carry the caller's current offset.

    An hourly series is regular in UTC (local 01:00 repeats each autumn); a daily or monthly one is
    regular on the wall clock (midnight stays midnight), so it keeps its local times.
    """
    if any(not re.search(r"(Z|[+-]\d\d:?\d\d)$", str(t).strip()) for t in texts):
        raise ValueError("some timestamps have a UTC offset and some do not: give every one its offset, or none")
    last = pd.Timestamp(str(texts[-1]).strip()).tz
    if _is_duration(frequency):
        return utc.tz_convert(last)
    wall = [pd.Timestamp(str(t).strip()).tz_localize(None) for t in texts]
    return pd.DatetimeIndex(wall).tz_localize(last)


def check_timestamps(index: pd.Index, frequency: str | None, interpolate: bool = False,
                     first_line: int | None = None) -> None:
    """Refuse duplicate, unordered or (with a frequency) irregular timestamps, naming the first.

    first_line: the file line of the first timestamp (2 under a header), so messages name lines.
    """
    def at(i: int) -> str:
        return f" (line {first_line + i})" if first_line is not None else ""

    duplicated = np.flatnonzero(index.duplicated())
    if len(duplicated):
        i = int(duplicated[0])
        hint = ""
        if isinstance(index, pd.DatetimeIndex) and index.tz is None and index[i] != index[i].normalize():
            hint = ("; local clock times repeat an hour when daylight saving ends: send each timestamp with its UTC "
                    "offset (2024-11-03T01:30:00-04:00, then -05:00) or in UTC")
        raise DataError(f"duplicate timestamp {index[i]}{at(i)}: each time may appear once{hint}")
    if len(index) > 1:
        steps = np.asarray(index[1:]) > np.asarray(index[:-1])
        if not steps.all():
            bad = int(np.argmin(steps)) + 1
            raise DataError(f"timestamp {index[bad]}{at(bad)} comes after {index[bad - 1]}: sort the rows by time")
    if frequency is None or not isinstance(index, pd.DatetimeIndex) or len(index) < 2:
        return
    offset = pd.tseries.frequencies.to_offset(frequency)
    if frequency.upper().startswith("B"):
        # Trading days: weekdays only, holidays may be missing.
        weekend = np.flatnonzero(index.day_of_week >= 5)
        if len(weekend):
            i = int(weekend[0])
            raise DataError(f"irregular timestamp {index[i]}{at(i)}: frequency {frequency} has weekdays only")
        return
    expected = index[:-1] + offset
    off = np.flatnonzero(np.asarray(index[1:]) != np.asarray(expected))
    if len(off):
        i = int(off[0]) + 1
        hint = _anchor_hint(index, offset, frequency) or (
            "interpolation fills only the times missing from a regular grid, and this one is off it: resample the "
            "data to the frequency" if interpolate else "fill or resample the gap, or ask for interpolation")
        raise DataError(f"irregular timestamp {index[i]}{at(i)}: expected {expected[i - 1]} at frequency "
                        f"{frequency}; {hint}")


def future_times(last: pd.DatetimeIndex, horizon: int, frequency: str | None,
                 step: pd.TimedeltaIndex | None = None) -> pd.DatetimeIndex:
    """The horizon timestamps after each of N last ones, series by series: (N * horizon,). At the
    frequency, counted on the wall clock for days and longer as pd.date_range counts them (a daily
    series stays at midnight across daylight saving); without one, by each series' step (its last
    interval: what the service and model/batch.py both use)."""
    ahead = np.arange(1, horizon + 1)
    if frequency is None:
        steps = step if step is not None else pd.TimedeltaIndex(np.zeros(len(last), "m8[ns]"))
        return pd.DatetimeIndex(last.repeat(horizon) + steps.repeat(horizon) * np.tile(ahead, len(last)))
    offset = pd.tseries.frequencies.to_offset(frequency)
    wall = last.tz is not None and not _is_duration(frequency)
    base = last.tz_localize(None) if wall else last.tz_convert(None) if last.tz is not None else last
    # DatetimeIndex + offset is one vectorized call per step ahead; (H, N) -> series-major (N * H,)
    stamps = np.stack([(base + int(k) * offset).as_unit("ns").asi8 for k in ahead], axis=1).ravel()
    future = pd.DatetimeIndex(stamps.view("M8[ns]"))
    if last.tz is None:
        return future
    return future.tz_localize(last.tz) if wall else future.tz_localize("UTC").tz_convert(last.tz)


_START_END = [(pd.offsets.YearEnd, "YS", "is_year_start"), (pd.offsets.QuarterEnd, "QS", "is_quarter_start"),
              (pd.offsets.MonthEnd, "MS", "is_month_start"), (pd.offsets.YearBegin, "YE", "is_year_end"),
              (pd.offsets.QuarterBegin, "QE", "is_quarter_end"), (pd.offsets.MonthBegin, "ME", "is_month_end")]


def _anchor_hint(index: pd.DatetimeIndex, offset: BaseOffset, frequency: str) -> str | None:
    """Dates on each period's start under an end frequency (years as 1700, 1701 under YE), or the reverse."""
    for kind, alias, on in _START_END:
        if isinstance(offset, kind) and np.asarray(getattr(index, on)).all():
            multiple = re.match(r"^\d*", frequency.strip())
            suggested = (multiple.group(0) if multiple else "") + alias
            where = "start" if alias.endswith("S") else "end"
            return f"these dates fall on each period's {where}: use frequency {suggested}"
    return None


def _fill_missing_times(frame: pd.DataFrame, index: pd.DatetimeIndex,
                        frequency: str | None) -> tuple[pd.DataFrame, pd.DatetimeIndex]:
    """Rows for the times a regular series skips, with missing values for interpolation to fill.

    Local-time hourly data skips an hour each spring (Seattle 2010: 02:00 then 04:00 on March 14),
    and loggers drop rows. Only gaps on the frequency's own grid are filled; duplicate, unsorted or
    off-grid times, and trading days (holidays are not gaps), are left for check_timestamps to refuse.
    """
    if frequency is None or frequency.upper().startswith("B") or len(index) < 2:
        return frame, index
    if index.has_duplicates or not index.is_monotonic_increasing:
        return frame, index
    try:
        grid = pd.date_range(index[0], index[-1], freq=frequency)
    except ValueError:
        return frame, index
    positions = grid.get_indexer(index)
    if len(grid) == len(index) or (positions < 0).any():
        return frame, index
    filled = frame.reset_index(drop=True).set_axis(positions).reindex(range(len(grid)))
    return filled, grid


def _numeric_column(frame: pd.DataFrame, column: str, interpolate: bool, lines: np.ndarray) -> np.ndarray:
    """One column as float32; lines: each row's line in the file (header = line 1) for the messages."""
    raw = frame[column]
    numbers = pd.to_numeric(raw, errors="coerce")
    bad = numbers.isna() & raw.notna()
    if bad.any():
        row = int(np.argmax(bad.to_numpy()))
        raise DataError(f"column {column!r} has a non-numeric value {str(raw.iloc[row])!r} at line {lines[row]} "
                        "(header = line 1)")
    numbers = numbers.astype("float64")
    # NaN is missing (below); inf and numbers beyond the limit cannot be trained on.
    huge = (numbers.abs() > VALUE_LIMIT).to_numpy()
    if huge.any():
        row = int(np.argmax(huge))
        raise DataError(f"column {column!r} has {float(numbers.iloc[row]):g} at line {lines[row]} (header = line 1), "
                        f"beyond +-{VALUE_LIMIT:g}, the most training's float32 arithmetic keeps finite (squared "
                        "errors): rescale the column (thousands, millions)")
    if numbers.isna().any():
        row = int(np.argmax(numbers.isna().to_numpy()))
        if not interpolate:
            raise DataError(f"column {column!r} is missing a value at line {lines[row]} (header = line 1): fill it, "
                            "or ask for interpolation")
        numbers = numbers.interpolate(limit_direction="both")
    return numbers.to_numpy(dtype=np.float32)


def prepare_series(
    frame: pd.DataFrame,
    config: ModelConfig,
    time_column: str | None = None,
    interpolate: bool = False,
    min_rows: int | None = None,
) -> Series:
    """Check a frame against the config and return its feature matrix (and labels, and their classes).
    The config is read, never changed: resolved_config gives one with the frequency and classes found."""
    config = replace(config, frequency=normalize_frequency(config.frequency))
    wanted = list(dict.fromkeys(config.targets + config.covariates + ([time_column] if time_column else [])))
    unknown = [c for c in wanted if c not in frame.columns]
    if unknown:
        raise DataError(f"unknown column(s) {unknown}; the data has {list(map(str, frame.columns))}")
    if time_column:
        index: pd.Index = pd.Index(frame[time_column])
        if not pd.api.types.is_numeric_dtype(index):
            try:
                index = parse_timestamps(index, time_column, config.frequency)
            except DataError as exc:  # pandas counts positions from 0; a file's reader counts lines
                raise DataError(re.sub(r"at position (\d+)", lambda m: f"at line {int(m.group(1)) + 2} (header = "
                                       "line 1)", str(exc))) from exc
    else:
        index = frame.index
    lines = np.arange(len(frame)) + 2  # the file's lines: the header is line 1
    if interpolate and config.task == "forecast" and isinstance(index, pd.DatetimeIndex):
        given = index
        frame, index = _fill_missing_times(frame, index, config.frequency)
        if len(index) != len(given):  # added rows have no line (they hold no value to complain about)
            lines = np.full(len(index), -1)
            lines[index.get_indexer(given)] = np.arange(len(given)) + 2
    check_timestamps(index, config.frequency, interpolate, first_line=2)
    needed = config.input_size + config.horizon if min_rows is None else min_rows
    if len(frame) < needed:
        why = f"input_size {config.input_size} + horizon {config.horizon}" if min_rows is None else "a panel model"
        raise DataError(f"{len(frame)} rows is too short: {why} needs at least {needed}")
    data_columns = [c for c in config.features if c not in config.fixed_columns]
    columns = [_numeric_column(frame, c, interpolate, lines) for c in data_columns]
    values = np.stack(columns, axis=1) if columns else np.zeros((len(frame), 0), np.float32)
    if config.calendar_columns:
        values = np.concatenate([values, calendar_inputs(index, config)], axis=1)
    labels, classes = None, None
    if config.task == "classify":
        target = config.targets[0]
        raw = frame[target].astype(str)
        classes = config.classes or sorted(raw.unique())
        lookup = {name: i for i, name in enumerate(classes)}
        unknown_labels = raw[~raw.isin(classes)]
        if len(unknown_labels):
            raise DataError(f"column {target!r} has unknown class {unknown_labels.iloc[0]!r}; known: {classes}")
        labels = raw.map(lookup).to_numpy(dtype=np.int64)
    return Series(values=values, labels=labels, index=index, classes=classes)


def resolved_config(config: ModelConfig, series: Series) -> ModelConfig:
    """The config with the frequency in today's spelling and the classes the series was read with."""
    return replace(config, frequency=normalize_frequency(config.frequency),
                   classes=list(series.classes) if series.classes is not None else config.classes)


def calendar_inputs(index: pd.Index, config: ModelConfig) -> np.ndarray:
    """The calendar's input columns (model/calendar.py) for these timestamps, or a DataError."""
    if not isinstance(index, pd.DatetimeIndex):
        raise DataError(f"calendar {config.calendar!r} reads the time of year: give timestamps (a time column)")
    return calendar.values(index, config.calendar)


def make_windows(values: np.ndarray, input_size: int, horizon: int, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """All windows of a (T, F) array: inputs (N, input_size, F) and the following (N, horizon, F).

    Window i reads rows [i*stride, i*stride + input_size) and is followed by the next horizon rows.
    """
    total = input_size + horizon
    if len(values) < total:
        raise DataError(f"{len(values)} points is too short: input_size {input_size} + horizon {horizon} = {total}")
    # (T, F) -> (T - total + 1, F, total) -> (N, total, F), a view until the copy below
    view = np.lib.stride_tricks.sliding_window_view(values, total, axis=0)[::stride].transpose(0, 2, 1)
    return np.array(view[:, :input_size]), np.array(view[:, input_size:])  # copies: the view is read-only


def windows_view(values: np.ndarray, input_size: int, horizon: int) -> tuple[np.ndarray, np.ndarray]:
    """make_windows as read-only views: no copy, for a panel whose windows outnumber what memory holds
    twice; index them (x[rows]) to get arrays."""
    view = np.lib.stride_tricks.sliding_window_view(values, input_size + horizon, axis=0).transpose(0, 2, 1)
    return view[:, :input_size], view[:, input_size:]


@dataclass
class Split:
    train: slice  # window start positions (row numbers of each window's first input)
    val: slice  # early stopping and the choices made on validation
    calibration: slice  # interval widths only: nothing else has seen it (empty when its fraction is 0)
    test: slice
    train_rows: int  # rows the scaler may see: the training part only


def split_windows(n_rows: int, input_size: int, horizon: int, val_fraction: float, test_fraction: float,
                  calibration_fraction: float = 0.0) -> Split:
    """Chronological split: a window belongs to the part that holds all of its horizon."""
    n_test = int(round(n_rows * test_fraction))
    n_cal = int(round(n_rows * calibration_fraction))
    n_val = int(round(n_rows * val_fraction))
    train_rows = n_rows - n_test - n_cal - n_val
    # A part of rows [first, end) holds the windows whose horizon lies inside it: a window starting
    # at s forecasts rows [s + input_size, s + input_size + horizon).
    bounds = np.cumsum([0, train_rows, n_val, n_cal, n_test])
    names = ["training", "validation", "calibration", "test"]
    slices = []
    for name, first, end in zip(names, bounds[:-1], bounds[1:], strict=True):
        lo = max(int(first) - input_size, 0)
        hi = int(end) - input_size - horizon  # last start whose horizon ends inside the part
        slices.append(slice(lo, max(hi + 1, lo)))
        required = not (name == "test" and test_fraction == 0) and not (name == "calibration" and n_cal == 0)
        if required and hi < lo:
            smallest = min(f for f in (val_fraction, test_fraction, calibration_fraction) if f > 0) or 1
            need = int(np.ceil((input_size + horizon) / max(smallest, 0.01)))
            raise DataError(
                f"{n_rows} rows leave no {name} window for input_size {input_size} + horizon {horizon}; "
                f"give about {need} rows or more, or a smaller input_size"
            )
    return Split(train=slices[0], val=slices[1], calibration=slices[2], test=slices[3], train_rows=train_rows)


def read_csv_text(text: str) -> pd.DataFrame:
    """A CSV with a header row, its delimiter (comma, semicolon, tab or pipe) read from that row.

    pandas' sniffer (sep=None) guesses from any character: a one-column file of decimals came out
    split on "." or "0". A header with none of the four is one column.
    """
    return pd.read_csv(io.StringIO(text), sep=csv_separator(text.lstrip("\ufeff").split("\n", 1)[0]))


def csv_separator(header: str) -> str:
    """The delimiter of a CSV's header row: the most frequent of comma, semicolon, tab and pipe (comma
    when none): what read_csv_text and the streaming reader of model/batch.py split on."""
    counts = {sep: header.count(sep) for sep in (",", ";", "\t", "|")}
    return max(counts, key=lambda s: counts[s]) if any(counts.values()) else ","
