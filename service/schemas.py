"""Request and response bodies of the HTTP API, with a ready example per bundled model."""

from __future__ import annotations

import math
from datetime import date, timedelta
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model, field_validator

from model.config import Option, options
from model.store import NAME_REGEX, VERSION_REGEX
from model.windows import DataError, normalize_frequency
from service.job_state import JobState

Finite = Annotated[float, Field(allow_inf_nan=False)]
Name = Annotated[str, Field(pattern=NAME_REGEX, description="letters, digits, - and _")]


class SeriesInput(BaseModel):
    model_config = ConfigDict(extra="forbid")
    id: str | None = Field(None, max_length=200, description="echoed back, to match answers to series")
    # Homogeneous: one number per point, or a list per point; a mix is refused here (422).
    values: list[Finite] | list[list[Finite]] = Field(
        ..., description="the target's history, oldest first (a list per point for multi-target models)"
    )
    covariates: dict[str, list[Finite]] = Field(default_factory=dict, description="covariate name -> history")
    timestamps: list[str] | None = Field(None, description="time of each point; the answer then carries future ones")


class ForecastRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    series: list[SeriesInput] = Field(..., min_length=1)
    horizon: int | None = Field(None, ge=1, description="steps to return (at most the model's horizon)")
    levels: list[int] = Field(default_factory=list, description="prediction interval levels in percent")


class Interval(BaseModel):
    lower: list[float] | list[list[float]]
    upper: list[float] | list[list[float]]


class SeriesForecast(BaseModel):
    id: str | None = None
    mean: list[float] | list[list[float]] = Field(..., description="forecast per step (per target if several)")
    timestamps: list[str] | None = None
    intervals: dict[str, Interval] = Field(default_factory=dict, description="level -> bounds")
    guarded: bool = Field(False, description="the window spread wider than any the model was trained on, so the "
                          "forecast is the base (naive, seasonal naive or seasonal_level) and the linear skip, "
                          "without the GRU")


class ForecastResponse(BaseModel):
    model: str
    version: str
    horizon: int
    forecasts: list[SeriesForecast]


class ClassifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    series: list[SeriesInput] = Field(..., min_length=1, description="each with covariates; values may be []")


class SeriesClasses(BaseModel):
    id: str | None = None
    predicted: str
    probabilities: dict[str, float]


class ClassifyResponse(BaseModel):
    model: str
    version: str
    results: list[SeriesClasses]


EVALUATE_MAX_SERIES = 64  # series in one /evaluate request (413 beyond, as /forecast over its limit)


class EvaluateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    series: list[SeriesInput] = Field(..., min_length=1, description=f"at most {EVALUATE_MAX_SERIES}")


class SystemMetrics(BaseModel):
    mse: float
    mae: float
    rmse: float
    smape: float = Field(..., description="symmetric MAPE in percent (0-200)")
    mase: float = Field(..., description="MAE divided by mase_scale")


class SeriesEvaluation(BaseModel):
    id: str | None = None
    windows: int = Field(..., description="forecast windows scored: every input_size + horizon stretch of the series")
    mase_scale: list[float] = Field(..., description="MASE's denominator per target: the one-step naive error on "
                                    "the model's training part (so MASE compares across series); a panel model's: "
                                    "the series' own, over the points sent")
    model: SystemMetrics
    naive: SystemMetrics
    seasonal_naive: SystemMetrics
    coverage: dict[str, float] | None = Field(None, description="share of actual values inside the 80% and 95% bands")
    guarded: int = Field(0, description="windows spread wider than any the model trained on, answered by its base "
                         "and linear part without the GRU")


class EvaluateResponse(BaseModel):
    model: str
    version: str
    results: list[SeriesEvaluation]


class TrainExtras(BaseModel):
    """What a job takes beside the configs' options: where its times are, and whether it goes live."""

    model_config = ConfigDict(extra="forbid")
    time_column: str | None = None
    promote: bool | Literal["if_better"] = Field(
        False, description="make the new version live even if the model has one; \"if_better\": only if it "
        "beats the live version on the new job's test part (the job's metrics.promotion says why)")

    @field_validator("frequency", check_fields=False)
    @classmethod
    def _known_frequency(cls, value: str | None) -> str | None:
        try:
            return normalize_frequency(value)
        except DataError as exc:
            raise ValueError(str(exc)) from exc


