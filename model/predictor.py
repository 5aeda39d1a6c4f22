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
class Forecast:
    mean: np.ndarray  # (H, T) in the series' units
    intervals: dict[int, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)  # level -> (lower, upper)


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

    def predict_batch(self, windows: list[np.ndarray], levels: tuple[int, ...] = ()) -> list[Forecast]:
        """One forward pass for many (L, F) windows; one Forecast per window, in order."""
        mean, scale = self.forecast_array(np.stack(windows).astype(np.float32, copy=False))
        n_targets = mean.shape[2]
        forecasts = []
        for i in range(len(windows)):
            bands = {}
            for level in levels:
                half = self.quantiles[level] * scale[i, None, :n_targets]  # (H, T)
                bands[level] = (mean[i] - half, mean[i] + half)
            forecasts.append(Forecast(mean=mean[i], intervals=bands))
        return forecasts

    def classify_batch(self, windows: list[np.ndarray]) -> list[np.ndarray]:
        """One forward pass; per window the class probabilities (C,)."""
        logits, _ = self.forward(np.stack(windows).astype(np.float32, copy=False))
        probabilities = torch.softmax(torch.from_numpy(logits), dim=1).numpy()
        return list(probabilities)

    def to(self, device: torch.device) -> Predictor:
        self.net.to(device)
        self.device = device
        return self


def conformal_quantiles(residuals: np.ndarray, levels: list[int] = INTERVAL_LEVELS) -> dict[int, np.ndarray]:
    """Split-conformal half-widths per horizon step and target from |residuals| (N, H, T)."""
    n = len(residuals)
    out = {}
    for level in levels:
        # Finite-sample correction: the ceil((n+1) * level)-th smallest residual.
        q = min(1.0, np.ceil((n + 1) * level / 100) / n)
        out[level] = np.quantile(np.abs(residuals), q, axis=0, method="higher").astype(np.float32)
    return out
