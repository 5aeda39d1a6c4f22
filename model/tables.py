"""A table from a file or an upload: CSV, or Parquet (a panel is big: columnar, typed, compressed)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from model.windows import DataError

# Every Parquet file starts (and ends) with these bytes: https://parquet.apache.org/docs/file-format/
PARQUET_MAGIC = b"PAR1"
PARQUET_TYPES = ("application/vnd.apache.parquet", "application/x-parquet", "application/parquet")


def is_parquet(head: bytes, filename: str | None = None, content_type: str | None = None) -> bool:
    """By the magic bytes first (a file named .csv that is Parquet is read as what it is), then the
    upload's name or content type."""
    if head[:4] == PARQUET_MAGIC:
        return True
    return (filename or "").lower().endswith((".parquet", ".pq")) or (content_type or "").lower() in PARQUET_TYPES


def read_parquet_bytes(raw: bytes) -> pd.DataFrame:
    """A Parquet file's bytes as a frame, or a DataError saying it is not one."""
    try:
        return pd.read_parquet(io.BytesIO(raw))
    except ImportError as exc:  # pyarrow is a dependency; a trimmed install may lack it
        raise DataError(f"reading Parquet needs pyarrow: {exc}") from exc
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise DataError(f"malformed Parquet: {exc}") from exc


def read_table(path: str) -> pd.DataFrame:
    """A CSV or Parquet file as a frame (Parquet by its magic bytes or a .parquet name), or a DataError
    naming the file (one line, not a traceback)."""
    try:
        with open(path, "rb") as file:
            head = file.read(4)
        if is_parquet(head, path):
            return read_parquet_bytes(Path(path).read_bytes())
        return pd.read_csv(path)
    except FileNotFoundError as exc:
        raise DataError(f"no such file: {path}") from exc
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise DataError(f"cannot read {path} as a CSV or Parquet file: {exc}") from exc
    except DataError as exc:
        raise DataError(f"cannot read {path}: {exc}") from exc
