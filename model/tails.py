"""A panel model's series tails: the last input_size rows of every usable training series, saved with the
version as tails.parquet, so that a series can be forecast by its id alone (the page's series picker,
GET /v1/models/{name}/series/{id}).

The file is sorted by id and written in row groups, so it is read on demand: loading a panel model of a
million series reads none of it, listing ids reads the id column once, and one series is a filtered read
of the row groups whose statistics can hold its id.
"""

from __future__ import annotations

import bisect
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model.config import ModelConfig
from model.panel import Panel

TAILS = "tails.parquet"
ROW_GROUP = 65_536  # rows per row group: a read by id touches one or two of them
LAST = "\U0010ffff"  # the greatest code point: prefix + LAST bounds every id that starts with prefix


def value_columns(config: ModelConfig) -> list[str]:
    """The columns a series' forecast request needs per point: the targets, then the covariates."""
    return list(dict.fromkeys([*config.targets, *config.covariates]))


def tails_frame(panel: Panel, config: ModelConfig, time_column: str | None) -> pd.DataFrame:
    """Long format, one row per series and step: the id column, the time column when the model has one,
    the targets and covariates; the last input_size rows of every usable series, in panel order."""
    if config.id_column is None:
        raise ValueError("tails are a panel model's (id_column is not set)")
    columns = value_columns(config)
    # Series.values holds the data columns first (targets, covariates), then any calendar inputs: not kept.
    kept = [s.values[-config.input_size:, :len(columns)] for s in panel.series]
    lengths = [len(k) for k in kept]
    out: dict[str, object] = {config.id_column: np.repeat(np.asarray(panel.ids, dtype=object), lengths)}
    if time_column is not None:
        indexes = [s.index[-config.input_size:] for s in panel.series]
        out[time_column] = indexes[0].append(indexes[1:]) if indexes else pd.Index([])
    values = np.concatenate(kept) if kept else np.zeros((0, len(columns)), np.float32)
    out.update({name: values[:, j] for j, name in enumerate(columns)})
    return pd.DataFrame(out)


def write_tails(frame: pd.DataFrame, path: Path, config: ModelConfig) -> None:
    """tails.parquet, sorted by id (each series' rows stay in time order), fsynced: save_artifact writes it
    into the version's temporary folder before the rename, so a version has its whole file or none."""
    id_column = config.id_column
    missing = [c for c in [id_column, *value_columns(config)] if c not in frame.columns]
    if id_column is None or missing:
        raise ValueError(f"tails need the columns {[id_column, *value_columns(config)]}; missing {missing}")
    ids = frame[id_column].astype(str)
    ordered = frame.assign(**{id_column: ids}).iloc[id_order(ids.to_numpy(dtype=object))]
    pq.write_table(pa.Table.from_pandas(ordered, preserve_index=False), path, row_group_size=ROW_GROUP)
    with open(path, "rb") as written:
        os.fsync(written.fileno())


def id_order(ids: np.ndarray) -> np.ndarray:
    """The row order that sorts by id and keeps each series' rows as they were. A series' rows come as one
    block (tails_frame), so the blocks are sorted, not the rows: a million series of 24 rows take under a
    second this way, 8 s by a full sort, which is left for ids that come back after another's rows."""
    if not len(ids):
        return np.arange(0)
    starts = np.flatnonzero(np.concatenate([[True], ids[1:] != ids[:-1]]))
    firsts = ids[starts]
    if len(set(firsts)) != len(firsts):
        return np.asarray(np.argsort(ids, kind="stable"))
    order = np.argsort(firsts, kind="stable")
    lengths = np.diff(np.append(starts, len(ids)))[order]
    moved_to = np.cumsum(lengths) - lengths  # where each block starts once the blocks are sorted
    rows: np.ndarray = np.arange(len(ids)) + np.repeat(starts[order] - moved_to, lengths)
    return rows


class Tails:
    """One version's tails, from its file (read on demand, the ids cached) or from a frame in memory
    (a model fresh from training)."""

    def __init__(self, config: ModelConfig, path: Path | None = None, frame: pd.DataFrame | None = None):
        if config.id_column is None or (path is None) == (frame is None):
            raise ValueError("Tails reads a panel model's file or frame (one of them)")
        self.id_column: str = config.id_column
        self.values = value_columns(config)
        self.path, self.memory = path, frame
        self._ids: list[str] | None = None
        self._lock = threading.Lock()  # one first read of the ids, however many requests ask at once

    def ids(self) -> list[str]:
        """Every series id, sorted (code point order, which is the file's UTF-8 byte order)."""
        with self._lock:
            if self._ids is None:
                if self.path is not None:
                    column = pq.read_table(self.path, columns=[self.id_column]).column(0)
                    found = column.unique().to_pylist()
                else:
                    assert self.memory is not None
                    found = self.memory[self.id_column].astype(str).unique().tolist()
                self._ids = sorted(found)  # the file's ids come sorted: linear time
            return self._ids

    def page(self, prefix: str = "", after: str | None = None, limit: int = 100) -> tuple[list[str], int, str | None]:
        """Up to limit ids that start with prefix and sort after `after`; how many start with prefix; and
        the cursor of the next page (the last id given, None on the last page)."""
        ids = self.ids()
        low, high = bisect.bisect_left(ids, prefix), bisect.bisect_left(ids, prefix + LAST)
        start = max(low, bisect.bisect_right(ids, after)) if after is not None else low
        found = ids[start:min(high, start + limit)]
        return found, high - low, found[-1] if found and start + limit < high else None

    def series(self, key: str) -> pd.DataFrame:
        """One series' rows in time order (no rows: no such id)."""
        if self.path is not None:
            rows: pd.DataFrame = pq.read_table(self.path, filters=[(self.id_column, "==", key)]).to_pandas()
            return rows
        assert self.memory is not None
        return self.memory[self.memory[self.id_column].astype(str) == key].reset_index(drop=True)

    def time_column(self, frame: pd.DataFrame) -> str | None:
        """The column of a tails frame that is neither the id nor a value: the time column, if any."""
        rest = [c for c in frame.columns if c != self.id_column and c not in self.values]
        return str(rest[0]) if rest else None
