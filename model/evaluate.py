"""Metrics of a predictor on a series, beside the naive, seasonal-naive and majority baselines."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from model import metrics
from model.predictor import Predictor
from model.windows import Series, make_windows, windows_view


def forecast_windows(
    series: Series, input_size: int, horizon: int, starts: slice | np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inputs (N, L, F), actual targets (N, H, F) and the start rows of the selected windows (a part's
    slice, or a panel's start rows: those windows alone are copied)."""
    if isinstance(starts, np.ndarray):
        x, y = windows_view(series.values, input_size, horizon)
        return np.array(x[starts]), np.array(y[starts]), starts
    x, y = make_windows(series.values, input_size, horizon)
    rows = np.arange(len(x))
    if starts is not None:
        x, y, rows = x[starts], y[starts], rows[starts]
    return x, y, rows


@dataclass
class WindowForecasts:
    """What a forecaster and the simple baselines said on a set of windows, beside what happened."""

    actual: np.ndarray  # (N, H, T)
    forecasts: dict[str, np.ndarray]  # system -> (N, H, T): "model", "naive", "seasonal_naive"
    half_widths: dict[int, np.ndarray]  # interval level -> (N, H, T) half-widths of the model's bands
    guarded: np.ndarray | None = None  # (N,) the windows the guard gave the base and linear part only


def window_forecasts(predictor: Predictor, series: Series, starts: slice | np.ndarray | None = None, batch: int = 1024,
                     stride: int = 1) -> WindowForecasts:
    """Forecasts on the windows starting in starts, every stride-th (stride = horizon: non-overlapping
    windows, as a backtest counts them)."""
    config = predictor.config
    n_targets = len(config.targets)
    x, y, rows = forecast_windows(series, config.input_size, config.horizon, starts)
    x, y, rows = x[::stride], y[::stride], rows[::stride]
    parts = [predictor.guarded_forecast(x[i : i + batch]) for i in range(0, len(x), batch)]
    forecast = np.concatenate([p[0] for p in parts])
    volatility = np.concatenate([p[1] for p in parts])
    guarded = np.concatenate([p[2] for p in parts])
    naive = metrics.naive_forecast(x[:, :, :n_targets], config.horizon)
    # The seasonal baseline may look further back than the window: read it from the series itself.
    m = config.season_length or 1
    back = np.clip(rows[:, None] + config.input_size - m + np.arange(m), 0, None)
    seasonal = metrics.seasonal_naive_forecast(series.values[back][:, :, :n_targets], config.horizon, m)
    half: dict[int, np.ndarray] = {level: predictor.quantiles[level][None] * volatility[:, None, :]
                                   for level in (80, 95) if level in predictor.quantiles}
    return WindowForecasts(y[:, :, :n_targets], {"model": forecast, "naive": naive, "seasonal_naive": seasonal}, half,
                           guarded)


@dataclass(frozen=True)
class ForecastMetrics:
    """A forecaster's scores on a part: the manifest's `metrics`, defined and serialized here alone."""

    windows: int
    mase_scale: list[float]  # the in-sample naive error each target's MASE divides by
    systems: dict[str, dict[str, float]]  # "model", "naive", "seasonal_naive" (a backtest adds more) -> scores
    guarded: int | None = None  # windows the guard kept from the GRU
    coverage: dict[str, float] | None = None  # level -> share of actual values inside the model's band
    coverage_warning: str | None = None  # set by training where coverage is off nominal (coverage_warning)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"windows": self.windows, "mase_scale": self.mase_scale, **self.systems}
        if self.guarded is not None:
            out["guarded"] = self.guarded
        if self.coverage is not None:
            out["coverage"] = self.coverage
        if self.coverage_warning:
            out["coverage_warning"] = self.coverage_warning
        return out


@dataclass(frozen=True)
class ClassifierMetrics:
    """A classifier's scores on a part beside the majority class: the manifest's `metrics`."""

    windows: int
    classes: list[str]
    model: dict[str, float]  # accuracy, macro_f1, perplexity
    majority: dict[str, float]
    confusion_matrix: list[list[int]]

    def to_dict(self) -> dict[str, Any]:
        return {"windows": self.windows, "classes": self.classes, "model": self.model, "majority": self.majority,
                "confusion_matrix": self.confusion_matrix}


