"""A trained network with its scaler and interval quantiles: raw windows in, forecasts in units out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from model.config import ModelConfig
from model.network import GRUNet
from model.scaling import observed_steps, scale_inputs, volatility

# Interval levels (percent) whose conformal quantiles every forecaster stores.
INTERVAL_LEVELS = [50, 80, 90, 95, 99]
# Windows per forward pass by device type, from benchmarks/raw_model.py: one CPU thread peaks at 64
# (ECG 6,137 forecasts/s at 64, 4,915 at 256, 4,581 at 1,024); an H100 keeps gaining up to 4,096
# (stock 1.03 M at 1,024, 1.76 M at 4,096, 1.98 M at 16,384; ECG 669 k, 786 k, 778 k).
DEVICE_CHUNK = {"cpu": 64, "cuda": 4096}
# A window whose scaled inputs spread wider than this many times the widest training window, in any
# feature, is outside what the GRU has seen: it gets the base and the linear skip only (the guard).
# The margin leaves room for the new maxima any later stretch brings (no bundled validation or test
# window passes it) while an ECG motion artifact, 2-4x the training spread, does (docs/experiments.md E-2026-11-26-e).
GUARD_MARGIN = 1.25


@dataclass
class Forecasts:
    mean: np.ndarray  # (N, H, T) in the series' units
    intervals: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # level -> (lower, upper)
    guarded: np.ndarray | None = None  # (N,) the windows the guard kept from the GRU (Predictor.outside)

    def guarded_mask(self) -> np.ndarray:
        """(N,) bool: the guarded windows, none when the predictor has no guard (older versions)."""
        return np.zeros(len(self.mean), bool) if self.guarded is None else self.guarded

    def split(self, sizes: list[int]) -> list[Forecasts]:
        """Consecutive blocks of sizes[0], sizes[1], ... windows (views, no copies)."""
        bounds = np.cumsum(sizes)[:-1]
        means = np.split(self.mean, bounds)
        bands = {level: (np.split(lo, bounds), np.split(hi, bounds)) for level, (lo, hi) in self.intervals.items()}
        guarded = None if self.guarded is None else np.split(self.guarded, bounds)
        return [Forecasts(mean, {level: (lo[i], hi[i]) for level, (lo, hi) in bands.items()},
                          None if guarded is None else guarded[i])
                for i, mean in enumerate(means)]


@dataclass
class Predictor:
    config: ModelConfig
    net: GRUNet
    scaler: dict[str, Any]
    quantiles: dict[int, np.ndarray] = field(default_factory=dict)  # level -> (H, T) |residual| / volatility**exponent
    # How interval widths follow a window's volatility: 1 in proportion, 0 not at all (plain conformal).
    # Fitted per served model on the windows before the test part (model/calibrate.py interval_unit).
    exponent: float = 1.0
    # The lag of the volatility the widths follow: 1 (hour-to-hour steps) or the season (day-on-day
    # changes), whichever explains how errors move between periods (model/calibrate.py interval_unit).
    # None: the base's lag (versions saved before it was stored).
    interval_lag: int | None = None
    # The least volatility a window's interval unit is given, per target, at that lag: a tenth of
    # the training part's mean |x[t] - x[t - lag]| (model/calibrate.py). None: the scaler's lag-1 floor
    # (versions saved before it was stored).
    floor: list[float] | None = None
    # The widest spread (standard deviation over the window of the scaled inputs) of any training
    # window, per feature; None: no guard (versions saved before it was stored, classifiers).
    spread: list[float] | None = None
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    chunk: int = 0  # most windows per forward pass (0 = the device's best, DEVICE_CHUNK)

    def base(self, windows: np.ndarray) -> np.ndarray:
        """(N, L, F) raw -> (N, H, T): the forecast the network corrects (base_forecast)."""
        return base_forecast(windows[:, :, : len(self.config.targets)], self.config)

    def network_output(self, scaled: np.ndarray) -> np.ndarray:
        """(N, L, F) scaled -> (N, H, T) correction in scale units, or (N, C) logits.

        A big batch runs as chunks of the device's best size: on one CPU thread batch 64 gives more
        forecasts/s than 256 or 1,024 (the recurrent state falls out of cache; benchmarks/raw_model.py),
        on a GPU the bigger the better."""
        chunk = self.chunk or DEVICE_CHUNK.get(self.device.type, 1024)
        tensor = torch.from_numpy(scaled)
        with torch.inference_mode():
            if len(scaled) <= chunk:
                out = self.net(tensor.to(self.device))  # one host->device copy per batch
            else:
                out = torch.cat([self.net(part.to(self.device)) for part in torch.split(tensor, chunk)])
        return np.asarray(out.float().cpu().numpy())

    def linear_output(self, scaled: np.ndarray) -> np.ndarray:
        """(N, L, F) scaled -> (N, H, T): the linear skip's part of the correction alone (0 without one)."""
        n, horizon = len(self.config.targets), self.config.horizon
        if self.net.skip is None:
            return np.zeros((len(scaled), horizon, n), np.float32)
        with torch.inference_mode():
            out = self.net.skip(torch.from_numpy(scaled).flatten(1).to(self.device))
        return np.asarray(out.float().cpu().numpy()).reshape(len(scaled), horizon, n)

    def outside(self, scaled: np.ndarray) -> np.ndarray:
        """(N, L, F) scaled -> (N,) bool: the windows that spread wider than GUARD_MARGIN x the widest
        training window in some feature. A GRU fed such a window extrapolates without bound (an ECG
        motion artifact: errors of 42 naive steps where naive made 1), a linear map in proportion."""
        if self.spread is None:
            return np.zeros(len(scaled), bool)
        read = scaled.shape[2] - len(self.config.fixed_columns)  # observed flag and calendar: never wild
        limit = GUARD_MARGIN * np.asarray(self.spread, np.float32)[:read]
        return np.asarray((window_spread(scaled[:, :, :read]) > limit).any(axis=1))

    def forecast_array(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, L, F) -> forecasts (N, H, T) in units, and each window's interval unit (N, T)."""
        mean, unit, _ = self.guarded_forecast(windows)
        return mean, unit

    def guarded_forecast(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """forecast_array, and which windows (N,) the guard kept from the GRU."""
        n = len(self.config.targets)
        scaled, _, scale = scale_inputs(windows, self.scaler)
        correction = self.network_output(scaled)
        wild = self.outside(scaled)
        if wild.any():
            correction[wild] = self.linear_output(scaled[wild])
        mean = np.asarray(self.base(windows) + correction * scale[:, None, :n])
        return mean, self.interval_unit(windows), wild

    def interval_unit(self, windows: np.ndarray) -> np.ndarray:
        """(N, L, F) -> (N, T): the window's volatility ** exponent, what the stored quantiles multiply."""
        n = len(self.config.targets)
        lag = self.interval_lag or base_lag(self.config)
        vol = volatility(windows[:, :, :n], self.scaler, lag, self.floor, observed_steps(windows, self.scaler))
        return vol if self.exponent == 1.0 else np.asarray(vol**self.exponent, np.float32)

    def predict(self, windows: np.ndarray, levels: tuple[int, ...] = ()) -> Forecasts:
        """One forward pass for (N, L, F) raw windows: means and interval bounds, each (N, H, T)."""
        mean, vol, guarded = self.guarded_forecast(windows.astype(np.float32, copy=False))
        bands = {}
        for level in levels:
            # Normalized conformal: a calm window gets a narrow band, a wild one a wide band.
            half = self.quantiles[level][None] * vol[:, None, :]  # (N, H, T)
            bands[level] = (mean - half, mean + half)
        return Forecasts(mean=mean, intervals=bands, guarded=guarded)

    def classify(self, windows: np.ndarray) -> np.ndarray:
        """One forward pass for (N, L, F) raw windows: class probabilities (N, C)."""
        logits = self.network_output(scale_inputs(windows.astype(np.float32, copy=False), self.scaler)[0])
        return torch.softmax(torch.from_numpy(logits), dim=1).numpy()

    def to(self, device: torch.device) -> Predictor:
        self.net.to(device)
        self.device = device
        return self


def window_spread(scaled: np.ndarray) -> np.ndarray:
    """(N, L, F) scaled windows -> (N, F): each window's spread, what the guard compares (Predictor.outside)."""
    return np.asarray(scaled.std(axis=1))


def base_lag(config: ModelConfig) -> int:
    """How far back the base looks: the season for the seasonal bases, 1 for naive."""
    return (config.season_length or 1) if config.base in ("seasonal", "seasonal_level") else 1


def level_steps(horizon: int, season: int) -> np.ndarray:
    """(H,) how many times seasonal_level adds the change over the last season at each step: once
    within the first season ahead, twice in the second (the forecast of a seasonal random walk
    whose level is a random walk too, ARIMA(0,1,0)(0,1,0)m)."""
    return np.arange(horizon) // season + 1


def base_forecast(history: np.ndarray, config: ModelConfig) -> np.ndarray:
    """(N, L, T) -> (N, H, T): the forecast the network corrects.

    naive: the last value repeated. seasonal: the value one season earlier. seasonal_level: the
    last season's path from the same point, started at the last value, x[t] + (x[t+h-m] - x[t-m]):
    the season's shape at the current level, which a trend or a drifting level moves away from
    seasonal naive (monthly CO2, hourly temperatures)."""
    m = config.season_length or 1
    if config.base in ("seasonal", "seasonal_level") and 1 < m <= history.shape[1]:
        steps = history.shape[1] - m + (np.arange(config.horizon) % m)
        forecast = history[:, steps, :]
        if config.base == "seasonal_level" and m < history.shape[1]:
            change = history[:, -1:, :] - history[:, -1 - m : -m, :]  # (N, 1, T): over the last season
            forecast = forecast + level_steps(config.horizon, m)[None, :, None] * change
        return np.asarray(forecast)
    return np.repeat(history[:, -1:, :], config.horizon, axis=1)


def base_shift(config: ModelConfig, base: str) -> np.ndarray:
    """(H*T, L*F) map of the scaled window to (that base - the naive base) / the window's scale.

    Every scaling subtracts a location and divides by a scale per window and feature, so the
    difference of two values of the window, divided by the scale, is the difference of their scaled
    values: any base is the naive base plus a fixed linear map of the scaled window.
    """
    n_targets, n_features, length = len(config.targets), len(config.features), config.input_size
    shift = np.zeros((config.horizon * n_targets, length * n_features))
    if base in ("seasonal", "seasonal_level"):
        m = config.season_length or 1
        times = level_steps(config.horizon, m)
        for h in range(config.horizon):
            for t in range(n_targets):
                shift[h * n_targets + t, (length - m + h % m) * n_features + t] += 1.0
                shift[h * n_targets + t, (length - 1) * n_features + t] -= 1.0
                if base == "seasonal_level":
                    shift[h * n_targets + t, (length - 1) * n_features + t] += times[h]
                    shift[h * n_targets + t, (length - 1 - m) * n_features + t] -= times[h]
    return shift


def conformal_quantiles(residuals: np.ndarray, levels: list[int] = INTERVAL_LEVELS) -> dict[int, np.ndarray]:
    """Split-conformal half-widths per horizon step and target from |residuals| / volatility (N, H, T)."""
    n = len(residuals)
    ordered = np.sort(np.abs(residuals), axis=0)
    out = {}
    for level in levels:
        # Finite-sample correction: the ceil((n+1) * level)-th smallest residual (the largest if beyond n).
        k = min(n, int(np.ceil((n + 1) * level / 100)))
        out[level] = ordered[k - 1].astype(np.float32)
    return out
