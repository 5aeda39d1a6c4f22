"""The FastAPI application: routes, lifespan (registry, batchers, job runner), docs served offline."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import Body, Depends, FastAPI, File, Form, Query, Request, Response, UploadFile
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model import store
from model.config import ModelConfig
from model.evaluate import evaluate_forecaster
from model.windows import DataError, Series, prepare_series, split_windows
from service import errors
from service.batcher import BatcherClosed, QueueFull
from service.docs import install_docs
from service.errors import Problem
from service.forecasting import build_forecasts, build_windows, check_request_size
from service.jobs import JobRunner, JobStore
from service.openapi import problem_openapi
from service.registry import LoadedModel, ModelUnavailable, Registry, UnknownModel, seed_defaults
from service.schemas import (
    FORECAST_EXAMPLES,
    ClassifyRequest,
    ClassifyResponse,
    EvaluateRequest,
    ForecastRequest,
    ForecastResponse,
    JobStatus,
    ModelCard,
    ModelSummary,
    PromoteRequest,
    SeriesClasses,
    TrainOptions,
    TrainRequest,
)
from service.settings import Settings, get_settings
from service.telemetry import Telemetry

log = logging.getLogger("service")
MAX_JOB_ROWS = 2_000_000


def _state(request: Request) -> Any:
    return request.app.state


def require_key(request: Request) -> None:
    """State-changing routes: with an API key configured, Bearer or X-API-Key must match it."""
    expected = request.app.state.settings.api_key
    if not expected:
        return
    given = request.headers.get("x-api-key") or ""
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        given = auth[7:].strip()
    if not secrets.compare_digest(given.encode(), expected.encode()):
        raise Problem(401, "missing or wrong API key: send Authorization: Bearer KEY or X-API-Key: KEY",
                      headers={"WWW-Authenticate": "Bearer"})


Auth = Depends(require_key)


async def _model(request: Request, name: str, version: str | None = None) -> LoadedModel:
    try:
        return await _state(request).registry.get_version(name, version)  # type: ignore[no-any-return]
    except UnknownModel as exc:
        raise Problem(404, str(exc)) from exc
    except ModelUnavailable as exc:
        raise Problem(503, str(exc), headers={"Retry-After": "60"}) from exc


async def _submit(request: Request, name: str, version: str | None,
                  items: list[Any]) -> tuple[LoadedModel, list[Any]]:
    """Queue items on the model's batcher; a swap in between retries on the new version once."""
    for _ in range(2):
        loaded = await _model(request, name, version)
        try:
            return loaded, await loaded.batcher.submit(items)
        except QueueFull as exc:
            raise Problem(503, f"overloaded: {exc}; retry shortly", headers={"Retry-After": "1"}) from exc
        except BatcherClosed:
            continue
    raise Problem(503, "the server is shutting down", headers={"Retry-After": "5"})


def _summary(registry: Registry, name: str) -> dict[str, Any]:
    loaded = registry.models.get(name)
    live = loaded.version if loaded else store.live_version(registry.root, name)
    summary: dict[str, Any] = {"name": name, "live_version": live, "available": loaded is not None,
                               "reason": registry.errors.get(name)}
    if loaded:
        m = loaded.manifest
        summary.update(task=m["task"], input_size=m["input_size"], horizon=m["horizon"], targets=m["targets"],
                       covariates=m["covariates"])
    return summary


def _job_view(request: Request, job: dict[str, Any]) -> JobStatus:
    return JobStatus(url=str(request.url_for("get_job", job_id=job["id"])),
                     **{k: v for k, v in job.items() if k in JobStatus.model_fields and k != "url"})


