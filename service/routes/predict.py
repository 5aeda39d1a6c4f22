"""The hot path: forecast, classify, and evaluate on the caller's series."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import numpy as np
import pandas as pd
from fastapi import APIRouter, Body, Query, Request, Response

from model.config import ModelConfig
from model.evaluate import evaluate_forecaster
from model.store import VERSION_REGEX
from model.windows import DataError, parse_timestamps, prepare_series
from service.deps import get_model, state, submit
from service.errors import Problem
from service.forecasting import build_forecasts, build_windows, check_request_size, values_array
from service.schemas import (
    CLASSIFY_EXAMPLES,
    EVALUATE_EXAMPLES,
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
    items, horizon = build_windows(loaded.artifact.config, body, settings.max_batch_size)
    loaded, results = await submit(request, name, version, items, loaded)
    payload = {"model": name, "version": loaded.version, "horizon": horizon,
               "forecasts": build_forecasts(loaded.artifact.config, body, results, horizon)}
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
    items, _ = build_windows(loaded.artifact.config, body, settings.max_batch_size)
    loaded, results = await submit(request, name, version, items, loaded)
    classes = loaded.artifact.config.classes
    out = [SeriesClasses(id=series.id, predicted=classes[int(np.argmax(probabilities))],
                         probabilities={c: float(p) for c, p in zip(classes, probabilities, strict=True)})
           for series, probabilities in zip(body.series, np.concatenate(results), strict=True)]
    return ClassifyResponse(model=name, version=loaded.version, results=out)


@router.post("/v1/models/{name}/evaluate", responses={404: {"description": "unknown model"}})
async def evaluate(request: Request, name: str,
                   body: Annotated[EvaluateRequest, Body(openapi_examples=EVALUATE_EXAMPLES)]) -> EvaluateResponse:
    """Score the live model on series you send (every window of input_size + horizon points) beside
    naive and seasonal naive: MSE, MAE, RMSE, sMAPE, MASE and interval coverage."""
    settings: Settings = state(request).settings
    check_request_size(body.series, settings.max_series, settings.max_points)
    loaded = await get_model(request, name)
    config, artifact = loaded.artifact.config, loaded.artifact
    if config.task == "classify":
        raise Problem(422, "evaluate takes forecasters; classifiers report their test metrics in the card")
    scale = np.asarray(artifact.manifest.mase_scale)
    # Evaluation shares the model's inference thread: it waits behind the same queue limit.
    span = config.input_size + config.horizon
    windows = sum(max(len(s.values) - span + 1, 0) for s in body.series)
    if loaded.batcher.queued + windows > loaded.batcher.queue_limit:
        raise Problem(503, f"overloaded: {loaded.batcher.queued} series queued, limit {loaded.batcher.queue_limit}; "
                      "retry shortly", headers={"Retry-After": "1"})
    results = []
    for i, series in enumerate(body.series):
        unknown = sorted(set(series.covariates) - set(config.covariates))
        if unknown:
            reason = f"unknown {unknown}; the model takes {config.covariates}"
            raise Problem(422, f"series[{i}].covariates: {reason}", [{"field": f"series[{i}].covariates",
                                                                      "reason": reason}])
        values = values_array(series, i, np.float64)
        lengths = {len(v) for v in series.covariates.values()} | {len(values)}
        # A calendar model reads the time of year from the timestamps; other models never needed them here.
        timestamps = series.timestamps if config.calendar_columns else None
        if timestamps is not None:
            lengths.add(len(timestamps))
        if len(lengths) > 1 or (values.ndim == 2 and values.shape[1] != len(config.targets)) or values.ndim > 2:
            reason = (f"values and covariates must have the same number of points, each point one value per "
                      f"target {config.targets} (got lengths {sorted(lengths)})")
            raise Problem(422, f"series[{i}]: {reason}", [{"field": f"series[{i}]", "reason": reason}])
        frame = pd.DataFrame(dict(series.covariates))
        for j, target in enumerate(config.targets):
            frame[target] = values if values.ndim == 1 else values[:, j]
        if timestamps is not None:
            try:
                frame.index = parse_timestamps(timestamps, "timestamps")  # prepare_series reads a frame's index
            except DataError as exc:
                field = f"series[{i}].timestamps"
                raise Problem(422, f"{field}: {exc}", [{"field": field, "reason": str(exc)}]) from exc
        try:
            prepared = prepare_series(frame, ModelConfig.from_dict(config.to_dict()))
            # On the model's inference thread (one torch thread, inference mode), not a pool thread.
            result = await asyncio.get_running_loop().run_in_executor(
                state(request).registry.executor, evaluate_forecaster, artifact.predictor, prepared, scale)
        except (DataError, ValueError) as exc:
            raise Problem(422, f"series[{i}]: {exc}", [{"field": f"series[{i}]", "reason": str(exc)}]) from exc
        results.append({"id": series.id, **result})
    return EvaluateResponse(model=name, version=loaded.version, results=results)
