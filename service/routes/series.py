"""A panel model's series by id: their ids (paged, searched by prefix) and one series' stored tail, in the
shape /forecast and plot.svg take, so a series is forecast by its id alone (the page's series picker).

The tails are the last input_size points of every series the model was trained on (model/tails.py),
read from the version's tails.parquet on first use, off the event loop."""

from __future__ import annotations

from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from model.tails import Tails
from service.deps import get_model
from service.errors import Problem
from service.registry import LoadedModel
from service.routes.predict import Version
from service.schemas import SeriesInput

router = APIRouter(tags=["models"])
ERRORS: dict[int | str, dict[str, Any]] = {
    404: {"description": "unknown model or series, or a version saved without its series"},
    422: {"description": "not a panel model (no id_column): it forecasts the series sent to it"}}
SeriesId = Annotated[str, Path(max_length=200, description="the series' id, as in the model's id column")]


# Here rather than in service/schemas.py: only these routes read them.
class SeriesPage(BaseModel):
    model: str
    version: str
    id_column: str = Field(..., description="the column of the training data that named each series")
    total: int = Field(..., description="series whose id starts with the prefix")
    ids: list[str] = Field(..., description="in code point order")
    next: str | None = Field(None, description="pass as `after` for the next page; null on the last page")


async def panel_tails(request: Request, name: str, version: str | None) -> tuple[LoadedModel, Tails]:
    loaded = await get_model(request, name, version)
    if loaded.artifact.config.id_column is None:
        raise Problem(422, f"model {name!r} is not a panel model (no id_column): it has no series of its own; "
                      "send yours to /forecast")
    tails = loaded.artifact.series_tails()
    if tails is None:
        raise Problem(404, f"version {loaded.version} of {name!r} was saved without its series: train it again "
                      "to forecast its series by id")
    return loaded, tails


@router.get("/v1/models/{name}/series", responses=ERRORS)
async def list_series(request: Request, name: str,
                      prefix: Annotated[str, Query(max_length=200, description="ids that start with this")] = "",
                      after: Annotated[str | None, Query(max_length=200, description="ids after this one (the "
                                                         "previous page's `next`)")] = None,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                      version: Version = None) -> SeriesPage:
    """A panel model's series ids, sorted, a page at a time: search them by prefix, forecast one with
    GET .../series/{id} then POST .../forecast."""
    loaded, tails = await panel_tails(request, name, version)
    ids, total, cursor = await run_in_threadpool(tails.page, prefix, after, limit)
    return SeriesPage(model=name, version=loaded.version, id_column=tails.id_column, total=total, ids=ids,
                      next=cursor)


def _numbers(column: pd.Series) -> list[float]:
    """Plain decimals: a float32 value as it was written (780.1, not 780.0999755859375)."""
    array = column.to_numpy()
    if array.dtype == np.float32:
        return [float(str(v)) for v in array]
    return [float(v) for v in array]


@router.get("/v1/models/{name}/series/{series_id:path}", responses=ERRORS)
async def one_series(request: Request, name: str, series_id: SeriesId, version: Version = None) -> SeriesInput:
    """One series' last input_size points as the model kept them: its values (and covariates), with
    timestamps when it was trained with a time column. `{"series": [this]}` is a forecast request."""
    loaded, tails = await panel_tails(request, name, version)
    rows = await run_in_threadpool(tails.series, series_id)
    if rows.empty:
        raise Problem(404, f"model {name!r} has no series {series_id!r}")
    target = loaded.artifact.config.targets[0]  # a panel model forecasts one target (model/panel.py)
    values = _numbers(rows[target])
    covariates = {c: _numbers(rows[c]) for c in tails.values if c != target}
    time = tails.time_column(rows)
    stamps = rows[time] if time is not None else None
    timestamps = [t.isoformat() for t in stamps] if stamps is not None and \
        pd.api.types.is_datetime64_any_dtype(stamps) else None
    return SeriesInput(id=series_id, values=values, covariates=covariates, timestamps=timestamps)