def evaluate_forecaster(
    predictor: Predictor, series: Series, mase_scale: np.ndarray, starts: slice | None = None, batch: int = 1024,
    stride: int = 1,
) -> dict[str, Any]:
    """Metrics beside naive and seasonal naive on the windows starting in starts, every stride-th."""
    return score(window_forecasts(predictor, series, starts, batch, stride), mase_scale)


def score(test: WindowForecasts, mase_scale: np.ndarray) -> dict[str, Any]:
    """forecast_metrics, serialized."""
    return forecast_metrics(test, mase_scale).to_dict()


def forecast_metrics(test: WindowForecasts, mase_scale: np.ndarray) -> ForecastMetrics:
    """Each system's metrics, and the share of actual values inside the model's bands."""
    return ForecastMetrics(
        windows=len(test.actual), mase_scale=[float(v) for v in np.ravel(mase_scale)],
        systems={system: metrics.regression_metrics(test.actual, forecast, mase_scale)
                 for system, forecast in test.forecasts.items()},
        guarded=int(test.guarded.sum()) if test.guarded is not None else None,
        coverage={str(level): float(inside.mean()) for level, inside in inside_bands(test).items()}
        if test.half_widths else None)


def inside_bands(test: WindowForecasts) -> dict[int, np.ndarray]:
    """Level -> (N, H, T) whether each actual value lies inside the model's band."""
    return {level: np.abs(test.actual - test.forecasts["model"]) <= half for level, half in test.half_widths.items()}


def class_windows(series: Series, input_size: int, starts: slice | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Inputs (N, L, F) and the label of the row after each window."""
    assert series.labels is not None
    x, _ = make_windows(series.values, input_size, 1)
    labels = series.labels[input_size : input_size + len(x)]
    if starts is not None:
        x, labels = x[starts], labels[starts]
    return x, labels


def evaluate_classifier(
    predictor: Predictor, series: Series, class_prior: np.ndarray, starts: slice | None = None
) -> dict[str, Any]:
    """classifier_metrics, serialized."""
    return classifier_metrics(predictor, series, class_prior, starts).to_dict()


def classifier_metrics(
    predictor: Predictor, series: Series, class_prior: np.ndarray, starts: slice | None = None
) -> ClassifierMetrics:
    n_classes = len(predictor.config.classes)
    x, labels = class_windows(series, predictor.config.input_size, starts)
    probabilities = predictor.classify(x)
    predicted = probabilities.argmax(axis=1)
    majority = np.full_like(labels, int(np.argmax(class_prior)))
    prior = np.broadcast_to(class_prior, probabilities.shape)

    def scores(predicted: np.ndarray, probabilities: np.ndarray) -> dict[str, float]:
        return {"accuracy": metrics.accuracy(labels, predicted), "macro_f1": metrics.macro_f1(labels, predicted,
                                                                                               n_classes),
                "perplexity": metrics.perplexity(probabilities, labels)}

    return ClassifierMetrics(len(x), predictor.config.classes, scores(predicted, probabilities),
                             scores(majority, prior),
                             metrics.confusion_matrix(labels, predicted, n_classes).tolist())


def coverage_warning(metrics: dict[str, Any], horizon: int = 1) -> str | None:
    """A warning when a level's test coverage is further from nominal than its windows' sampling explains:
    two binomial standard errors over the non-overlapping windows (test windows start every step, and
    a window's steps move together), at least 0.05."""
    coverage, windows = metrics.get("coverage") or {}, max(int(metrics.get("windows") or 0) // max(horizon, 1), 1)
    far = []
    for level, share in sorted(coverage.items(), key=lambda item: int(item[0])):
        nominal = int(level) / 100
        if abs(share - nominal) > max(0.05, 2 * float(np.sqrt(nominal * (1 - nominal) / windows))):
            far.append(f"{level}% bands cover {share:.2f}")
    if not far:
        return None
    return (f"intervals are off nominal on the test part ({', '.join(far)}, over {windows} separate windows): "
            "read the bands with care, or retrain with more history")
