"""Training windows whose targets are built per batch: the H steps after each of the last P positions."""

from __future__ import annotations

import numpy as np
import torch

from model.predictor import Predictor, base_lag, level_steps
from model.scaling import scale_inputs


class ForkingWindows:
    """Position t's target is (value[t+1 .. t+H] - its base) / the window's scale, its base the
    forecast base_forecast would make at t; P = 1 is the plain last-position target."""

    def __init__(self, values: np.ndarray, windows: np.ndarray, rows: np.ndarray, predictor: Predictor,
                 positions: int) -> None:
        config = predictor.config
        self.values, self.rows, self.positions = values, rows, positions
        self.n_targets, self.length, self.horizon = len(config.targets), config.input_size, config.horizon
        scaled, _, scale = scale_inputs(windows[rows], predictor.scaler)  # windows: make_windows' inputs, all
        self.x, self.scale = torch.from_numpy(scaled), scale[:, : self.n_targets]
        last = np.arange(self.length - positions, self.length)  # (P,) positions within the window
        m = base_lag(config)
        steps = np.arange(config.horizon)
        self.base_index = last[:, None] + 1 - m + steps[None] % m  # (P, H), as base_forecast at t
        self.target_index = last[:, None] + 1 + steps[None]  # (P, H)
        # seasonal_level adds the change over the season before t (positions start a season in).
        self.level = (last, last - m, level_steps(config.horizon, m)) if config.base == "seasonal_level" else None

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, picked: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        i = picked.numpy()
        # (B, L + H, T): the window and its horizon, read straight from the series
        sequence = self.values[self.rows[i][:, None] + np.arange(self.length + self.horizon)[None], : self.n_targets]
        base = sequence[:, self.base_index]  # (B, P, H, T)
        if self.level is not None:
            now, before, times = self.level
            base = base + (sequence[:, now] - sequence[:, before])[:, :, None, :] * times[None, None, :, None]
        target = (sequence[:, self.target_index] - base) / self.scale[i][:, None, None]
        return self.x[picked].to(device), torch.from_numpy(target.astype(np.float32)).to(device)
