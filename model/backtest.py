"""Backtest: train on the chronological training part, score non-overlapping test windows beside baselines.

What Darts' historical_forecasts and statsforecast's cross_validation give their users: one table
that says whether the model beats naive, seasonal naive and (with the `bench` extra installed)
AutoETS and AutoARIMA from statsforecast on the same windows, with interval coverage.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from model import metrics
from model.config import ModelConfig, TrainConfig
from model.evaluate import WindowForecasts, inside_bands, score, window_forecasts
from model.fit import CancelCheck, Progress
from model.significance import coverage_interval, diebold_mariano
from model.train import train
from model.windows import DataError, Series, parse_timestamps, prepare_series, split_windows

# The statistical models see at most this many points before each forecast origin: AutoARIMA on
# 100,000 ECG samples would take longer than the whole GRU, and older points change little.
STATS_HISTORY = 4000
# Above this season AutoARIMA/AutoETS run without one (a 288-step ARIMA season is intractable).
STATS_MAX_SEASON = 168


def backtest_windows(series: Series, config: ModelConfig, train_config: TrainConfig,
                     step: int | None = None) -> np.ndarray:
    """Start rows of the test windows as the backtest scores them: every step-th, by default every
    horizon-th (non-overlapping windows)."""
    split = split_windows(len(series.values), config.input_size, config.horizon, train_config.val_fraction,
                          train_config.test_fraction, train_config.calibration_fraction)
    return np.arange(split.test.start, split.test.stop)[:: step or config.horizon]


def overlap(config: ModelConfig, step: int | None) -> int:
    """How many consecutive windows share an actual value: 1 when they do not overlap."""
    return -(-config.horizon // (step or config.horizon))


# Others: more systems' forecasts (N, H, T) on a frame's test windows (backtest_windows, at the default
# step) and their seconds, computed for each origin's frame.
Others = Callable[[pd.DataFrame], dict[str, tuple[np.ndarray, float]]]


def backtest(
    frame: pd.DataFrame,
    config: ModelConfig,
    train_config: TrainConfig | None = None,
    time_column: str | None = None,
    statistical: bool = True,
    progress: Progress | None = None,
    should_cancel: CancelCheck | None = None,
    others: Others | None = None,
    origins: int = 1,
    step: int | None = None,
) -> dict[str, Any]:
    """Metrics of the GRU and every baseline on the same test windows (non-overlapping by default), and seconds.

    origins > 1 backtests from that many forecast origins, as statsforecast's cross_validation
    (n_windows, refit) and Darts' historical_forecasts (retrain) do: the series is cut back by one
    test part at a time, the model is trained again on each cut with the same fractions, and the
    windows of all the test parts are scored together (each window's MASE on its own origin's
    scale). One backtest's few dozen windows rarely tell two systems apart; several origins give
    several times the windows, and `origins` lists each one's own result.

    step: the rows between test windows' starts, as statsforecast's cross_validation step_size and
    Darts' historical_forecasts stride; None is the horizon (non-overlapping windows). A smaller
    step scores forecasts issued at every point of a cycle (the non-overlapping windows of an hourly
    series with a horizon of 24 all start at one hour of the day), and the significance tests count
    the overlap (model/significance.py)."""
    train_config = train_config or TrainConfig()
    if config.task != "forecast":
        raise DataError("backtest scores forecasters; evaluate a classifier with `gru-forecast evaluate`")
    if origins < 1:
        raise DataError(f"origins must be 1 or more, not {origins}")
    if step is not None and step < 1:
        raise DataError(f"step must be 1 or more, not {step}")
    if others is not None and step not in (None, config.horizon):
        raise ValueError("others forecast the non-overlapping windows (backtest_windows' default step)")
    cuts, folds = _cuts(frame, config, train_config, time_column, origins), []
    for k in reversed(range(origins)):  # oldest first, so the pooled windows stay in time order
        cut = cuts[k]
        try:
            folds.append(_one_origin(cut, config, train_config, time_column, statistical, progress,
                                     should_cancel, others, step))
        except DataError as exc:
            if k == 0:
                raise
            raise DataError(f"{origins} origins leave the earliest {len(cut)} rows: {exc}; "
                            "ask for fewer origins") from exc
    if origins == 1:
        return folds[0][0]
    return _pooled(folds, overlap(config, step))


def _cuts(frame: pd.DataFrame, config: ModelConfig, train_config: TrainConfig, time_column: str | None,
          origins: int) -> list[pd.DataFrame]:
    """Each origin's frame, newest (the whole frame) first, each one test part shorter than the one
    before. The test part is counted in the rows training sees: with `interpolate`, a time the file
    skips is a row there. Steps counted in file rows could be shorter than a test part counted in
    filled rows, and neighbouring origins would forecast some rows twice; so the step is counted in
    filled rows, and each cut is made at the time of its filled row."""
    if origins == 1:
        return [frame]
    series = prepare_series(frame, config, time_column, train_config.interpolate)
    rows = len(series.values)
    step = int(round(rows * train_config.test_fraction))
    if step < 1:
        raise DataError("several origins need a test part: test_fraction is 0")
    if rows - (origins - 1) * step < 1:
        raise DataError(f"{origins} origins, each {step} rows (test_fraction) before the next, need more than "
                        f"{rows} rows; ask for fewer origins")
    if rows == len(frame):
        return [frame.iloc[: rows - k * step] for k in range(origins)]
    assert time_column is not None  # only timestamps make missing rows to fill
    times = parse_timestamps(pd.Index(frame[time_column]), time_column)
    return [frame[times <= series.index[rows - k * step - 1]] for k in range(origins)]


def _one_origin(frame: pd.DataFrame, config: ModelConfig, train_config: TrainConfig, time_column: str | None,
                statistical: bool, progress: Progress | None, should_cancel: CancelCheck | None,
                others: Others | None, step: int | None) -> tuple[dict[str, Any], WindowForecasts, np.ndarray]:
    started = time.perf_counter()
    artifact = train(frame, config, train_config, time_column, progress, should_cancel)
    seconds = {"model": time.perf_counter() - started}
    trained = artifact.config
    series = prepare_series(frame, trained, time_column, train_config.interpolate)
    starts = backtest_windows(series, trained, train_config, step)
    mase_scale = np.asarray(artifact.manifest.mase_scale)
    windows = window_forecasts(artifact.predictor, series, slice(int(starts[0]), int(starts[-1]) + 1),
                               stride=step or trained.horizon)
    more = statistical_forecasts(series, trained, starts) if statistical else {}
    for name, (forecast, spent) in {**more, **(others(frame) if others else {})}.items():
        if forecast.shape != windows.actual.shape:
            raise ValueError(f"{name}: forecasts {forecast.shape} for test windows {windows.actual.shape}")
        windows.forecasts[name] = forecast
        seconds[name] = spent
    result = score(windows, mase_scale)
    result.update(choice=artifact.manifest.choice, season_length=trained.season_length,
                  epochs_run=artifact.manifest.epochs_run, seconds=seconds, rows=len(series.values),
                  horizon=trained.horizon, step=step or trained.horizon,
                  interval_unit={"lag": artifact.predictor.interval_lag, "exponent": artifact.predictor.exponent})
    result.update(significance(windows, mase_scale, overlap(trained, step)))
    return result, windows, mase_scale


def _pooled(folds: list[tuple[dict[str, Any], WindowForecasts, np.ndarray]], overlapping: int = 1) -> dict[str, Any]:
    """The windows of every origin scored as one backtest: MAE and sMAPE in the series' units, MASE
    and the significance tests on each window's own origin's scale."""
    systems = [s for s in folds[0][1].forecasts if all(s in f[1].forecasts for f in folds)]
    windows = WindowForecasts(
        actual=np.concatenate([f[1].actual for f in folds]),
        forecasts={s: np.concatenate([f[1].forecasts[s] for f in folds]) for s in systems},
        half_widths={level: np.concatenate([f[1].half_widths[level] for f in folds])
                     for level in folds[0][1].half_widths},
        guarded=None if any(f[1].guarded is None for f in folds) else np.concatenate([f[1].guarded for f in folds]))
    # (N, 1, T): each window's MASE scale, broadcast over its horizon
    scale = np.concatenate([np.broadcast_to(np.atleast_1d(f[2]), (len(f[1].actual), 1, windows.actual.shape[2]))
                            for f in folds])
    result = score(windows, np.ones(1))
    for system in systems:
        result[system]["mase"] = float(metrics.window_mase(windows.actual, windows.forecasts[system], scale).mean())
    newest = folds[-1][0]
    result.update(mase_scale=[f[0]["mase_scale"] for f in folds], choice=newest["choice"],
                  interval_unit=newest["interval_unit"],
                  season_length=newest["season_length"], epochs_run=newest["epochs_run"],
                  horizon=newest["horizon"], step=newest["step"],
                  seconds={s: sum(f[0]["seconds"].get(s, 0.0) for f in folds) for s in newest["seconds"]},
                  origins=[f[0] for f in folds])
    result.update(significance(windows, scale, overlapping))
    return result


def significance(windows: WindowForecasts, mase_scale: np.ndarray, overlapping: int = 1) -> dict[str, Any]:
    """The model against each other system (Diebold-Mariano on per-window MASE) and a 90% interval
    for each coverage: what a few dozen test windows can and cannot tell apart (model/significance.py).
    overlapping: how many consecutive windows share an actual value (overlap)."""
    loss = {system: metrics.window_mase(windows.actual, forecast, mase_scale)
            for system, forecast in windows.forecasts.items()}
    out: dict[str, Any] = {"versus": {system: diebold_mariano(loss["model"], other, overlapping)
                                      for system, other in loss.items()
                                      if system != "model" and np.isfinite(other).all()}}
    inside = inside_bands(windows)
    if inside:
        out["coverage_interval"] = {str(level): list(coverage_interval(v, least_block=overlapping))
                                    for level, v in inside.items()}
    return out


def statistical_forecasts(series: Series, config: ModelConfig,
                          starts: np.ndarray) -> dict[str, tuple[np.ndarray, float]]:
    """AutoETS and AutoARIMA (statsforecast, the `bench` extra) on the same windows; {} when absent.

    Each model is fitted once on the points before the first test window, then applied with those
    parameters to the history before every forecast origin (statsforecast's `forward`).
    """
    try:
        from statsforecast.models import AutoARIMA, AutoETS
    except ImportError:
        return {}
    m = config.season_length or 1
    m = m if m <= STATS_MAX_SEASON else 1
    n_targets = len(config.targets)
    origins = starts + config.input_size  # first forecast row of each window
    out: dict[str, tuple[np.ndarray, float]] = {}
    # Classes, not lambdas: typed the same whether or not the bench extra is installed (mypy).
    models: dict[str, Any] = {"auto_ets": AutoETS, "auto_arima": AutoARIMA}
    for name, model_class in models.items():
        began = time.perf_counter()
        forecast = np.zeros((len(starts), config.horizon, n_targets))
        for t in range(n_targets):
            values = series.values[:, t].astype(np.float64)
            model = model_class(season_length=m)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.fit(values[max(0, origins[0] - STATS_HISTORY) : origins[0]])
                for i, origin in enumerate(origins):
                    history = values[max(0, origin - STATS_HISTORY) : origin]
                    forecast[i, :, t] = model.forward(y=history, h=config.horizon)["mean"]
        out[name] = (forecast, time.perf_counter() - began)
    return out


def format_backtest(result: dict[str, Any]) -> str:
    """The backtest as a small text table: one row per system."""
    systems = ["model", "naive", "seasonal_naive"] + [s for s in result["seconds"] if s != "model"]
    folds = result.get("origins", [])
    where = f" from {len(folds)} origins" if folds else ""
    step = result.get("step")
    every = "every row" if step == 1 else f"every {step} rows"
    spacing = "non-overlapping" if step is None or step >= result["horizon"] else f"overlapping ({every})"
    lines = [f"{result['windows']} {spacing} test windows{where}; season {result['season_length']}; "
             f"choice{' at the newest origin' if folds else ''} {result['choice']}; MASE scaled by "
             + ("each origin's training part" if folds else str(result["mase_scale"])),
             f"{'system':>15}  {'MASE':>8}  {'sMAPE':>8}  {'MAE':>10}  {'seconds':>8}  "
             "model's MASE against it (Diebold-Mariano p)"]
    for system in systems:
        r = result[system]
        spent = result["seconds"].get(system)
        versus = result.get("versus", {}).get(system)
        lines.append(f"{system:>15}  {r['mase']:8.4f}  {r['smape']:8.3f}  {r['mae']:10.4g}  "
                     + (f"{spent:8.1f}" if spent is not None else f"{'':>8}")
                     + (f"  {versus['relative']:+.1%} (p {versus['p_value']:.2f})" if versus else ""))
    if "coverage" in result:
        bounds = result.get("coverage_interval", {})
        lines.append(f"{'coverage':>15}  " + "  ".join(
            f"{k}%: {v:.3f}" + (f" (90% interval {bounds[k][0]:.3f}..{bounds[k][1]:.3f})" if k in bounds else "")
            for k, v in result["coverage"].items())
            + (f"; widths follow the volatility at lag {unit['lag']} ** {unit['exponent']}"
               if (unit := result.get("interval_unit")) else ""))
    if result.get("guarded"):
        lines.append(f"{'guard':>15}  {result['guarded']} of {result['windows']} windows spread wider than any "
                     "training window: they got the base and the linear skip only")
    for i, fold in enumerate(folds, 1):
        best = min((s for s in fold["versus"]), key=lambda s: fold[s]["mase"])
        lines.append(f"origin {i}: first {fold['rows']} rows, {fold['windows']} windows: model MASE "
                     f"{fold['model']['mase']:.4f}, best other {best} {fold[best]['mase']:.4f}"
                     + "".join(f", coverage {k}% {v:.3f}" for k, v in fold.get("coverage", {}).items()))
    return "\n".join(lines)
