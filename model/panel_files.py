"""Long-format files of many series, read in chunks and written in NeuralForecast's columns.

Parquet is read batch by batch with pyarrow, CSV chunk by chunk with pandas; each chunk becomes one
series boundary array, the numbers (NaN where a value is missing or bad) and the timestamps, with
each bad row's problem named per series (model/batch.py skips those series). Forecasts are appended
through pyarrow's ParquetWriter or CSVWriter to a hidden sibling file, renamed into place when done.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from model.config import ModelConfig
from model.windows import VALUE_LIMIT, DataError, csv_separator

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet"}
# Nixtla's long-format names, taken where the file lacks the model's own (statsforecast, NeuralForecast).
NIXTLA_ID, NIXTLA_TIME, NIXTLA_TARGET = "unique_id", "ds", "y"


def table_format(path: Path) -> str:
    """csv or parquet, from the file name's extension."""
    found = FORMATS.get(Path(path).suffix.lower())
    if found is None:
        raise DataError(f"cannot tell the format of {Path(path).name!r}: name it .csv, .parquet or .pq")
    return found


@dataclass
class Columns:
    """Where a file holds what the model reads."""

    id: str
    values: list[str]  # the target, then the covariates (model/panel.py's D columns)
    time: str | None
    separator: str = ","  # CSV only
    where: str = "line"  # how a position in the file is named: CSV lines (header = line 1), Parquet rows

    @property
    def wanted(self) -> list[str]:
        return list(dict.fromkeys([self.id, *self.values, *([self.time] if self.time else [])]))


