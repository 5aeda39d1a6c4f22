"""A training job's dataset, kept as a file in the store (<store>/.datasets/<job id>.csv, .json or .parquet): the
job row holds only its name, so listing and polling jobs never read or parse the data."""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

DIRECTORY = ".datasets"
FORMATS = ("csv", "json", "parquet")
FILE_NAME = re.compile(r"^[0-9a-f]{16}\.(csv|json|parquet)$")  # a job id and a format: never a path trick
ORPHAN_AGE_S = 3600.0  # a file with no job row yet may be one another worker is about to queue


@dataclass(frozen=True)
class JobData:
    # csv: the uploaded text as it came; json: column name -> values; parquet: the uploaded bytes as they came
    format: Literal["csv", "json", "parquet"]
    text: str | bytes


def folder(root: Path) -> Path:
    return root / DIRECTORY


def write(root: Path, job_id: str, data: JobData) -> str:
    """Written atomically (temporary file, fsync, rename): a worker never reads half a dataset.
    Returns the file name the job row references."""
    directory = folder(root)
    directory.mkdir(parents=True, exist_ok=True)
    name = f"{job_id}.{data.format}"
    tmp = directory / f".{name}.tmp"
    with open(tmp, "wb") as out:
        out.write(data.text.encode("utf-8") if isinstance(data.text, str) else data.text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, directory / name)
    return name


def read(root: Path, request: dict[str, Any]) -> Any:
    """The job's data as a DataFrame: from its file, or inline in the request (a job queued by a server
    from before the dataset files still runs)."""
    import pandas as pd

    from model.windows import read_csv_text

    name = request.get("dataset")
    if name is None:
        if "csv" in request:
            return read_csv_text(request["csv"])
        if "data" in request:
            return pd.DataFrame(request["data"])
        raise FileNotFoundError("the job has no dataset (neither a file nor inline data)")
    if not FILE_NAME.match(name):
        raise ValueError(f"bad dataset reference {name!r}")
    try:
        raw = (folder(root) / name).read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"the job's dataset {DIRECTORY}/{name} is gone from the store: "
                                "submit the job again") from None
    if name.endswith(".parquet"):
        from model.tables import read_parquet_bytes

        return read_parquet_bytes(raw)
    text = raw.decode("utf-8")
    return read_csv_text(text) if name.endswith(".csv") else pd.DataFrame(json.loads(text))


def remove(root: Path, job_id: str) -> None:
    for suffix in FORMATS:
        with contextlib.suppress(FileNotFoundError):
            (folder(root) / f"{job_id}.{suffix}").unlink()


def sweep(root: Path, status_of: dict[str, str], finished: frozenset[str]) -> int:
    """Remove the datasets of finished jobs, and old ones no job row names (a crash between the file
    and the row); returns how many. status_of: job id -> status, for the ids found here."""
    removed = 0
    directory = folder(root)
    if not directory.is_dir():
        return 0
    for path in directory.iterdir():
        job_id = path.name.lstrip(".").split(".")[0]
        status = status_of.get(job_id)
        stale = status is None and time.time() - path.stat().st_mtime > ORPHAN_AGE_S
        if status in finished or stale:
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                removed += 1
    return removed


def job_ids(root: Path) -> list[str]:
    """The job ids that have a file (or a temporary one) here."""
    directory = folder(root)
    return sorted({p.name.lstrip(".").split(".")[0] for p in directory.iterdir()}) if directory.is_dir() else []
