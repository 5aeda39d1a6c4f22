"""Open Inference Protocol v2 (KServe / Triton) beside /v1, on the same registry and batchers.

A forecaster takes one input, `INPUT` [-1, input_size, features] FP32 (the model's features in
metadata order: targets, then covariates; a longer window is cut to its last input_size steps), and
gives `FORECAST` [-1, horizon, targets] plus `LOWER_<level>` / `UPPER_<level>` for every interval
level it stores, and `GUARDED` [-1] BOOL: which series spread wider than any training window and
got the base and linear part without the GRU. A classifier gives `PROBABILITIES` [-1, classes].
Errors are {"error": "..."} (service/errors.py picks that form for every /v2 path).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from fastapi import APIRouter, Request, Response

from model import store
from model.config import ModelConfig
from model.predictor import INTERVAL_LEVELS, Forecasts
from model.windows import VALUE_LIMIT
from service.deps import get_model, state, submit
from service.errors import Problem
from service.inference_protocol import HEADER_LENGTH, ProtocolError, encode_response, parse_request
from service.registry import ForecastItem, LoadedModel, Registry
from service.request_windows import out_of_range
from service.schemas import (
    INFER_EXAMPLE,
    InferenceErrorBody,
    InferenceRequestBody,
    InferenceResponseBody,
    ModelMetadata,
    ServerMetadata,
)
from service.settings import Settings

router = APIRouter(tags=["open inference protocol (v2)"])
INPUT = "INPUT"
GUARDED = "GUARDED"  # [-1] BOOL: the series whose window the guard kept from the GRU (v1's "guarded")


def _version(version: str | None) -> str | None:
    """Triton clients say "1"; our versions are "v1". Both name the same version."""
    return f"v{version}" if version is not None and version.isdigit() else version


def output_names(config: ModelConfig) -> list[str]:
    if config.task == "classify":
        return ["PROBABILITIES"]
    return (["FORECAST"] + [f"{side}_{level}" for level in INTERVAL_LEVELS for side in ("LOWER", "UPPER")]
            + [GUARDED])


def metadata(registry: Registry, loaded: LoadedModel) -> dict[str, Any]:
    config = loaded.artifact.config
    inputs = [{"name": INPUT, "datatype": "FP32", "shape": [-1, config.input_size, len(config.features)]}]
    if config.task == "classify":
        outputs = [{"name": "PROBABILITIES", "datatype": "FP32", "shape": [-1, len(config.classes or [])]}]
    else:
        shape = [-1, config.horizon, len(config.targets)]
        outputs = [{"name": name, "datatype": "FP32", "shape": shape} for name in output_names(config)
                   if name != GUARDED] + [{"name": GUARDED, "datatype": "BOOL", "shape": [-1]}]
    return {"name": loaded.name, "versions": store.versions(registry.root, loaded.name), "platform": "pytorch_gru",
            "inputs": inputs, "outputs": outputs,
            "parameters": {"version": loaded.version, "task": config.task, "features": config.features,
                           "targets": config.targets, "frequency": config.frequency,
                           "season_length": config.season_length, "classes": config.classes,
                           "interval_levels": INTERVAL_LEVELS if config.task == "forecast" else []}}


@router.get("/v2", response_model=ServerMetadata)
async def server_metadata(request: Request) -> dict[str, Any]:
    """Server metadata: name, version and the protocol extensions it speaks."""
    return {"name": "gru-forecast", "version": request.app.version, "extensions": ["binary_tensor_data"]}


@router.get("/v2/health/live")
async def live() -> dict[str, bool]:
    """200 while the process runs."""
    return {"live": True}


@router.get("/v2/health/ready", responses={503: {"description": "models not loaded yet"}})
async def ready(request: Request) -> dict[str, bool]:
    """200 once the models are loaded; 503 with Retry-After before."""
    if not state(request).ready:
        raise Problem(503, "models are still loading", headers={"Retry-After": "1"})
    return {"ready": True}


@router.get("/v2/models/{name}", response_model=ModelMetadata, responses={404: {"description": "unknown model"}})
async def model_metadata(request: Request, name: str) -> dict[str, Any]:
    """The live version's inputs and outputs: names, FP32, shapes (-1 = any number of series)."""
    return metadata(state(request).registry, await get_model(request, name))


@router.get("/v2/models/{name}/versions/{version}", response_model=ModelMetadata,
            responses={404: {"description": "unknown model or version"}})
async def version_metadata(request: Request, name: str, version: str) -> dict[str, Any]:
    """One version's inputs and outputs (`v2` or `2`)."""
    return metadata(state(request).registry, await get_model(request, name, _version(version)))


@router.get("/v2/models/{name}/ready", responses={404: {"description": "unknown model"}})
async def model_ready(request: Request, name: str) -> dict[str, Any]:
    """200 when the model serves (404 unknown, 503 unavailable)."""
    loaded = await get_model(request, name)
    return {"name": name, "version": loaded.version, "ready": True}


@router.get("/v2/models/{name}/versions/{version}/ready", responses={404: {"description": "unknown version"}})
async def version_ready(request: Request, name: str, version: str) -> dict[str, Any]:
    """200 when this version loads and serves."""
    loaded = await get_model(request, name, _version(version))
    return {"name": name, "version": loaded.version, "ready": True}