def find_columns(source: Path, fmt: str, config: ModelConfig, time_column: str | None,
                 trained_time: str | None = None) -> Columns:
    """The model's id, target and covariate columns, or Nixtla's unique_id, y; the time column asked for,
    else the one the model was trained with (trained_time) or ds, where the file has it."""
    separator = ","
    try:
        if fmt == "parquet":
            names = list(pq.read_schema(source).names)
        else:
            with open(source, encoding="utf-8-sig") as text:
                separator = csv_separator(text.readline())
            names = [str(n) for n in pd.read_csv(source, sep=separator, nrows=0, encoding="utf-8-sig").columns]
    except FileNotFoundError as exc:
        raise DataError(f"no such file: {source}") from exc
    except (OSError, UnicodeDecodeError, pa.ArrowInvalid, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read the file as {fmt}: {exc}") from exc
    assert config.id_column is not None

    def pick(own: str, nixtla: str, what: str) -> str:
        if own in names:
            return own
        if nixtla in names:
            return nixtla
        raise DataError(f"no {what} column: the file has neither {own!r} nor {nixtla!r} (it has {names})")

    missing = [c for c in config.covariates if c not in names]
    if missing:
        raise DataError(f"the model reads covariate(s) {missing}; the file has {names}")
    if time_column is not None and time_column not in names:
        raise DataError(f"unknown time column {time_column!r}; the file has {names}")
    time = time_column or next((c for c in (trained_time, NIXTLA_TIME) if c is not None and c in names), None)
    if config.calendar_columns and time is None:
        raise DataError(f"calendar {config.calendar!r} reads the time of year: the file needs a time column")
    return Columns(pick(config.id_column, NIXTLA_ID, "id"), [pick(config.targets[0], NIXTLA_TARGET, "target"),
                   *config.covariates], time, separator, "row" if fmt == "parquet" else "line")


@dataclass
class Chunk:
    """Consecutive rows of the file, split where the series id changes."""

    keys: list[Any]  # each series' id
    starts: np.ndarray  # (G,) each series' first row in the chunk
    values: np.ndarray  # (n, D) float64
    times: pd.Index | None  # (n,) DatetimeIndex, or numbers; None without a time column
    lines: np.ndarray  # (n,) each row's line (CSV) or row (Parquet)
    errors: dict[int, str]  # series position -> its first bad row, in words
    where: str

    @property
    def size(self) -> int:
        return len(self.values)


def read_chunks(source: Path, fmt: str, columns: Columns, chunk_rows: int) -> Iterator[Chunk]:
    read = 0
    try:
        if fmt == "parquet":
            kind = pq.read_schema(source).field(columns.id).type
            # Text ids as dictionaries: each row's id is a number into its row group's ids, compared as such
            # (decoding 6,000,000 id strings took half of the reading).
            texts = [columns.id] if pa.types.is_string(kind) or pa.types.is_large_string(kind) else None
            parquet = pq.ParquetFile(source, read_dictionary=texts)
            for batch in parquet.iter_batches(batch_size=chunk_rows, columns=columns.wanted):
                if batch.num_rows:
                    yield _chunk({c: batch.column(c) for c in columns.wanted}, columns, read + 1)
                read += batch.num_rows
        else:
            frames = pd.read_csv(source, sep=columns.separator, usecols=columns.wanted, dtype={columns.id: str},
                                 chunksize=chunk_rows, encoding="utf-8-sig")
            for frame in frames:
                if len(frame):  # a header alone reads as one empty chunk
                    yield _chunk({c: frame[c] for c in columns.wanted}, columns, read + 2)
                read += len(frame)
    except (OSError, UnicodeDecodeError, pa.ArrowInvalid, pd.errors.ParserError, ValueError) as exc:
        if isinstance(exc, DataError):
            raise
        raise DataError(f"cannot read the file as {fmt}: {exc}") from exc


def _chunk(raw: dict[str, Any], columns: Columns, first: int) -> Chunk:
    n = len(raw[columns.id])
    lines = np.arange(first, first + n)
    keys, starts = _runs(raw[columns.id], columns, lines)
    bad: list[tuple[np.ndarray, str, Any]] = []  # per column: bad rows, the column, its raw values
    numbers = []
    for column in columns.values:
        values, wrong = _numbers(raw[column])
        numbers.append(values)
        bad.append((wrong, column, raw[column]))
    times = None
    if columns.time is not None:
        times = _times(raw[columns.time])
        bad.append((np.asarray(pd.isna(times)), columns.time, raw[columns.time]))
    errors = _row_errors(bad, starts, lines, columns.where, columns.time)
    return Chunk(keys, starts, np.stack(numbers, axis=1), times, lines, errors, columns.where)


def _runs(ids: Any, columns: Columns, lines: np.ndarray) -> tuple[list[Any], np.ndarray]:
    """Each series' id and first row: a new series wherever the id differs from the row before."""
    if isinstance(ids, pa.ChunkedArray | pa.Array):
        ids = ids.combine_chunks() if isinstance(ids, pa.ChunkedArray) else ids
        missing = np.asarray(ids.is_null().to_numpy(zero_copy_only=False))
        if pa.types.is_dictionary(ids.type) and not missing.any() and len(pc.unique(ids.dictionary)) == len(
                ids.dictionary):  # one number per id: the numbers change where the ids do
            codes = ids.indices.to_numpy()
            changed = codes[1:] != codes[:-1]
        else:
            ids = ids.dictionary_decode() if pa.types.is_dictionary(ids.type) else ids
            changed = (np.asarray(pc.not_equal(ids[1:], ids[:-1]).to_numpy(zero_copy_only=False), bool)
                       if len(ids) > 1 else np.zeros(0, bool))
    else:
        ids = ids.to_numpy(dtype=object)
        missing = np.asarray(pd.isna(ids))
        changed = ids[1:] != ids[:-1]
    if missing.any():
        line = int(lines[np.argmax(missing)])
        raise DataError(f"column {columns.id!r} is missing a series id at {columns.where} {line}")
    starts = np.concatenate([[0], np.flatnonzero(changed) + 1]).astype(np.int64)
    keys = ids.take(pa.array(starts)).to_pylist() if isinstance(ids, pa.Array) else ids[starts].tolist()
    return keys, starts


def _numbers(raw: Any) -> tuple[np.ndarray, np.ndarray]:
    """(n,) float64 and (n,) bool: the rows a model cannot read (missing, not a number, beyond VALUE_LIMIT)."""
    arrow = isinstance(raw, pa.ChunkedArray | pa.Array)
    if arrow and (pa.types.is_integer(raw.type) or pa.types.is_floating(raw.type)):
        values = np.asarray(raw.to_numpy(zero_copy_only=False), np.float64)
    else:
        series = raw.to_pandas() if arrow else raw
        values = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    with np.errstate(invalid="ignore"):
        wrong = ~(np.abs(values) <= VALUE_LIMIT)  # NaN compares False: missing and non-numbers too
    return values, wrong


def _times(raw: Any) -> pd.Index:
    """Timestamps (NaT where missing or unreadable) or numbers: a time column as the model reads it."""
    if isinstance(raw, pa.ChunkedArray | pa.Array):
        if pa.types.is_date(raw.type):
            raw = raw.cast(pa.timestamp("s"))
        if pa.types.is_timestamp(raw.type):
            return pd.DatetimeIndex(raw.to_pandas())
        raw = raw.to_pandas()
    if pd.api.types.is_numeric_dtype(raw):
        numbers: pd.Index = pd.Index(np.asarray(raw))
        return numbers
    if pd.api.types.is_datetime64_any_dtype(raw):
        return pd.DatetimeIndex(raw)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # mixed UTC offsets warn in pandas 2: read them as UTC instead
        try:
            parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce")
        except (ValueError, TypeError, Warning):
            parsed = pd.to_datetime(raw, format="ISO8601", errors="coerce", utc=True)
    if (parsed.isna() & raw.notna()).any():  # not ISO 8601: each timestamp by its own format, as training does
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parsed = pd.to_datetime(raw, format="mixed", errors="coerce", utc=parsed.dt.tz is not None)
    return pd.DatetimeIndex(parsed)


def _row_errors(bad: list[tuple[np.ndarray, str, Any]], starts: np.ndarray, lines: np.ndarray,
                where: str, time_column: str | None) -> dict[int, str]:
    """Series position -> its first bad row's problem, for the series that have one."""
    any_bad = np.logical_or.reduce([mask for mask, _, _ in bad])
    rows = np.flatnonzero(any_bad)
    if not len(rows):
        return {}
    series = np.searchsorted(starts, rows, side="right") - 1
    _, first = np.unique(series, return_index=True)
    errors = {}
    for position, row in zip(series[first].tolist(), rows[first].tolist(), strict=True):
        mask, column, raw = next(item for item in bad if item[0][row])
        value = raw[row].as_py() if isinstance(raw, pa.ChunkedArray | pa.Array) else raw.iloc[row]
        at = f"at {where} {lines[row]}"
        if value is None or (isinstance(value, float) and np.isnan(value)):
            errors[position] = f"column {column!r} is missing a value {at}"
        elif column == time_column:
            errors[position] = f"column {column!r} has {str(value)!r} {at}, not a timestamp"
        elif (number := _float(value)) is not None:
            errors[position] = f"column {column!r} has {number:g} {at}, beyond +-{VALUE_LIMIT:g}"
        else:
            errors[position] = f"column {column!r} has an unreadable value {str(value)!r} {at}"
    return errors


def _text(stamps: pa.Array) -> pa.Array:
    """Timestamps as CSV text, 2024-01-21 00:00:00 (and the UTC offset), fractions of seconds only when held."""
    try:
        stamps = stamps.cast(pa.timestamp("s", stamps.type.tz))  # safe cast: refused if it would cut a fraction
    except pa.ArrowInvalid:
        pass
    return pc.strftime(stamps, format="%Y-%m-%d %H:%M:%S" + ("%z" if stamps.type.tz else ""))


def _float(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class Output:
    """Forecasts appended as they come, in NeuralForecast's columns: unique_id, ds, NAME, then
    NAME-lo-L and NAME-hi-L per level ascending; written to a hidden sibling, renamed when closed."""

    def __init__(self, path: Path, fmt: str, name: str, levels: tuple[int, ...], horizon: int) -> None:
        self.path, self.fmt, self.name, self.levels, self.horizon = Path(path), fmt, name, levels, horizon
        self.partial = self.path.with_name(f".{self.path.name}.partial")
        self.writer: pq.ParquetWriter | pa_csv.CSVWriter | None = None
        self.schema: pa.Schema | None = None

    def write(self, keys: list[Any], stamps: np.ndarray | pd.Index, mean: np.ndarray,
              bands: dict[int, tuple[np.ndarray, np.ndarray]]) -> None:
        """keys (S,), stamps (S * H,), mean and each band (S, H)."""
        repeat = pa.array(np.repeat(np.arange(len(keys)), self.horizon))
        ds = pa.array(stamps)
        if self.fmt == "csv" and pa.types.is_timestamp(ds.type):
            ds = _text(ds)
        table = {"unique_id": pa.array(keys).take(repeat), "ds": ds, self.name: mean.ravel()}
        for level in self.levels:
            lower, upper = bands[level]
            table[f"{self.name}-lo-{level}"], table[f"{self.name}-hi-{level}"] = lower.ravel(), upper.ravel()
        out = pa.table(table)
        if self.writer is None:
            self.partial.unlink(missing_ok=True)
            self.schema = out.schema
            if self.fmt == "parquet":
                # A dictionary for the ids only (each repeats horizon times): trying one on the forecasts'
                # distinct floats made writing 7x slower and the file larger (measured on 180,000 rows).
                self.writer = pq.ParquetWriter(self.partial, out.schema, use_dictionary=["unique_id"])
            else:
                self.writer = pa_csv.CSVWriter(self.partial, out.schema,
                                               write_options=pa_csv.WriteOptions(quoting_style="needed"))
        elif out.schema != self.schema:
            out = out.cast(self.schema)  # a later chunk typed its ids or times otherwise
        self.writer.write_table(out)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
            os.replace(self.partial, self.path)

    def discard(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None
        self.partial.unlink(missing_ok=True)