class RequestTimer:
    """Latency by route and status, as plain ASGI (BaseHTTPMiddleware costs more than the model call)."""

    def __init__(self, app: ASGIApp, latency: Any) -> None:
        self.app, self.latency = app, latency

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = [500]

        async def send_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.latency.labels(path, str(status[0])).observe(time.perf_counter() - started)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        root = settings.store
        root.mkdir(parents=True, exist_ok=True)
        store.clean_temporary(root)
        if settings.seed_defaults:
            seed_defaults(root)
        registry = Registry.create(root, settings.device, settings.torch_threads,
                                   max_batch_size=settings.max_batch_size, max_wait_s=settings.max_wait_ms / 1000,
                                   queue_limit=settings.queue_limit)
        registry.observe = state.telemetry.batch_observer
        state.registry = registry
        jobs = JobStore(root / "jobs.sqlite3")
        interrupted = jobs.mark_interrupted()
        if interrupted:
            log.warning("%d training job(s) were interrupted by the last shutdown", interrupted)
        state.jobs = jobs

        async def on_success(job: dict[str, Any]) -> None:
            name, version = job["name"], job["version"]
            first = name not in registry.models and name not in registry.errors
            if first or job["request"]["options"].get("promote"):
                store.set_live(root, name, version)
                await registry.swap(name, version)

        runner = JobRunner(jobs, root, on_success, settings.max_concurrent_jobs, settings.training_threads,
                           settings.device)
        state.runner = runner
        await registry.load_all()
        runner.start()
        state.ready = True
        log.info("ready: %d model(s) on %s", len(registry.models), registry.device)
        try:
            yield
        finally:
            state.ready = False
            await runner.stop()
            await registry.close()

    app = FastAPI(
        title="gru-forecast",
        version="0.1.0",
        description="GRU forecasts over HTTP: validated windows, dynamic batching, training jobs, model versions.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    install_docs(app)
    app.state.settings = settings
    app.state.telemetry = Telemetry()
    app.state.ready = False
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes)

    app.add_middleware(RequestTimer, latency=app.state.telemetry.latency)
    register_routes(app)
    app.openapi = problem_openapi(app, needs_key)  # type: ignore[method-assign]
    return app


def needs_key(method: str, path: str) -> bool:
    """The state-changing routes: everything but reading and the forecast family."""
    return method.lower() in ("post", "put", "patch", "delete") and not path.endswith(
        ("/forecast", "/classify", "/evaluate"))


