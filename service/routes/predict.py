"""The hot path: forecast, classify, and evaluate on the caller's series."""

from __future__ import annotations

import json
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Body, Query, Request, Response

from model.store import VERSION_REGEX
from model.windows import Series
from service.deps import get_model, state, submit
from service.errors import Problem
from service.evaluation import evaluate_series, own_scale
from service.forecasting import build_forecasts, build_windows, check_request_size
from service.request_windows import series_rows
from service.schemas import (
    CLASSIFY_EXAMPLES,
    EVALUATE_EXAMPLES,
    EVALUATE_MAX_SERIES,
    FORECAST_EXAMPLES,
    ClassifyRequest,
    ClassifyResponse,
    EvaluateRequest,
    EvaluateResponse,
    ForecastRequest,
    ForecastResponse,
    SeriesClasses,
)
from service.settings import Settings

router = APIRouter(tags=["forecast"])
Version = Annotated[str | None, Query(pattern=VERSION_REGEX, description="default: live")]


@router.post("/v1/models/{name}/forecast", response_model=ForecastResponse,
             responses={404: {"description": "unknown model"}, 413: {"description": "too many series or points"},
                        422: {"description": "invalid window"}, 503: {"description": "overloaded"}})
async def forecast(request: Request, name: str,
                   body: Annotated[ForecastRequest, Body(openapi_examples=FORECAST_EXAMPLES)],
                   version: Version = None) -> Response:
    """Forecast the next `horizon` steps of each series from its last `input_size` points, with
    prediction intervals at the `levels` asked for. Many series in one request share one forward
    pass with everyone else's (dynamic batching). `?version=v2` asks a version other than the live one."""
    settings: Settings = state(request).settings
    check_request_size(body.series, settings.max_series, settings.max_points)
    loaded = await get_model(request, name, version)
    items, horizon, indexes = build_windows(loaded.artifact.config, body, settings.max_batch_size)
    loaded, results = await submit(request, name, version, items, loaded)
    payload = {"model": name, "version": loaded.version, "horizon": horizon,
               "forecasts": build_forecasts(loaded.artifact.config, body, results, horizon, indexes)}
    # json.dumps of plain dicts: re-validating a response model per request costs more than the model.
    return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")


@router.post("/v1/models/{name}/classify", responses={404: {"description": "unknown model"}})
async def classify(request: Request, name: str,
                   body: Annotated[ClassifyRequest, Body(openapi_examples=CLASSIFY_EXAMPLES)],
                   version: Version = None) -> ClassifyResponse:
    """Class probabilities of the step after each series (a classifier reads its covariates only)."""
    settings: Settings = state(request).settings
    check_request_size(body.series, settings.max_series, settings.max_points)
    loaded = await get_model(request, name, version)
    if loaded.artifact.config.task != "classify":
        raise Problem(422, f"model {name!r} forecasts; use /v1/models/{name}/forecast")
    items, _, _ = build_windows(loaded.artifact.config, body, settings.max_batch_size)
    loaded, results = await submit(request, name, version, items, loaded)
    classes = loaded.artifact.config.classes
    out = [SeriesClasses(id=series.id, predicted=classes[int(np.argmax(probabilities))],
                         probabilities={c: float(p) for c, p in zip(classes, probabilities, strict=True)})
           for series, probabilities in zip(body.series, np.concatenate(results), strict=True)]
    return ClassifyResponse(model=name, version=loaded.version, results=out)


@router.post("/v1/models/{name}/evaluate",
             responses={404: {"description": "unknown model"}, 413: {"description": "too many series or points"},
                        422: {"description": "invalid series"}, 503: {"description": "overloaded"}})
async def evaluate(request: Request, name: str,
                   body: Annotated[EvaluateRequest, Body(openapi_examples=EVALUATE_EXAMPLES)]) -> EvaluateResponse:
    """Score the live model on series you send (every window of input_size + horizon points) beside
    naive and seasonal naive: MSE, MAE, RMSE, sMAPE, MASE and interval coverage. At most
    64 series; a long series is scored in chunks between other requests' forecasts."""
    settings: Settings = state(request).settings
    check_request_size(body.series, min(settings.max_series, EVALUATE_MAX_SERIES), settings.max_points)
    loaded = await get_model(request, name)
    config, artifact = loaded.artifact.config, loaded.artifact
    if config.task == "classify":
        raise Problem(422, "evaluate takes forecasters; classifiers report their test metrics in the card")
    checked = [series_rows(config, s, i, None) for i, s in enumerate(body.series)]  # every series before any work
    scale = np.asarray(artifact.manifest.mase_scale) if artifact.manifest.mase_scale is not None else None
    results = []
    for series, (rows, index) in zip(body.series, checked, strict=True):
        prepared = Series(values=rows, labels=None, index=index if index is not None else pd.RangeIndex(len(rows)))
        # On the model's inference thread (one torch thread, inference mode), not a pool thread.
        result = await evaluate_series(loaded, state(request).registry.executor, prepared,
                                       scale if scale is not None else own_scale(rows, config))
        results.append({"id": series.id, **result})
    return EvaluateResponse(model=name, version=loaded.version, results=results)