def _field(option: Option) -> tuple[Any, Any]:
    """An option of model/config.py as a pydantic field: its type, default, bounds and description."""
    limits: dict[str, Any] = {}
    bounds = option.bounds
    if bounds is not None and option.kind in (list, str):
        limits = {"min_length": bounds.low or None, "max_length": bounds.high}
    elif bounds is not None:
        limits = {"gt" if bounds.low_open else "ge": bounds.low, "lt" if bounds.high_open else "le": bounds.high}
    default = {"default_factory": lambda: list(option.default)} if option.kind is list else {"default": option.default}
    return option.hint, Field(**default, **{k: v for k, v in limits.items() if v is not None},
                              description=option.doc)


def _train_options() -> type[TrainExtras]:
    offered: dict[str, Any] = {name: _field(o) for name, o in options().items() if o.offered == "all"}
    return create_model("TrainOptions", __base__=TrainExtras, __doc__="The training options of model/ (ModelConfig "
                        "+ TrainConfig: same names, defaults, choices and bounds, from model/config.py's table), "
                        "the time column and promote.", **offered)


if TYPE_CHECKING:
    TrainOptions = TrainExtras  # mypy sees the extras; the options are read through model_dump()
else:
    TrainOptions = _train_options()


class TrainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: Name
    data: dict[str, list[Finite | str]] = Field(..., description="column name -> values (a time column may be text)")
    options: TrainOptions = Field(default_factory=lambda: TrainOptions())


class JobStatus(BaseModel):
    id: str
    url: str
    name: str
    status: JobState
    epoch: int
    epochs: int
    train_loss: float | None
    val_loss: float | None
    metrics: dict[str, Any] | None
    version: str | None
    error: str | None
    note: str | None = Field(None, description="what a user should know, e.g. that the model loses to a baseline")
    series: int | None = Field(None, description="a panel model's series trained on (null: not a panel, or not "
                               "trained yet)")
    short_series: dict[str, str] | None = Field(None, description="a panel's series left out of training, id -> "
                                                "why (too short, a bad value)")
    created: str
    updated: str


class ModelSummary(BaseModel):
    name: str
    live_version: str | None
    available: bool
    reason: str | None = None
    task: str | None = None
    input_size: int | None = None
    horizon: int | None = None
    targets: list[str] = Field(default_factory=list)
    covariates: list[str] = Field(default_factory=list)
    calendar: str | None = Field(None, description="\"year\": the model reads the time of year, so every series "
                                 "needs its timestamps")
    min_points: int | None = Field(None, description="the fewest points a series needs to be forecast: input_size, "
                                   "or fewer for a panel model (its shorter series are padded)")
    id_column: str | None = Field(None, description="a panel model's column naming each series (null: one series)")
    series: int | None = Field(None, description="a panel model's series trained on")
    warning: str | None = Field(None, description="what to know before trusting the live version, e.g. that its "
                                "interval coverage on the test part was far from nominal")


class ModelCard(ModelSummary):
    versions: list[str]
    manifest: dict[str, Any] | None = None


class PromoteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: Annotated[str, Field(pattern=VERSION_REGEX)]


def _ramp(start: float, step: float, n: int) -> list[float]:
    return [round(start + step * i + (3 * (i % 7) - 9) * step, 3) for i in range(n)]


FORECAST_EXAMPLES: dict[str, Any] = {
    "stock": {
        "summary": "stock: last 30 daily closes (USD), 5 trading days ahead, 80/95% intervals",
        "value": {"series": [{"id": "GOOG", "values": _ramp(780.0, 0.8, 30)}], "levels": [80, 95]},
    },
    "weather": {
        "summary": "weather: 28 days of Seattle max temperature (deg C) with its covariates",
        "value": {
            "series": [{
                "values": _ramp(8.0, 0.1, 28),
                "covariates": {"temp_min": _ramp(2.0, 0.1, 28), "precipitation": [0.0] * 28, "wind": [3.0] * 28},
                "timestamps": [f"2016-01-{d:02d}" for d in range(1, 29)],
            }],
            "levels": [80],
        },
    },
    "ecg": {
        "summary": "ecg: 180 samples (0.5 s at 360 Hz, mV), the next 18",
        "value": {"series": [{"values": _ramp(-0.3, 0.002, 180)}]},
    },
    "sf-temps": {
        "summary": "sf-temps: a week of hourly San Francisco temperatures (deg F), the next 24 hours",
        "value": {"series": [{"values": [round(55 + 6 * math.sin((h - 9) / 24 * 2 * math.pi), 1) for h in range(168)],
                              "timestamps": [f"2011-01-{1 + h // 24:02d}T{h % 24:02d}:00:00" for h in range(168)]}],
                  "levels": [80, 95]},
    },
}


