"""Forecast a whole long-format file of many series with a panel model, streaming in bounded memory.

Rows arrive in chunks (model/panel_files.py: Parquet batches, CSV chunks). The rows of one series must be
contiguous: a series cut by a chunk boundary is carried into the next chunk, keeping only the rows its
window reads. Each chunk is checked in bulk (NumPy over all its rows); a series the bulk check flags
gets its message from model/windows.py's own checks. Windows are built as model/panel.py's window()
builds them, forecast a few thousand series at a time and appended to the output in NeuralForecast's
columns (model/panel_files.py), so memory follows the chunk and batch sizes, never the number of series.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.artifact import Manifest
from model.config import ModelConfig
from model.panel import MIN_POINTS, check_panel_config, window
from model.panel_files import Chunk, Columns, Output, find_columns, read_chunks, table_format
from model.predictor import INTERVAL_LEVELS, Forecasts, Predictor
from model.windows import DataError, calendar_inputs, check_timestamps, future_times, normalize_frequency

LEVELS = (80, 95)  # NeuralForecast's usual pair; any of INTERVAL_LEVELS may be asked for
BATCH_SERIES = 4096  # series per predictor.predict call: windows of a few MB, many forward chunks each
CHUNK_ROWS = 250_000  # rows read at once
MAX_REPORTED = 10  # skipped series named in the summary (all are counted)
Predict = Callable[[np.ndarray, tuple[int, ...]], Forecasts]  # (S, L, F) windows, levels -> forecasts


@dataclass
class Summary:
    """What a file's forecast did: series forecast, rows read, and the series skipped, with why."""

    series: int = 0
    rows: int = 0
    skipped: int = 0
    reasons: dict[str, str] = field(default_factory=dict)  # the first MAX_REPORTED skipped ids -> why
    seconds: float = 0.0

    def skip(self, key: Any, why: str) -> None:
        self.skipped += 1
        if len(self.reasons) < MAX_REPORTED:
            self.reasons[str(key)] = why

    @property
    def forecasts_per_second(self) -> float:
        return self.series / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        text = (f"{self.series:,} series forecast from {self.rows:,} rows in {self.seconds:.2f} s "
                f"({self.forecasts_per_second:,.0f} forecasts/s); {self.skipped:,} skipped")
        shown = "; ".join(f"{key}: {why}" for key, why in list(self.reasons.items())[:3])
        return text + (f" ({shown}{'; ...' if self.skipped > 3 else ''})" if shown else "")


def trained_time_column(manifest: Manifest) -> str | None:
    """The time column a panel model was trained with (its manifest's panel record), if any."""
    return (manifest.panel or {}).get("time_column")


def check_levels(levels: tuple[int, ...], available: list[int] = INTERVAL_LEVELS) -> tuple[int, ...]:
    """The levels asked for, sorted, if the model stores their widths (INTERVAL_LEVELS)."""
    bad = [level for level in levels if level not in available]
    if bad:
        raise DataError(f"levels {bad} not available; choose from {available}")
    return tuple(sorted(set(levels)))


def forecast_file(predictor: Predictor, source: Path, output: Path, name: str, levels: tuple[int, ...] = LEVELS,
                  time_column: str | None = None, output_format: str | None = None, chunk_rows: int = CHUNK_ROWS,
                  batch_series: int = BATCH_SERIES, predict: Predict | None = None,
                  trained_time: str | None = None) -> Summary:
    """Forecast every series of a long-format CSV or Parquet file (format from the extension) into output
    (CSV or Parquet, from output_format or its extension). A series too short or with a bad value is
    skipped and reported; a file whose rows of one series are not together is a DataError. predict:
    where the windows go (default predictor.predict; the service runs them on its inference thread).
    trained_time: the time column the model was trained with (trained_time_column), read when the file has it."""
    config = predictor.config
    check_panel_config(config)
    levels = check_levels(levels, sorted(predictor.quantiles))
    started = time.perf_counter()
    source_format = table_format(source)
    columns = find_columns(source, source_format, config, time_column, trained_time)
    run = _Run(predict or predictor.predict, config, columns, levels, batch_series,
               Output(output, output_format or table_format(output), name, levels, config.horizon))
    try:
        carry: _Rows | None = None
        for chunk in read_chunks(source, source_format, columns, chunk_rows):
            run.summary.rows += chunk.size
            rows = _checked(chunk, config, carry)
            carry = run.finish(rows, final=False)
        if carry is not None:
            run.finish(carry, final=True)
        run.output.close()
    except BaseException:
        run.output.discard()
        raise
    if not run.summary.rows:
        raise DataError("the file has no rows")
    if not run.summary.series:  # nothing was written, so no file
        reasons = "; ".join(f"{k}: {why}" for k, why in run.summary.reasons.items())
        raise DataError(f"no series could be forecast ({run.summary.skipped} skipped"
                        f"{': ' + reasons if reasons else ''})")
    run.summary.seconds = time.perf_counter() - started
    return run.summary


