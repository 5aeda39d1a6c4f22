"""The FastAPI application: lifespan (registry, batchers, job runner), middleware, routers, docs."""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from model import store
from service import errors
from service.deps import needs_key
from service.docs import install_docs
from service.jobs import JobRunner, JobStore
from service.leader import Leadership, startup_lock
from service.openapi import problem_openapi
from service.page import install_page
from service.registry import Registry, seed_defaults
from service.routes import files, health, models, plot, predict, series, training, v2
from service.settings import Settings, get_settings
from service.telemetry import Telemetry

log = logging.getLogger("service")


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


async def _refresh(telemetry: Telemetry, registry: Registry) -> None:
    """Several workers: each publishes its queue depths once a second for whichever one is scraped."""
    while True:
        telemetry.refresh(registry)
        await asyncio.sleep(1)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = app.state
        root = settings.store
        root.mkdir(parents=True, exist_ok=True)
        leadership = Leadership(root)
        with startup_lock(root):  # several workers may start at once on this store
            if leadership.try_acquire():  # the first worker: leftovers of a previous run go
                store.clean_temporary(root)
            if settings.seed_defaults:
                seed_defaults(root)
        registry = Registry.create(root, settings.device, settings.torch_threads, chunk=settings.chunk_size,
                                   max_batch_size=settings.max_batch_size, max_wait_s=settings.max_wait_ms / 1000,
                                   queue_limit=settings.queue_limit)
        registry.observe = state.telemetry.batch_observer
        state.registry = registry
        jobs = JobStore(root / "jobs.sqlite3")
        state.jobs = jobs

        async def on_success(job: dict[str, Any]) -> None:
            name, version = job["name"], job["version"]
            # The model's only version goes live, whether or not this worker's store follower loaded it
            # first: a version that cannot load then fails its job ("saved but not loaded").
            first = store.versions(registry.root, name) == [version]
            promote = job["request"]["options"].get("promote")
            if promote == "if_better":  # decided in the worker, on the job's own test part (model/gate.py)
                promote = bool((job.get("metrics") or {}).get("promotion", {}).get("promote"))
                log.info("job %s: %s %s %s", job["id"], name, version,
                         (job.get("metrics") or {}).get("promotion", {}).get("reason"))
            if first or promote:
                await registry.promote(name, version)

        runner = JobRunner(jobs, root, on_success, settings.max_concurrent_jobs, settings.training_threads,
                           settings.device, leadership)
        state.runner = runner
        await registry.load_all()
        runner.start()
        telemetry: Telemetry = state.telemetry
        refresher = asyncio.get_running_loop().create_task(_refresh(telemetry, registry)) \
            if telemetry.directory else None
        state.ready = True
        log.info("ready: %d model(s) on %s (pid %d)", len(registry.models), registry.device, os.getpid())
        try:
            yield
        finally:
            state.ready = False
            if refresher:
                refresher.cancel()
            await runner.stop()
            await registry.close()
            telemetry.close()

    app = FastAPI(
        title="gru-forecast",
        version="0.1.0",
        description="GRU forecasts over HTTP: validated windows, dynamic batching, training jobs, model versions.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.telemetry = Telemetry()
    app.state.ready = False
    install_docs(app)
    install_page(app)
    errors.install(app)
    app.add_middleware(errors.BodyLimit, max_bytes=settings.max_body_bytes, timeout_s=settings.body_timeout_s)
    app.add_middleware(RequestTimer, latency=app.state.telemetry.latency)
    for router in (health.router, models.router, series.router, predict.router, files.router, plot.router,
                   training.router, v2.router):
        app.include_router(router)
    app.openapi = problem_openapi(app, needs_key, v2.BODIES)  # type: ignore[method-assign]
    return app
