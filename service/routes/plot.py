"""A forecast as a picture: `/v1/models/{name}/plot.svg` (POST a forecast body, or GET for the model's
bundled history). The same forward pass and checks as /forecast; service/plot.py draws it."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Body, Query, Request, Response

from model.config import ModelConfig
from model.datasets import DATASETS
from service.deps import get_model, state, submit
from service.errors import Problem
from service.forecasting import build_forecasts, build_windows, check_request_size
from service.plot import render
from service.request_windows import values_array
from service.routes.predict import Version
from service.schemas import FORECAST_EXAMPLES, ForecastRequest, SeriesInput
from service.settings import Settings

router = APIRouter(tags=["forecast"])
SVG = {200: {"content": {"image/svg+xml": {"schema": {"type": "string"}}}, "description": "an SVG chart"},
       404: {"description": "unknown model (GET: or no bundled history)"},
       422: {"description": "invalid window, or a classifier"}, 503: {"description": "overloaded"}}
Shown = Annotated[int | None, Query(ge=1, le=100_000, description="points of history drawn (default: "
                                    "the input window, at least 3 horizons)")]


@lru_cache(maxsize=len(DATASETS))
def _bundled_frame(name: str) -> pd.DataFrame:
    """A bundled dataset, read once (the ECG's gzip CSV takes ~20 ms: not on every request's event loop)."""
    return DATASETS[name].load()


def bundled_series(name: str, config: ModelConfig, points: int) -> SeriesInput:
    """The last points of the dataset a default model was trained on (model/data/)."""
    dataset = DATASETS.get(name)
    columns = [*config.targets, *config.covariates]
    frame = _bundled_frame(name) if dataset is not None else None
    if dataset is None or frame is None or not set(columns) <= set(frame.columns):
        raise Problem(404, f"model {name!r} has no bundled history: POST its series to this URL instead")
    tail = frame.iloc[-points:]
    values: list[Any] = tail[config.targets[0]].tolist() if len(config.targets) == 1 else \
        tail[config.targets].to_numpy().tolist()
    timestamps = [str(t) for t in tail[dataset.time_column]] if config.frequency else None
    return SeriesInput(id=name, values=values, timestamps=timestamps,
                       covariates={c: tail[c].tolist() for c in config.covariates if c not in config.targets})


async def _plot(request: Request, name: str, version: str | None, body: ForecastRequest, index: int,
                shown: int | None) -> Response:
    settings: Settings = state(request).settings
    check_request_size(body.series, settings.max_series, settings.max_points)
    loaded = await get_model(request, name, version)
    config = loaded.artifact.config
    if config.task != "forecast":
        raise Problem(422, f"model {name!r} classifies: there is no forecast to draw")
    if index >= len(body.series):
        raise Problem(422, f"series: no series {index} in {len(body.series)}",
                      [{"field": "series", "reason": f"?series={index} is beyond the {len(body.series)} given"}])
    one = body.model_copy(update={"series": [body.series[index]], "levels": sorted({*body.levels, 80, 95})})
    items, horizon, indexes = build_windows(config, one, settings.max_batch_size)
    loaded, results = await submit(request, name, version, items, loaded)
    forecast = build_forecasts(config, one, results, horizon, indexes)[0]
    series = one.series[0]
    values = values_array(series, index, np.float64)
    history = (values if values.ndim == 1 else values[:, 0]).tolist()
    count = min(len(history), shown or max(config.input_size, 3 * horizon))

    def first(block: list[Any]) -> list[float]:
        return [v[0] if isinstance(v, list) else v for v in block]

    bands = {int(level): (first(band["lower"]), first(band["upper"])) for level, band in forecast["intervals"].items()}
    title = f"{name} {loaded.version}: {config.targets[0]}, next {horizon} steps"
    if forecast["guarded"]:  # the answer is the base and linear part (README "How a forecaster is trained", 7)
        title += " (guarded: wider than any training window, no GRU)"
    svg = render(title, history[-count:], first(forecast["mean"]), bands,
                 series.timestamps[-count:] if series.timestamps else None, forecast["timestamps"],
                 unit=config.targets[0])
    return Response(svg, media_type="image/svg+xml")


@router.post("/v1/models/{name}/plot.svg", response_class=Response, responses=SVG)  # type: ignore[arg-type]
async def plot(request: Request, name: str, body: Annotated[ForecastRequest, Body(openapi_examples=FORECAST_EXAMPLES)],
               series: Annotated[int, Query(ge=0, description="which series of the body to draw")] = 0,
               history: Shown = None, version: Version = None) -> Response:
    """The forecast of one series (the first, or `?series=i`) as an SVG chart: its history, the
    forecast and the 80% and 95% bands, with future timestamps on the axis when the body has
    timestamps. Same body, limits and errors as /forecast."""
    return await _plot(request, name, version, body, series, history)


@router.get("/v1/models/{name}/plot.svg", response_class=Response, responses=SVG)  # type: ignore[arg-type]
async def plot_bundled(request: Request, name: str, history: Shown = None, version: Version = None) -> Response:
    """The forecast from the end of the model's bundled history (the default models: stock, weather,
    sf-temps, ecg) as an SVG chart."""
    loaded = await get_model(request, name, version)
    config = loaded.artifact.config
    if config.task != "forecast":
        raise Problem(422, f"model {name!r} classifies: there is no forecast to draw")
    points = max(config.input_size, history or 0, 3 * config.horizon)
    body = ForecastRequest(series=[bundled_series(name, config, points)], levels=[80, 95])
    return await _plot(request, name, version, body, 0, history)
