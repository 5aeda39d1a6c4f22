"""The two reference servers of the serving benchmark, loading the same default model file as the service.

    python -m benchmarks.reference_servers straightforward --port 8101   # one forward per request
    python -m benchmarks.reference_servers floor --port 8102             # no model: FastAPI + JSON alone
    ... --workers 2                                                      # N processes, uvicorn's supervisor

Written as a tutorial would: a sync `def` route, pydantic in and out, torch as it comes.
"""

from __future__ import annotations

import argparse
import os

import numpy as np
import torch
import uvicorn
from fastapi import FastAPI
from pydantic import BaseModel

from model.artifact import load_artifact
from model.cli import PRETRAINED


class SeriesIn(BaseModel):
    values: list[float]


class ForecastIn(BaseModel):
    series: list[SeriesIn]


class SeriesOut(BaseModel):
    mean: list[float]


class ForecastOut(BaseModel):
    model: str
    forecasts: list[SeriesOut]


def straightforward(model: str) -> FastAPI:
    app = FastAPI()
    artifact = load_artifact(PRETRAINED / model / "v1")
    predictor, size = artifact.predictor, artifact.config.input_size

    @app.post("/v1/models/{name}/forecast")
    def forecast(name: str, body: ForecastIn) -> ForecastOut:
        windows = np.array([s.values[-size:] for s in body.series], dtype=np.float32)[:, :, None]
        with torch.no_grad():
            mean, _ = predictor.forecast_array(windows)
        return ForecastOut(model=name, forecasts=[SeriesOut(mean=m[:, 0].tolist()) for m in mean])

    return app


def floor(model: str) -> FastAPI:
    app = FastAPI()
    horizon = load_artifact(PRETRAINED / model / "v1").config.horizon
    answer = [0.0] * horizon

    @app.post("/v1/models/{name}/forecast")
    def forecast(name: str, body: ForecastIn) -> ForecastOut:
        return ForecastOut(model=name, forecasts=[SeriesOut(mean=answer) for _ in body.series])

    return app


def straightforward_app() -> FastAPI:
    return straightforward(os.environ.get("REFERENCE_MODEL", "stock"))


def floor_app() -> FastAPI:
    return floor(os.environ.get("REFERENCE_MODEL", "stock"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("kind", choices=["straightforward", "floor"])
    parser.add_argument("--port", type=int, default=8101)
    parser.add_argument("--model", default="stock")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    args = parser.parse_args()
    if args.workers == 1:
        app = (straightforward if args.kind == "straightforward" else floor)(args.model)
        uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")
    else:  # the same app in N processes, laid out as the service's (service/supervisor.py: uvicorn's
        # supervisor, a SO_REUSEPORT socket per worker), so the comparison is process for process
        from service import supervisor

        os.environ["REFERENCE_MODEL"] = args.model
        torch.set_num_threads(1)
        supervisor.run(uvicorn.Config(f"benchmarks.reference_servers:{args.kind}_app", factory=True,
                                      host="127.0.0.1", port=args.port, log_level="warning", workers=args.workers))
