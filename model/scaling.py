"""Scaling of windows: per-window, robust per-window or global, chosen per model on validation.

- "window": centred on the window's last value, divided by its mean absolute step. Level-free, so
  a stock model trained on 2004-2010 sees 2013 prices on the same scale.
- "robust": centred on the window's median, divided by its interquartile range. Level-free too,
  but a spike (an ECG's QRS complex) does not blow up the scale of its window.
- "standard": the training part's mean and standard deviation. The same scale for every window, so
  the loss weighs calm and wild windows alike (smooth seasonal series and stationary waveforms).

The forecast itself is `base + network output * scale`, where base is naive, seasonal naive or
seasonal_level (model/predictor.py): the location only moves the inputs. Per-window scales are
floored by a tenth of the training part's mean absolute step, so flat windows do not blow up.
"""

from __future__ import annotations

from typing import Any

import numpy as np

SCALINGS = ("window", "robust", "standard")


# A panel's windows come from series of any level: their least volatility is this share of the
# window's mean magnitude (a training part's mean step means nothing across series).
RELATIVE_FLOOR = 1e-4


def fit_scaler(train_values: np.ndarray, kind: str, fixed: int = 0, observed: int | None = None) -> dict[str, Any]:
    """Fit on the training rows only (T_train, F). The last `fixed` columns pass unscaled: the
    calendar's sin and cos (model/calendar.py) are exact, and a per-window location would erase
    the very phase they carry. observed: a panel's observed column (model/panel.py), whose 0s mark
    padding that the window's volatility does not count."""
    if kind not in SCALINGS:
        raise ValueError(f"unknown scaling {kind!r}; choose from {SCALINGS}")
    train_values = np.asarray(train_values, dtype=np.float64)  # float32 squares overflow beyond ~1e19
    std = train_values.std(axis=0)
    return {
        "kind": kind,
        "mean": train_values.mean(axis=0).tolist(),
        "std": np.where(std > 0, std, 1.0).tolist(),
        "floor": step_floor(train_values),
        "fixed": fixed,
        # Across a panel's series the training part's steps describe no one series: the floor is relative.
        **({"observed": observed, "floor": [1e-6] * train_values.shape[1]} if observed is not None else {}),
    }


def step_floor(train_values: np.ndarray, lag: int = 1) -> list[float]:
    """(T_train, F) -> a tenth of each column's mean |x[t] - x[t - lag]| (1e-6 where that is 0): the
    least volatility at that lag a window is given."""
    train_values = np.asarray(train_values, dtype=np.float64)
    if len(train_values) > lag:
        steps = np.abs(train_values[lag:] - train_values[:-lag]).mean(axis=0)
    else:
        steps = np.zeros(train_values.shape[1])
    return [float(v) for v in np.where(steps > 0, steps * 0.1, 1e-6)]


def observed_steps(windows: np.ndarray, scaler: dict[str, Any]) -> np.ndarray | None:
    """(N, L, F) -> (N, L) 1 on a panel window's own points, 0 on its padding; None for one series."""
    column = scaler.get("observed")
    return None if column is None else np.asarray(windows[:, :, column], np.float32)


def volatility(windows: np.ndarray, scaler: dict[str, Any], lag: int = 1,
               floor: list[float] | None = None, observed: np.ndarray | None = None) -> np.ndarray:
    """(N, L, F) -> (N, F): each window's mean |x[t] - x[t - lag]|, floored (by the scaler's lag-1
    floor unless floor is given); intervals scale with it.

    With lag = the base's (1 for naive, the season for the seasonal bases) this is how wrong the base
    has recently been inside the window: the natural unit of the next errors (normalized conformal).
    """
    least = np.asarray(scaler["floor"] if floor is None else floor, np.float32)[: windows.shape[2]]
    if observed is not None:  # observed: (N, L), padding 0
        least = np.maximum(least, RELATIVE_FLOOR * np.abs(windows).mean(axis=1))
    if windows.shape[1] <= lag:
        return np.broadcast_to(least, (len(windows), windows.shape[2])).astype(np.float32)
    if observed is None:
        steps = np.abs(windows[:, lag:] - windows[:, :-lag]).mean(axis=1)
    else:  # the steps between two observed points only: padding repeats the first value
        both = (observed[:, lag:] * observed[:, :-lag])[:, :, None]
        steps = (np.abs(windows[:, lag:] - windows[:, :-lag]) * both).sum(axis=1) / np.maximum(both.sum(axis=1), 1)
    return np.asarray(np.maximum(steps, least), dtype=np.float32)


def scale_inputs(windows: np.ndarray, scaler: dict[str, Any]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, L, F) -> scaled (N, L, F), location (N, F), scale (N, F)."""
    kind = scaler["kind"]
    n, features = len(windows), windows.shape[2]
    if kind == "standard":
        loc = np.broadcast_to(np.asarray(scaler["mean"], np.float32), (n, features))
        scale = np.broadcast_to(np.asarray(scaler["std"], np.float32), (n, features))
    elif kind == "robust":
        q25, loc, q75 = np.percentile(windows, [25, 50, 75], axis=1)
        scale = np.maximum(q75 - q25, np.asarray(scaler["floor"], np.float32))
    else:  # "window"
        loc = windows[:, -1, :]
        scale = volatility(windows, scaler, observed=observed_steps(windows, scaler))
    fixed = int(scaler.get("fixed", 0))  # artifacts saved before calendar inputs have none
    if fixed:
        loc, scale = np.array(loc, np.float32), np.array(scale, np.float32)  # broadcasts are read-only
        loc[:, features - fixed:], scale[:, features - fixed:] = 0.0, 1.0
    scaled = (windows - loc[:, None, :]) / scale[:, None, :]
    return scaled.astype(np.float32), np.asarray(loc, np.float32), np.asarray(scale, np.float32)