@dataclass
class _Rows:
    """Consecutive rows of the file, series by series (a carried series first, its tail only)."""

    keys: list[Any]  # series ids in file order
    starts: np.ndarray  # (G,) each series' first row here
    values: np.ndarray  # (n, D) target and covariates, float64
    times: pd.Index | None  # (n,) timestamps or numbers; None without a time column
    lines: np.ndarray  # (n,) each row's line (CSV) or row (Parquet) in the file
    errors: dict[int, str]  # series position -> its first problem
    dropped: int = 0  # rows of the first series read before these (a carried series keeps its tail)

    @property
    def ends(self) -> np.ndarray:
        return np.append(self.starts[1:], len(self.values))


def _checked(chunk: Chunk, config: ModelConfig, carry: _Rows | None) -> _Rows:
    """A chunk's rows after any carried series, every series' timestamps checked across the join."""
    rows = _Rows(chunk.keys, chunk.starts, chunk.values, chunk.times, chunk.lines, dict(chunk.errors))
    if carry is not None:
        rows = _join(carry, rows)
    if rows.times is not None:
        _check_times(rows, normalize_frequency(config.frequency), chunk.where)
    return rows


def _join(carry: _Rows, rows: _Rows) -> _Rows:
    same = bool(rows.keys[0] == carry.keys[0])
    n = len(carry.values)
    keys = carry.keys + rows.keys[1:] if same else carry.keys + rows.keys
    starts = np.concatenate([[0], (rows.starts[1:] if same else rows.starts) + n])
    shift = 0 if same else 1
    errors = {position + shift: why for position, why in rows.errors.items()}
    if 0 in carry.errors:
        errors[0] = carry.errors[0]  # the earlier problem
    times = None if carry.times is None or rows.times is None else carry.times.append(rows.times)
    return _Rows(keys, starts, np.concatenate([carry.values, rows.values]), times,
                 np.concatenate([carry.lines, rows.lines]), errors, carry.dropped)


def _check_times(rows: _Rows, frequency: str | None, where: str) -> None:
    """Flag series whose timestamps repeat, go back or leave the frequency's grid (in bulk), then take
    the message from check_timestamps, which training and the forecast routes use."""
    times = rows.times
    assert times is not None
    inside = np.ones(max(len(times) - 1, 0), bool)
    inside[rows.starts[1:] - 1] = False  # a pair across two series is no step
    earlier, later = times[:-1], times[1:]
    good = np.asarray(later > earlier)
    if frequency is not None and isinstance(earlier, pd.DatetimeIndex) and isinstance(later, pd.DatetimeIndex):
        if frequency.upper().startswith("B"):
            good &= np.asarray(later.day_of_week < 5)
        else:
            good &= np.asarray(later == earlier + pd.tseries.frequencies.to_offset(frequency))
    flagged = np.unique(np.searchsorted(rows.starts, np.flatnonzero(inside & ~good), side="right") - 1)
    ends = rows.ends
    for position in flagged.tolist():
        if position in rows.errors:
            continue
        start, end = rows.starts[position], ends[position]
        try:
            check_timestamps(times[start:end], frequency, first_line=int(rows.lines[start]))
        except DataError as exc:
            rows.errors[position] = str(exc).replace("(line ", f"({where} ")


