"""Scaling of windows: per-window for forecasts (prices leave their training range), standard for classes.

Forecast inputs are centred on the window's last value and divided by the window's own mean
absolute step, floored by a tenth of the training part's (the only fitted value, so flat windows
do not blow up). A stock model trained on 2004-2010 then sees 2013 prices on the same scale.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.config import ModelConfig


def fit_scaler(train_values: np.ndarray, config: ModelConfig) -> dict[str, Any]:
    """Fit on the training rows only (T_train, F)."""
    if config.task == "classify":
        std = train_values.std(axis=0)
        return {
            "kind": "standard",
            "mean": train_values.mean(axis=0).tolist(),
            "std": np.where(std > 0, std, 1.0).tolist(),
        }
    steps = np.abs(np.diff(train_values, axis=0)).mean(axis=0)
    floor = np.where(steps > 0, steps * 0.1, 1e-6)
    return {"kind": "window", "floor": floor.tolist()}


def scale_inputs(windows: np.ndarray, scaler: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, L, F) -> scaled (N, L, F), location (N, F), scale (N, F)."""
    if scaler["kind"] == "standard":
        loc = np.broadcast_to(np.asarray(scaler["mean"], np.float32), (len(windows), windows.shape[2]))
        scale = np.broadcast_to(np.asarray(scaler["std"], np.float32), loc.shape)
    else:
        loc = windows[:, -1, :]
        steps = np.abs(np.diff(windows, axis=1)).mean(axis=1) if windows.shape[1] > 1 else np.zeros_like(loc)
        scale = np.maximum(steps, np.asarray(scaler["floor"], np.float32))
    scaled = (windows - loc[:, None, :]) / scale[:, None, :]
    return scaled.astype(np.float32), loc.astype(np.float32), scale.astype(np.float32)


def scale_targets(targets: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(N, H, T) in units -> model units, T being the first T features."""
    n = targets.shape[2]
    return np.asarray((targets - loc[:, None, :n]) / scale[:, None, :n], dtype=np.float32)


def unscale_targets(outputs: np.ndarray, loc: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(N, H, T) in model units -> units."""
    n = outputs.shape[2]
    return np.asarray(outputs * scale[:, None, :n] + loc[:, None, :n])