INFER_OPENAPI: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "JSON tensors, or (binary tensor extension) a JSON header of "
                       "`Inference-Header-Content-Length` bytes followed by the raw little-endian tensors.",
        "content": {
            "application/json": {"schema": {"$ref": "#/components/schemas/InferenceRequestBody"},
                                 "example": INFER_EXAMPLE},
            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        },
    },
    "responses": {
        "200": {"description": "the outputs: JSON, or a JSON header and raw FP32 bytes when binary was asked",
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferenceResponseBody"}},
                            "application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}},
    },
}


async def _infer(request: Request, name: str, version: str | None) -> Response:
    settings: Settings = state(request).settings
    body = await request.body()
    max_elements = settings.max_series * settings.max_points
    try:
        infer = parse_request(body, request.headers.get(HEADER_LENGTH), max_elements)
    except ProtocolError as exc:
        raise Problem(400, str(exc)) from exc
    loaded = await get_model(request, name, version)
    config = loaded.artifact.config
    if set(infer.inputs) != {INPUT}:
        raise Problem(400, f"the model takes one input named {INPUT!r}; got {sorted(infer.inputs)}")
    windows = _windows(config, infer.inputs[INPUT], settings)
    names = output_names(config)
    wanted = infer.outputs if infer.outputs is not None else names
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise Problem(400, f"unknown outputs {unknown}; the model gives {names}")
    levels = tuple(sorted({int(n.split("_")[1]) for n in wanted if n.startswith(("LOWER_", "UPPER_"))}))
    step = settings.max_batch_size
    items = [ForecastItem(windows[i : i + step], levels) for i in range(0, len(windows), step)]
    loaded, results = await submit(request, name, version, items, loaded)
    outputs = _outputs(config, wanted, results)
    content, headers, media_type = encode_response(name, loaded.version, outputs, infer)
    return Response(content, headers=headers, media_type=media_type)


def _windows(config: ModelConfig, tensor: np.ndarray, settings: Settings) -> np.ndarray:
    features = len(config.features)
    if tensor.ndim == 2 and features == 1:
        tensor = tensor[:, :, None]
    if tensor.ndim != 3 or tensor.shape[2] != features or tensor.shape[1] < config.input_size or not len(tensor):
        raise Problem(400, f"{INPUT}: shape {list(tensor.shape)}; the model takes [-1, {config.input_size}, "
                      f"{features}] (series, steps >= input_size, features {config.features})")
    if len(tensor) > settings.max_series:
        raise Problem(413, f"{len(tensor)} series in one request; the limit is {settings.max_series}")
    windows = tensor[:, -config.input_size:, :]
    with np.errstate(invalid="ignore"):
        usable = (np.abs(windows) <= VALUE_LIMIT).all()  # NaN and inf too
    for series, window in enumerate([] if usable else windows):  # the /v1 message (service/request_windows.py)
        found = out_of_range(window, tensor.shape[1] - config.input_size)
        if found is not None:
            raise Problem(400, f"{INPUT}[{series}]: {found[1]}")
    return np.ascontiguousarray(windows, dtype=np.float32)


def _outputs(config: ModelConfig, wanted: list[str], results: list[Any]) -> list[tuple[str, np.ndarray]]:
    if config.task == "classify":
        return [("PROBABILITIES", np.concatenate(results))]
    forecasts: list[Forecasts] = results
    mean = np.concatenate([r.mean for r in forecasts])
    arrays = {"FORECAST": mean}
    for level in {int(n.split("_")[1]) for n in wanted if n.startswith(("LOWER_", "UPPER_"))}:
        arrays[f"LOWER_{level}"] = np.concatenate([r.intervals[level][0] for r in forecasts])
        arrays[f"UPPER_{level}"] = np.concatenate([r.intervals[level][1] for r in forecasts])
    finite = np.all([np.isfinite(arrays[n]).all(axis=(1, 2)) for n in wanted if n != GUARDED] or [True], axis=0)
    arrays[GUARDED] = np.concatenate([r.guarded_mask() for r in forecasts])
    if not finite.all():
        raise Problem(400, f"{INPUT}[{int(np.argmin(finite))}]: the model's forecast is not finite for these values "
                      "(far outside what it was trained on)")
    return [(n, arrays[n]) for n in wanted]


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "unreadable request, wrong shape or datatype", "model": InferenceErrorBody},
    404: {"description": "unknown model or version", "model": InferenceErrorBody},
    413: {"description": "too many series or a body over the limit", "model": InferenceErrorBody},
    503: {"description": "overloaded: see Retry-After", "model": InferenceErrorBody},
}


@router.post("/v2/models/{name}/infer", openapi_extra=INFER_OPENAPI, responses=ERRORS)
async def infer(request: Request, name: str) -> Response:
    """Forecast (or classify) a batch of windows through the live version, on the same batcher as /v1."""
    return await _infer(request, name, None)


@router.post("/v2/models/{name}/versions/{version}/infer", openapi_extra=INFER_OPENAPI, responses=ERRORS)
async def infer_version(request: Request, name: str, version: str) -> Response:
    """The same through one version (`v2` or `2`)."""
    return await _infer(request, name, _version(version))


# Referred to by $ref in INFER_OPENAPI: the app's OpenAPI document carries their schemas.
BODIES = (InferenceRequestBody, InferenceResponseBody, InferenceErrorBody)
