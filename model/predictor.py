"""A trained network with its scaler and interval quantiles: raw windows in, forecasts in units out."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from model.config import ModelConfig
from model.network import GRUNet
from model.scaling import scale_inputs, unscale_targets

# Interval levels (percent) whose conformal quantiles every forecaster stores.
INTERVAL_LEVELS = [50, 80, 90, 95, 99]


@dataclass
class Forecasts:
    mean: np.ndarray  # (N, H, T) in the series' units
    intervals: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # level -> (lower, upper)

    def split(self, sizes: list[int]) -> list[Forecasts]:
        """Consecutive blocks of sizes[0], sizes[1], ... windows (views, no copies)."""
        bounds = np.cumsum(sizes)[:-1]
        means = np.split(self.mean, bounds)
        bands = {level: (np.split(lo, bounds), np.split(hi, bounds)) for level, (lo, hi) in self.intervals.items()}
        return [Forecasts(mean, {level: (lo[i], hi[i]) for level, (lo, hi) in bands.items()})
                for i, mean in enumerate(means)]


@dataclass
class Predictor:
    config: ModelConfig
    net: GRUNet
    scaler: dict[str, Any]
    quantiles: dict[int, np.ndarray] = field(default_factory=dict)  # level -> (H, T) |residual| in model units
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def forward(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, L, F) raw -> model output in model units (N, H, T) or logits (N, C), and scales (N, F)."""
        scaled, loc, scale = scale_inputs(windows, self.scaler)
        with torch.inference_mode():
            out = self.net(torch.from_numpy(scaled).to(self.device))  # one host->device copy per batch
        return out.float().cpu().numpy(), np.stack([loc, scale])

    def forecast_array(self, windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(N, L, F) -> forecasts (N, H, T) in units, and the per-window scale (N, F)."""
        out, (loc, scale) = self.forward(windows)
        return unscale_targets(out, loc, scale), scale

    def predict(self, windows: np.ndarray, levels: tuple[int, ...] = ()) -> Forecasts:
        """One forward pass for (N, L, F) raw windows: means and interval bounds, each (N, H, T)."""
        mean, scale = self.forecast_array(windows.astype(np.float32, copy=False))
        bands = {}
        for level in levels:
            half = self.quantiles[level][None] * scale[:, None, : mean.shape[2]]  # (N, H, T), per-window scale
            bands[level] = (mean - half, mean + half)
        return Forecasts(mean=mean, intervals=bands)

    def classify(self, windows: np.ndarray) -> np.ndarray:
        """One forward pass for (N, L, F) raw windows: class probabilities (N, C)."""
        logits, _ = self.forward(windows.astype(np.float32, copy=False))
        return torch.softmax(torch.from_numpy(logits), dim=1).numpy()

    def to(self, device: torch.device) -> Predictor:
        self.net.to(device)
        self.device = device
        return self


def conformal_quantiles(residuals: np.ndarray, levels: list[int] = INTERVAL_LEVELS) -> dict[int, np.ndarray]:
    """Split-conformal half-widths per horizon step and target from |residuals| (N, H, T)."""
    n = len(residuals)
    ordered = np.sort(np.abs(residuals), axis=0)
    out = {}
    for level in levels:
        # Finite-sample correction: the ceil((n+1) * level)-th smallest residual (the largest if beyond n).
        k = min(n, int(np.ceil((n + 1) * level / 100)))
        out[level] = ordered[k - 1].astype(np.float32)
    return out
