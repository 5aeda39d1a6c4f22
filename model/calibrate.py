"""Training's calibration: the guard's reference, the linear skip refitted, and the interval widths."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import torch

from model.choice import Candidate, combine
from model.config import Base
from model.intervals import BASE_WINDOWS, FEW_WINDOWS, Bands, bands, few_window_bands
from model.linear import Ridge
from model.predictor import Predictor, base_forecast, base_lag, base_shift, window_spread
from model.race import val_mase
from model.resolve import MAX_RIDGE_WINDOWS, Resolved, evenly
from model.scaling import scale_inputs, step_floor, volatility
from model.windows import DataError

# Chronological blocks of windows the interval exponent compares (their medians, so one wild window
# does not move a block), and the most windows it scores.
EXPONENT_BLOCKS = 12
EXPONENT_WINDOWS = 4096


@dataclass(frozen=True)
class Calibration:
    """What calibration decided; the manifest's validation fields of the same names."""

    val_mase: float  # the served model on validation, before the refit
    refit: bool  # whether the linear skip was fitted again up to the calibration part's end
    refit_windows: int
    interval_lag: int
    interval_exponent: float
    interval_widening: float  # sqrt(N / (N - dof)): the refitted skip saw the calibration windows
    bands: Bands  # how the widths were made from the calibration windows


def calibrate(predictor: Predictor, chosen: Candidate, data: Resolved, refit: bool) -> Calibration:
    """Set the served predictor's guard reference, refitted skip and interval widths (in place: the
    predictor is this step's product), and say what was done."""
    split = data.split
    predictor.to(torch.device("cpu"))
    predictor.spread = training_spread(predictor, data.x, split.train)
    score = val_mase(predictor, data)
    if not np.isfinite(score):
        raise DataError("training gave non-finite forecasts on the validation part: the values are too large "
                        "or too wild for float32 arithmetic; rescale the data")
    # Normalized split-conformal intervals from the calibration part: |residual| / the window's
    # volatility, so calm and wild windows get their own widths. Neither training nor early stopping
    # saw that part; the refitted skip did, so its residuals are widened by sqrt(N / (N - dof)), the
    # in-sample optimism of a ridge with dof effective parameters.
    calibration = split.calibration if split.calibration.stop > split.calibration.start else split.val
    cal_rows = np.arange(calibration.start, calibration.stop)
    parts = chosen.parts or ((chosen.base, chosen.penalty),)
    widen, refitted, rows = 1.0, refit and predictor.net.skip is not None, 0
    few = len(cal_rows) < FEW_WINDOWS
    held_out = None
    if refitted and few:
        # Few windows cannot absorb an in-sample fit's optimism: their residuals come from the skip
        # refitted without them (T11).
        refit_skip(predictor, parts, data, calibration.start)
        held_out = _skip_state(predictor)
    if refitted:
        rows, dof = refit_skip(predictor, parts, data, calibration.stop)
        widen = float(np.sqrt(rows / max(rows - dof, 1.0)))
    # The volatility the widths follow is fitted on the served model, after the refit (T8).
    predictor.interval_lag, predictor.floor, predictor.exponent = interval_unit(
        predictor, data, calibration.stop)
    if few:
        history = evenly(slice(0, calibration.stop), BASE_WINDOWS)
        x = data.x[history]
        base = (data.y[history] - predictor.base(x)) / predictor.interval_unit(x)[:, None, :]
        made = few_window_bands(base, _residuals(predictor, data, cal_rows, held_out))
    else:
        made = bands(_residuals(predictor, data, cal_rows), widen)
    predictor.quantiles = made.quantiles
    return Calibration(score, refitted, rows, predictor.interval_lag, predictor.exponent, widen, made)


def _skip_state(predictor: Predictor) -> dict[str, torch.Tensor]:
    assert predictor.net.skip is not None
    return {k: v.detach().clone() for k, v in predictor.net.skip.state_dict().items()}


def _residuals(predictor: Predictor, data: Resolved, rows: np.ndarray,
               skip: dict[str, torch.Tensor] | None = None) -> np.ndarray:
    """(N, H, T) residuals of the windows at rows in interval units; with skip, from those skip
    weights (the served ones are put back)."""
    served = _skip_state(predictor) if skip is not None else None
    if skip is not None:
        assert predictor.net.skip is not None
        predictor.net.skip.load_state_dict(skip)
    try:
        forecast, unit = predictor.forecast_array(data.x[rows])
    finally:
        if served is not None:
            assert predictor.net.skip is not None
            predictor.net.skip.load_state_dict(served)
    return np.asarray((data.y[rows] - forecast) / unit[:, None, :])


def training_spread(predictor: Predictor, x: np.ndarray, part: slice, chunk: int = 8192) -> list[float]:
    """The guard's reference (Predictor.outside): every training window's spread, the widest per feature."""
    widest = [window_spread(scale_inputs(x[start: min(start + chunk, part.stop)], predictor.scaler)[0]).max(axis=0)
              for start in range(part.start, part.stop, chunk)]
    return [float(v) for v in np.max(widest, axis=0)]