class _Run:
    """One file's forecast: complete series -> windows -> predictor -> output, a batch at a time."""

    def __init__(self, predict: Predict, config: ModelConfig, columns: Columns, levels: tuple[int, ...],
                 batch_series: int, output: Output) -> None:
        self.predict, self.config, self.columns, self.levels = predict, config, columns, levels
        self.batch_series, self.output = batch_series, output
        self.summary = Summary()
        self.seen = np.zeros(0, np.uint64)  # hashes of the ids already complete: 8 bytes a series
        self.frequency = normalize_frequency(self.config.frequency)

    def finish(self, rows: _Rows, final: bool) -> _Rows | None:
        """Forecast the complete series of rows (all but the last unless final); return the carry."""
        complete = len(rows.keys) if final else len(rows.keys) - 1
        self._check_order(rows, complete)
        counts = (rows.ends - rows.starts)[:complete]
        counts[:1] += rows.dropped
        usable = counts >= MIN_POINTS
        usable[[p for p in rows.errors if p < complete]] = False
        for position in np.flatnonzero(~usable).tolist():
            why = rows.errors.get(position, f"{counts[position]} points; a panel model needs at least {MIN_POINTS}")
            self.summary.skip(rows.keys[position], why)
        forecast = np.flatnonzero(usable)
        for first in range(0, len(forecast), self.batch_series):
            self._forecast(rows, forecast[first : first + self.batch_series])
        return None if final else _tail(rows, self.config.input_size)

    def _check_order(self, rows: _Rows, complete: int) -> None:
        """An id met again after another series is refused: its rows are not together."""
        keys = np.empty(complete, dtype=object)
        keys[:] = rows.keys[:complete]
        # 64-bit hashes, not the ids: a million series cost 8 MB (two ids sharing a hash: ~1e-8 at that size)
        hashes = pd.util.hash_array(keys)
        at = np.searchsorted(self.seen, hashes)
        again = self.seen[np.minimum(at, len(self.seen) - 1)] == hashes if len(self.seen) else np.zeros(complete, bool)
        unique, first = np.unique(hashes, return_index=True)
        if again.any() or len(unique) < len(hashes):
            repeated = np.ones(len(hashes), bool)
            repeated[first] = False
            position = int(np.argmax(again | repeated))
            line = int(rows.lines[rows.starts[position]])
            raise DataError(f"series {rows.keys[position]!r} appears again at {self.columns.where} {line} after "
                            "other series: sort the file by id (the rows of one series must be together)")
        # An insert into the sorted array: one copy per chunk, where a union would sort all of it again.
        self.seen = np.insert(self.seen, np.searchsorted(self.seen, unique), unique)

    def _forecast(self, rows: _Rows, positions: np.ndarray) -> None:
        if not len(positions):
            return
        horizon = self.config.horizon
        windows = _windows(rows, positions, self.config)
        result = self.predict(windows, self.levels)
        finite = np.isfinite(result.mean).all(axis=(1, 2))
        for lower, upper in result.intervals.values():
            finite &= np.isfinite(lower).all(axis=(1, 2)) & np.isfinite(upper).all(axis=(1, 2))
        for position in positions[~finite].tolist():
            self.summary.skip(rows.keys[position], "the model's forecast is not finite for these values (far "
                              "outside what it was trained on)")
        keep = positions[finite]
        if not len(keep):
            return
        keys = [rows.keys[p] for p in keep.tolist()]
        stamps = _future(rows, keep, horizon, self.frequency)
        bands = {level: (lo[finite, :, 0], hi[finite, :, 0]) for level, (lo, hi) in result.intervals.items()}
        self.output.write(keys, stamps, result.mean[finite, :, 0], bands)
        self.summary.series += len(keep)


def _tail(rows: _Rows, keep: int) -> _Rows:
    """The last series of rows, its last keep rows only: what its window and the next step's check read."""
    start = int(rows.starts[-1])
    cut = max(start, len(rows.values) - keep)
    dropped = (rows.dropped if start == 0 else 0) + cut - start
    times = None if rows.times is None else rows.times[cut:]
    errors = {0: rows.errors[len(rows.keys) - 1]} if len(rows.keys) - 1 in rows.errors else {}
    return _Rows(rows.keys[-1:], np.zeros(1, np.int64), rows.values[cut:], times, rows.lines[cut:], errors, dropped)


def _windows(rows: _Rows, positions: np.ndarray, config: ModelConfig) -> np.ndarray:
    """(S, input_size, features) for these series, exactly as panel.window builds them: the last
    input_size rows, left-padded with the first, the observed flag, then the calendar's inputs."""
    length = config.input_size
    starts, ends = rows.starts[positions], rows.ends[positions]
    at = (ends - length)[:, None] + np.arange(length)  # (S, L) each slot's row; before the start: padding
    observed = at >= starts[:, None]
    at = np.maximum(at, starts[:, None])
    out = np.concatenate([rows.values[at].astype(np.float32), observed[:, :, None].astype(np.float32)], axis=2)
    if not config.calendar_columns:
        return out
    times = rows.times if rows.times is not None else pd.RangeIndex(len(rows.values))
    calendar = calendar_inputs(times[at.ravel()], config).reshape(len(positions), length, -1)
    out = np.concatenate([out, calendar], axis=2)
    for i in np.flatnonzero(~observed.all(axis=1)).tolist():  # padded: the padding's times go back by the frequency
        start, end = starts[i], ends[i]
        out[i] = window(rows.values[start:end], times[start:end], config)
    return out


def _future(rows: _Rows, positions: np.ndarray, horizon: int, frequency: str | None) -> np.ndarray | pd.Index:
    """(S * H,) the ds column: the time column's next horizon values, else the steps 1..H."""
    if rows.times is None:
        return np.tile(np.arange(1, horizon + 1), len(positions))
    ends = rows.ends[positions]
    last, before = rows.times[ends - 1], rows.times[ends - 2]
    if isinstance(rows.times, pd.DatetimeIndex):
        try:
            return future_times(pd.DatetimeIndex(last), horizon, frequency, pd.TimedeltaIndex(last - before))
        except (ValueError, OverflowError) as exc:  # pandas: past the last representable date
            raise DataError(f"the future timestamps cannot be computed: {exc}") from exc
    step = np.asarray(last) - np.asarray(before)
    return np.asarray((np.asarray(last)[:, None] + step[:, None] * np.arange(1, horizon + 1)).ravel())
