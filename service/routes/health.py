"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import json
import os

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST

from service.deps import state
from service.errors import problem_response
from service.telemetry import Telemetry

router = APIRouter(tags=["health"])


@router.get("/health/live")
async def live() -> dict[str, str]:
    """200 while the process runs (for a container's liveness probe)."""
    return {"status": "alive"}


@router.get("/health/ready", responses={503: {"description": "models not loaded yet"}})
async def ready(request: Request) -> Response:
    """200 with the loaded models once the server can forecast; 503 with Retry-After until then."""
    if not state(request).ready:
        return problem_response(request, 503, "models are still loading", headers={"Retry-After": "1"})
    # pid: which worker process answered (with several, each connection lands on one of them)
    return Response(json.dumps({"status": "ready", "models": sorted(state(request).registry.models),
                                "pid": os.getpid()}), media_type="application/json")


@router.get("/metrics", response_class=Response)
async def metrics(request: Request) -> Response:
    """Prometheus text format: latency by route, forecasts served, batch sizes, queue depth and wait,
    compute time, jobs by status, models loaded; summed over all worker processes."""
    app_state = state(request)
    telemetry: Telemetry = app_state.telemetry
    if getattr(app_state, "registry", None):
        telemetry.refresh(app_state.registry)
        for status, count in app_state.jobs.counts().items():
            telemetry.jobs.labels(status).set(count)
    return Response(telemetry.exposition(), media_type=CONTENT_TYPE_LATEST)