def register_routes(app: FastAPI) -> None:  # noqa: C901 - one place lists every route
    @app.get("/health/live", tags=["health"])
    async def live() -> dict[str, str]:
        return {"status": "alive"}

    @app.get("/health/ready", tags=["health"], responses={503: {"description": "models not loaded yet"}})
    async def ready(request: Request) -> Response:
        if not _state(request).ready:
            return errors.problem_response(request, 503, "models are still loading", headers={"Retry-After": "1"})
        return Response(json.dumps({"status": "ready", "models": sorted(_state(request).registry.models)}),
                        media_type="application/json")

    @app.get("/metrics", tags=["health"], response_class=Response)
    async def metrics(request: Request) -> Response:
        state = _state(request)
        telemetry: Telemetry = state.telemetry
        if getattr(state, "registry", None):
            telemetry.models_loaded.set(len(state.registry.models))
            for name, loaded in state.registry.models.items():
                telemetry.queue_depth.labels(name).set(loaded.batcher.depth)
            for status, count in state.jobs.counts().items():
                telemetry.jobs.labels(status).set(count)
        return Response(generate_latest(telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/v1/models", tags=["models"])
    async def list_models(request: Request) -> list[ModelSummary]:
        registry: Registry = _state(request).registry
        names = sorted(set(registry.names()) | set(registry.models) | set(registry.errors))
        return [ModelSummary(**_summary(registry, n)) for n in names]

    @app.get("/v1/models/{name}", tags=["models"], responses={404: {"description": "unknown model"}})
    async def model_card(request: Request, name: str) -> ModelCard:
        registry: Registry = _state(request).registry
        if not store.NAME_PATTERN.match(name) or name not in set(registry.names()) | set(registry.errors):
            raise Problem(404, f"unknown model {name!r}")
        loaded = registry.models.get(name)
        return ModelCard(**_summary(registry, name), versions=store.versions(registry.root, name),
                         manifest=loaded.manifest if loaded else None)

    @app.post("/v1/models/{name}/forecast", tags=["forecast"], response_model=ForecastResponse,
              responses={404: {"description": "unknown model"}, 413: {"description": "too many series or points"},
                         422: {"description": "invalid window"}, 503: {"description": "overloaded"}})
    async def forecast(
        request: Request, name: str,
        body: Annotated[ForecastRequest, Body(openapi_examples=FORECAST_EXAMPLES)],
        version: Annotated[str | None, Query(pattern=r"^v[1-9][0-9]{0,8}$", description="default: live")] = None,
    ) -> Response:
        settings: Settings = _state(request).settings
        check_request_size(body.series, settings.max_series, settings.max_points)
        loaded = await _model(request, name, version)
        items, horizon = build_windows(loaded.artifact.config, body, settings.max_batch_size)
        loaded, results = await _submit(request, name, version, items)
        payload = {"model": name, "version": loaded.version, "horizon": horizon,
                   "forecasts": build_forecasts(loaded.artifact.config, body, results, horizon)}
        return Response(json.dumps(payload, separators=(",", ":")), media_type="application/json")

    @app.post("/v1/models/{name}/classify", tags=["forecast"], responses={404: {"description": "unknown model"}})
    async def classify(
        request: Request, name: str, body: ClassifyRequest,
        version: Annotated[str | None, Query(pattern=r"^v[1-9][0-9]{0,8}$", description="default: live")] = None,
    ) -> ClassifyResponse:
        settings: Settings = _state(request).settings
        check_request_size(body.series, settings.max_series, settings.max_points)
        loaded = await _model(request, name, version)
        config = loaded.artifact.config
        if config.task != "classify":
            raise Problem(422, f"model {name!r} forecasts; use /v1/models/{name}/forecast")
        items, _ = build_windows(config, body, settings.max_batch_size)
        loaded, results = await _submit(request, name, version, items)
        out = []
        for series, probabilities in zip(body.series, np.concatenate(results), strict=True):
            classes = loaded.artifact.config.classes
            out.append(SeriesClasses(id=series.id, predicted=classes[int(np.argmax(probabilities))],
                                     probabilities={c: float(p) for c, p in zip(classes, probabilities, strict=True)}))
        return ClassifyResponse(model=name, version=loaded.version, results=out)

    @app.post("/v1/models/{name}/evaluate", tags=["forecast"], responses={404: {"description": "unknown model"}})
    async def evaluate(request: Request, name: str, body: EvaluateRequest) -> dict[str, Any]:
        settings: Settings = _state(request).settings
        check_request_size(body.series, settings.max_series, settings.max_points)
        loaded = await _model(request, name)
        config, artifact = loaded.artifact.config, loaded.artifact
        results = []
        for i, series in enumerate(body.series):
            frame = pd.DataFrame({c: s for c, s in series.covariates.items()})
            values = np.asarray(series.values, dtype=np.float64)
            if config.task == "classify":
                raise Problem(422, "evaluate takes forecasters; classifiers report their test metrics in the card")
            for j, target in enumerate(config.targets):
                frame[target] = values if values.ndim == 1 else values[:, j]
            try:
                prepared: Series = prepare_series(frame, ModelConfig.from_dict(config.to_dict()))
                scale = np.asarray(artifact.manifest["mase_scale"])
                result = await asyncio.get_running_loop().run_in_executor(
                    None, evaluate_forecaster, artifact.predictor, prepared, scale)
            except (DataError, ValueError) as exc:
                raise Problem(422, f"series[{i}]: {exc}", [{"field": f"series[{i}]", "reason": str(exc)}]) from exc
            results.append({"id": series.id, **result})
        return {"model": name, "version": loaded.version, "results": results}

    @app.post("/v1/models/{name}/promote", tags=["models"], dependencies=[Auth],
              responses={404: {"description": "unknown model or version"}, 401: {"description": "API key needed"},
                         409: {"description": "the version does not load"}})
    async def promote(request: Request, name: str, body: PromoteRequest) -> ModelSummary:
        registry: Registry = _state(request).registry
        if not store.NAME_PATTERN.match(name) or body.version not in store.versions(registry.root, name):
            raise Problem(404, f"model {name!r} has no version {body.version!r}")
        try:
            await registry.swap(name, body.version)
        except Exception as exc:  # noqa: BLE001 - a version that does not load stays unpromoted
            raise Problem(409, f"version {body.version} does not load: {exc}") from exc
        store.set_live(registry.root, name, body.version)
        return ModelSummary(**_summary(registry, name))

    @app.delete("/v1/models/{name}/versions/{version}", tags=["models"], dependencies=[Auth], status_code=204,
                responses={404: {"description": "unknown version"}, 409: {"description": "version is live"}})
    async def delete_version(request: Request, name: str, version: str) -> Response:
        registry: Registry = _state(request).registry
        if not store.NAME_PATTERN.match(name) or version not in store.versions(registry.root, name):
            raise Problem(404, f"model {name!r} has no version {version!r}")
        live = registry.models[name].version if name in registry.models else store.live_version(registry.root, name)
        if version == live:
            raise Problem(409, f"version {version} of {name!r} is live: promote another version first")
        store.delete_version(registry.root, name, version)
        return Response(status_code=204)

    def _enqueue(request: Request, name: str, options: TrainOptions, payload: dict[str, Any],
                 frame: pd.DataFrame) -> JobStatus:
        """Check the data against the options now (422 at once), then queue the job."""
        config = ModelConfig.from_dict(options.model_dump())
        try:
            series = prepare_series(frame, config, options.time_column, options.interpolate)
            split_windows(len(series.values), options.input_size, options.horizon, options.val_fraction,
                          options.test_fraction)
        except DataError as exc:
            raise Problem(422, str(exc), [{"field": "data", "reason": str(exc)}]) from exc
        state = _state(request)
        job_id = state.jobs.create(name, {"name": name, "options": options.model_dump(), **payload}, options.epochs)
        state.runner.wake()
        job = state.jobs.get(job_id)
        return _job_view(request, job)

    @app.post("/v1/train", tags=["training"], status_code=202, dependencies=[Auth],
              responses={401: {"description": "API key needed"}, 422: {"description": "unusable data or options"}})
    async def train_json(request: Request, body: TrainRequest, response: Response) -> JobStatus:
        lengths = {len(v) for v in body.data.values()}
        if len(lengths) > 1:
            raise Problem(422, f"data columns differ in length: {sorted(lengths)}")
        if sum(len(v) for v in body.data.values()) > MAX_JOB_ROWS:
            raise Problem(413, f"training data over {MAX_JOB_ROWS} values")
        job = _enqueue(request, body.name, body.options, {"data": body.data}, pd.DataFrame(body.data))
        response.headers["Location"] = job.url
        return job

    @app.post("/v1/train/csv", tags=["training"], status_code=202, dependencies=[Auth],
              responses={400: {"description": "malformed CSV"}, 401: {"description": "API key needed"}})
    async def train_csv(
        request: Request, response: Response,
        file: Annotated[UploadFile, File(description="CSV with a header row")],
        name: Annotated[str, Form(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")],
        options: Annotated[str, Form(description="TrainOptions as JSON")] = "{}",
    ) -> JobStatus:
        try:
            parsed = TrainOptions.model_validate_json(options)
        except ValidationError as exc:
            raise Problem(422, f"options: {exc.errors()[0]['msg']}",
                          [{"field": "options." + ".".join(map(str, e["loc"])), "reason": e["msg"]}
                           for e in exc.errors()]) from exc
        raw = await file.read()
        try:
            text = raw.decode("utf-8-sig")  # a BOM from spreadsheet exports is not part of the header
            frame = pd.read_csv(io.StringIO(text), sep=None, engine="python")
        except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, csv.Error) as exc:
            raise Problem(400, f"malformed CSV: {exc}") from exc
        job = _enqueue(request, name, parsed, {"csv": text}, frame)
        response.headers["Location"] = job.url
        return job

    @app.get("/v1/jobs", tags=["training"])
    async def list_jobs(request: Request) -> list[JobStatus]:
        return [_job_view(request, j) for j in _state(request).jobs.list()]

    @app.get("/v1/jobs/{job_id}", tags=["training"], name="get_job", responses={404: {"description": "unknown job"}})
    async def get_job(request: Request, job_id: str) -> JobStatus:
        job = _state(request).jobs.get(job_id)
        if job is None:
            raise Problem(404, f"unknown job {job_id!r}")
        return _job_view(request, job)

    @app.post("/v1/jobs/{job_id}/cancel", tags=["training"], dependencies=[Auth],
              responses={404: {"description": "unknown job"}, 401: {"description": "API key needed"}})
    async def cancel_job(request: Request, job_id: str) -> JobStatus:
        jobs: JobStore = _state(request).jobs
        if jobs.get(job_id) is None:
            raise Problem(404, f"unknown job {job_id!r}")
        jobs.request_cancel(job_id)
        job = jobs.get(job_id)
        assert job is not None
        return _job_view(request, job)
