"""A file of many series in, a file of forecasts out: POST /v1/models/{name}/forecast/file (model/batch.py)."""

from __future__ import annotations

import asyncio
import json
import shutil
import tempfile
from functools import partial
from pathlib import Path
from typing import IO, Annotated, Literal

import numpy as np
from fastapi import APIRouter, File, Query, Request, UploadFile
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from model.batch import LEVELS, forecast_file, trained_time_column
from model.panel_files import FORMATS
from model.predictor import Forecasts
from model.tables import PARQUET_MAGIC, is_parquet
from model.windows import DataError
from service.deps import get_model, state
from service.errors import Problem
from service.routes.predict import Version

router = APIRouter(tags=["forecast"])
MEDIA_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
FILE_HELP = ("long format, the rows of each series together: the model's id, target and covariate columns (and a "
             "time column), or unique_id, ds, y; CSV or Parquet, up to the server's body limit")


def _source_format(upload: UploadFile) -> str:
    """Parquet by its magic bytes, name or content type (as /v1/train/csv tells), else CSV."""
    head = upload.file.read(len(PARQUET_MAGIC))
    upload.file.seek(0)
    return "parquet" if is_parquet(head, upload.filename, upload.content_type) else "csv"


def _save(upload: IO[bytes], path: Path) -> None:
    with open(path, "wb") as out:
        shutil.copyfileobj(upload, out, 1 << 20)


@router.post(
    "/v1/models/{name}/forecast/file", response_class=FileResponse,
    responses={200: {"description": "the forecasts: unique_id, ds, NAME, NAME-lo-80, NAME-hi-80, ... per level; "
                     "X-Forecast-Series, X-Skipped-Series and X-Skipped-Reasons (JSON: the first ids skipped, "
                     "with why) say what was done",
                     "content": {"text/csv": {"schema": {"type": "string"}},
                                 "application/vnd.apache.parquet": {"schema": {"type": "string", "format": "binary"}}}},
               404: {"description": "unknown model"}, 413: {"description": "file over the body limit"},
               422: {"description": "not a panel model, or a file it cannot read (the reason)"},
               503: {"description": "the model cannot be loaded now"}})
async def forecast_file_route(
    request: Request, name: str,
    file: Annotated[UploadFile, File(description=FILE_HELP)],
    version: Version = None,
    levels: Annotated[list[int] | None, Query(description="interval levels in percent (default 80 and 95)")] = None,
    output_format: Annotated[Literal["csv", "parquet"] | None, Query(
        alias="format", description="the answer's format (default: the file's)")] = None,
    time_column: Annotated[str | None, Query(max_length=256, description="timestamps column (default: the "
                                             "model's training time column, else ds, when the file has it; without "
                                             "one, ds is the step 1..horizon)")] = None,
) -> FileResponse:
    """Forecast every series of a long-format CSV or Parquet file with a panel model (trained with
    `id_column`), answered in the same format (or `?format=`) in NeuralForecast's columns, ready for
    utilsforecast's evaluation and plots. `ds` holds the future timestamps when the file has a time
    column, else the step 1..horizon. Series too short or with a bad value are skipped and named in the
    X-Skipped-* headers; rows of one series must be together (sorted by id). The file streams through in
    chunks of rows; `gru-forecast batch` does the same from the command line."""
    loaded = await get_model(request, name, version)
    predictor = loaded.artifact.predictor
    if predictor.config.id_column is None:
        reason = f"model {name!r} is not a panel model (trained without id_column): use /v1/models/{name}/forecast"
        raise Problem(422, reason, [{"field": "name", "reason": reason}])
    executor = state(request).registry.executor

    def predict(windows: np.ndarray, wanted: tuple[int, ...]) -> Forecasts:
        # Each batch on the model's inference thread, between other requests' forecasts.
        result: Forecasts = executor.submit(predictor.predict, windows, wanted).result()
        return result

    folder = Path(tempfile.mkdtemp(prefix="gru-forecast-file-"))
    try:
        source = folder / f"input.{_source_format(file)}"
        await run_in_threadpool(_save, file.file, source)
        output = folder / f"forecasts.{output_format or FORMATS[source.suffix]}"
        run = partial(forecast_file, predictor, source, output, name, tuple(levels or LEVELS), time_column,
                      predict=predict, trained_time=trained_time_column(loaded.artifact.manifest))
        summary = await asyncio.get_running_loop().run_in_executor(None, run)
    except DataError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        where = "levels" if str(exc).startswith("levels") else "file"
        raise Problem(422, str(exc), [{"field": where, "reason": str(exc)}]) from exc
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    headers = {"X-Forecast-Series": str(summary.series), "X-Skipped-Series": str(summary.skipped),
               "X-Skipped-Reasons": json.dumps(summary.reasons)}  # ASCII: ids are escaped, never break a header
    fmt = output.suffix[1:]
    return FileResponse(output, media_type=MEDIA_TYPES[fmt], headers=headers, filename=f"{name}-forecasts.{fmt}",
                        background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True))