def _days(n: int) -> list[str]:
    start = date(2024, 1, 1)
    return [(start + timedelta(days=i)).isoformat() for i in range(n)]


CLASSIFY_EXAMPLES: dict[str, Any] = {
    "weather-type": {
        "summary": "weather-type: 14 days of Seattle weather -> tomorrow's type (sun, rain, drizzle, snow, fog)",
        "value": {"series": [{"id": "seattle", "values": [], "covariates": {
            "precipitation": [0.0, 2.5, 8.1, 0.0, 0.0, 1.2, 0.0, 0.0, 4.3, 10.2, 0.5, 0.0, 0.0, 0.0],
            "temp_max": _ramp(9.0, 0.2, 14), "temp_min": _ramp(3.0, 0.1, 14), "wind": [3.1] * 14},
            "timestamps": _days(14)}]},  # the model reads the time of year (model/calendar.py)
    },
}
EVALUATE_EXAMPLES: dict[str, Any] = {
    "stock": {
        "summary": "stock: score the model on 60 later closes beside naive and seasonal naive",
        "value": {"series": [{"id": "GOOG", "values": _ramp(780.0, 0.8, 60)}]},
    },
}
TRAIN_EXAMPLES: dict[str, Any] = {
    "daily": {
        "summary": "a daily series with dates: 14 days in, 3 out, 5 epochs",
        "value": {"name": "my-daily", "data": {"date": _days(200), "value": _ramp(20.0, 0.05, 200)},
                  "options": {"targets": ["value"], "time_column": "date", "frequency": "D", "input_size": 14,
                              "horizon": 3, "epochs": 5}},
    },
    "gated": {
        "summary": "retrain an existing model; it goes live only if it beats the live version",
        "value": {"name": "my-daily", "data": {"date": _days(200), "value": _ramp(20.0, 0.05, 200)},
                  "options": {"targets": ["value"], "time_column": "date", "frequency": "D", "input_size": 14,
                              "horizon": 3, "promote": "if_better"}},
    },
}
CSV_OPTIONS_EXAMPLE = ('{"targets": ["close"], "time_column": "date", "frequency": "B", "input_size": 30, '
                       '"horizon": 5}')
PROMOTE_EXAMPLES: dict[str, Any] = {"rollback": {"summary": "serve v1 (again)", "value": {"version": "v1"}}}


# Open Inference Protocol v2 (service/routes/v2.py). The bodies are read by service/inference_protocol.py
# (JSON or binary tensors); these models document them.
class InferenceTensor(BaseModel):
    name: str = Field(description="INPUT; or FORECAST, LOWER_80, ... in an answer")
    shape: list[int] = Field(description="[series, steps, features] for INPUT")
    datatype: str = Field(description="FP32 (FP64, FP16, INT32 and INT64 are read too)")
    data: list[Any] | None = Field(None, description="row-major values; absent when the tensor is binary")
    parameters: dict[str, Any] | None = Field(None, description="binary_data_size: bytes of this tensor after "
                                              "the JSON header (binary tensor extension)")


class InferenceRequestedOutput(BaseModel):
    name: str
    parameters: dict[str, Any] | None = Field(None, description="binary_data: true for raw bytes")


class InferenceRequestBody(BaseModel):
    id: str | None = None
    parameters: dict[str, Any] | None = Field(None, description="binary_data_output: every output as raw bytes")
    inputs: list[InferenceTensor]
    outputs: list[InferenceRequestedOutput] | None = Field(None, description="default: every output")


class InferenceResponseBody(BaseModel):
    model_config = ConfigDict(protected_namespaces=())
    model_name: str
    model_version: str
    id: str | None = None
    outputs: list[InferenceTensor]


class InferenceErrorBody(BaseModel):
    error: str


class TensorMetadata(BaseModel):
    name: str
    datatype: str
    shape: list[int]


class ModelMetadata(BaseModel):
    name: str
    versions: list[str]
    platform: str
    inputs: list[TensorMetadata]
    outputs: list[TensorMetadata]
    parameters: dict[str, Any] = Field(description="version, task, features, targets, frequency, season_length, "
                                       "classes, interval_levels")


class ServerMetadata(BaseModel):
    name: str
    version: str
    extensions: list[str]


INFER_EXAMPLE: dict[str, Any] = {
    "inputs": [{"name": "INPUT", "shape": [1, 30, 1], "datatype": "FP32", "data": _ramp(780.0, 0.8, 30)}],
    "outputs": [{"name": "FORECAST"}, {"name": "LOWER_80"}, {"name": "UPPER_80"}],
}
