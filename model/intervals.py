"""Interval widths from calibration residuals: split-conformal per step, pooled over steps when windows are few."""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np

from model.predictor import INTERVAL_LEVELS, conformal_quantiles

# Below this many calibration windows a per-step quantile is a handful of points: the 80% and 95%
# widths come out as the same largest residual, and an in-sample refit shrinks it to nothing
# (US payrolls: one calibration window, coverage 0.024 at both levels; docs/experiments.md T11).
FEW_WINDOWS = 50
# The most history windows the base's errors are read from.
BASE_WINDOWS = 4096


@dataclass(frozen=True, eq=False)
class Bands:
    """Half-widths per level in interval units, and how they were made."""

    quantiles: dict[int, np.ndarray]  # level -> (H, T) float32
    method: str  # "conformal": per step; "few windows": the wider of the base's errors and the model's
    windows: int  # calibration windows
    extrapolated: list[int] = field(default_factory=list)  # levels beyond what the residuals can show
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "windows": self.windows, "extrapolated": self.extrapolated,
                "note": self.note}


def bands(residuals: np.ndarray, widen: float = 1.0) -> Bands:
    """(N, H, T) residuals / interval unit -> per-step split-conformal half-widths, widened."""
    quantiles = conformal_quantiles(residuals)
    return Bands({level: (q * widen).astype(np.float32) for level, q in quantiles.items()}, "conformal",
                 len(residuals))


def pooled_bands(residuals: np.ndarray, levels: list[int] = INTERVAL_LEVELS) -> Bands:
    """(N, H, T) out-of-sample residuals / interval unit from few windows -> half-widths that hold.

    Each step's scale is its root mean square residual, made non-decreasing over the horizon (an error
    further ahead is not smaller); the residuals divided by their step's scale are pooled over the
    steps, so a level has N * H values instead of N. The finite-sample rank counts windows, not points
    (a window's steps move together), so a level N windows cannot show is extrapolated from the widest
    level they can, by the normal distribution's tail (and said so)."""
    n, horizon, _ = residuals.shape
    scale = np.sqrt(np.mean(residuals**2, axis=0))  # (H, T)
    scale = np.maximum.accumulate(np.maximum(scale, 1e-12), axis=0)
    pooled = np.sort(np.abs(residuals / scale[None]).reshape(n * horizon, -1), axis=0)  # (N*H, T)
    shown = [level for level in levels if np.ceil((n + 1) * level / 100) <= n]
    top = max(shown, default=None)
    quantiles, extrapolated = {}, []
    for level in levels:
        if level in shown:
            k = min(len(pooled), int(np.ceil((len(pooled) + 1) * level / 100)))
            width = pooled[k - 1]
        else:
            reference = pooled[min(len(pooled), int(np.ceil((len(pooled) + 1) * (top or 50) / 100))) - 1]
            width = reference * _normal_ratio(level, top or 50)
            extrapolated.append(level)
        quantiles[level] = (width[None] * scale).astype(np.float32)
    note = (f"{n} calibration windows: widths pooled over the {horizon} horizon steps, from residuals of a "
            "linear skip that had not seen them" + (f"; {', '.join(map(str, extrapolated))}% extrapolated from "
                                                    f"{top or 50}% by a normal tail" if extrapolated else ""))
    return Bands(quantiles, "pooled", n, extrapolated, note)


def _normal_ratio(level: int, reference: int) -> float:
    """How much wider a central normal interval at level is than at reference."""
    z = NormalDist().inv_cdf
    return z(0.5 + level / 200) / z(0.5 + reference / 200)


def few_window_bands(base_residuals: np.ndarray, model_residuals: np.ndarray) -> Bands:
    """Widths that hold where the calibration windows are too few to have their own: per level, the
    wider of (a) the base forecast's errors over the history's windows, per step (the base fits nothing,
    so they are out of sample everywhere, and a model that beat its base on validation errs less), and
    (b) the model's own held-out calibration residuals, pooled over the steps. Both (N, H, T) in
    interval units."""
    base = conformal_quantiles(base_residuals)
    own = pooled_bands(model_residuals)
    quantiles = {level: np.maximum(base[level], own.quantiles[level]).astype(np.float32) for level in base}
    n = len(model_residuals)
    note = (f"{n} calibration window{'s' if n != 1 else ''}: too few for widths of their own, so each level is the "
            f"wider of the base forecast's errors over {len(base_residuals)} windows of the history and the "
            "model's own held-out errors; expect wide bands")
    return Bands(quantiles, "few windows", n, own.extrapolated, note)