def interval_unit(predictor: Predictor, data: Resolved, stop: int) -> tuple[int, list[float], float]:
    """The volatility interval widths follow: its lag, its floor at that lag, and its exponent.

    For each candidate lag (the base's, 1, and the season when it is shorter than the window) the
    exponent is the slope of log median |error| on log median volatility across chronological blocks
    of the windows before `stop` (_exponent); the lag whose fit leaves the least unexplained is kept,
    the base's on a tie. The floor is at the same lag (T8)."""
    config, n = predictor.config, len(predictor.config.targets)
    train_targets = data.train_values[:, :n]
    first = base_lag(config)
    # The base's first: it wins a tie. A season longer than the window has no steps inside it to measure.
    lags = list(dict.fromkeys([first] + [lag for lag in (1, config.season_length or 1) if lag < config.input_size]))
    rows = evenly(slice(0, stop), EXPONENT_WINDOWS)
    if len(rows) < 4 * EXPONENT_BLOCKS:
        return first, step_floor(train_targets, first), 1.0
    windows = data.x[rows]
    error = np.abs(data.y[rows] - predictor.forecast_array(windows)[0]).mean(axis=1)  # (N, T): over the horizon
    fits = []
    for lag in lags:
        floor = step_floor(train_targets, lag)
        exponent, misfit = _exponent(volatility(windows[:, :, :n], predictor.scaler, lag, floor), error)
        fits.append((misfit, lag, floor, exponent))
    _, lag, floor, exponent = min(fits, key=lambda fit: fit[0])  # min keeps the first (the base's) on a tie
    return lag, floor, exponent


def _exponent(vol: np.ndarray, error: np.ndarray) -> tuple[float, float]:
    """(N, T) volatility and |error| of chronological windows -> how errors follow volatility from one
    block of windows to the next (1 in proportion, 0 not at all), kept within [0, 1], and the mean
    squared log error the fit leaves across the blocks; 1 when the blocks' volatility hardly differs (T9)."""
    blocks = np.array_split(np.arange(len(vol)), EXPONENT_BLOCKS)
    log_vol = np.log(np.maximum([np.median(vol[b], axis=0) for b in blocks], 1e-30)).ravel()
    log_error = np.log(np.maximum([np.median(error[b], axis=0) for b in blocks], 1e-30)).ravel()
    log_vol, log_error = log_vol - log_vol.mean(), log_error - log_error.mean()
    spread = float(log_vol.var())
    slope = float(np.mean(log_vol * log_error)) / spread if spread >= 0.01 else 1.0
    # Every block about as wild as the others (or NaN): keep proportion.
    exponent = round(float(np.clip(slope, 0.0, 1.0)), 3) if np.isfinite(slope) else 1.0
    misfit = float(np.mean((log_error - exponent * log_vol) ** 2))
    return exponent, misfit if np.isfinite(misfit) else float("inf")


def refit_skip(predictor: Predictor, parts: tuple[tuple[Base, float], ...], data: Resolved,
               stop: int) -> tuple[int, float]:
    """Fit the linear skip again, on every window whose horizon ends before row `stop` + horizon, on the
    residual the GRU leaves (each (base, penalty) of a combination on its own, then combined): a linear
    map gains most from the newest data (T10). Returns the windows it was fitted on and its effective
    number of parameters."""
    net, config = predictor.net, predictor.config
    n, x, y = len(config.targets), data.x, data.y
    assert net.skip is not None
    rows = evenly(slice(0, stop), MAX_RIDGE_WINDOWS)
    scaled, _, scale = scale_inputs(x[rows], predictor.scaler)
    flat = scaled.reshape(len(rows), -1)
    with torch.inference_mode():
        tensor = torch.from_numpy(scaled)
        head = torch.cat([net(part) - net.skip(part.flatten(1)).view(part.shape[0], config.horizon, n)
                          for part in torch.split(tensor, 1024)]).numpy()  # the GRU's part of the output
    maps, dofs = [], []
    for base, penalty in parts:
        trial = replace(config, base=base)
        target = (y[rows] - base_forecast(x[rows, :, :n], trial)) / scale[:, None, :n] - head
        ridge = Ridge(flat, target.reshape(len(rows), -1))
        maps.append((base, *ridge.solve(penalty)))
        dofs.append(ridge.dof(penalty))
    # One part on the model's own base needs no shift; otherwise the combination (on the naive base) is
    # written on the model's base (an ensemble's is naive where its members' bases differ).
    if len(maps) == 1 and maps[0][0] == config.base:
        weight, bias = maps[0][1:]
    else:
        weight, bias = combine(config, maps)
        weight = weight - base_shift(config, config.base)
    with torch.no_grad():
        net.skip.weight.copy_(torch.from_numpy(np.asarray(weight, np.float32)))
        net.skip.bias.copy_(torch.from_numpy(np.asarray(bias, np.float32)))
    return len(rows), float(np.mean(dofs))
