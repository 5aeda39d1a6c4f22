"""The GRU network: a recurrent body (fused or seed-equation cell) and a direct multi-step head."""

from __future__ import annotations

import torch
from torch import nn

from model.config import ModelConfig


class SeedGRU(nn.Module):
    """The seed's gate equations, literally, on a (B, L, F) batch.

    r = sigma(W_r [h, x] + b_r); z = sigma(W_z [h, x] + b_z)
    candidate = tanh(W_h [r * h, x] + b_h); h' = (1 - z) * h + z * candidate
    The reset gate multiplies h BEFORE the matmul, unlike nn.GRU (which applies it after).
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, dropout: float = 0.0):
        super().__init__()
        self.hidden_size = hidden_size
        sizes = [input_size] + [hidden_size] * (num_layers - 1)
        self.gates = nn.ModuleList(nn.Linear(hidden_size + n, 2 * hidden_size) for n in sizes)  # [W_r; W_z]
        self.candidates = nn.ModuleList(nn.Linear(hidden_size + n, hidden_size) for n in sizes)  # W_h
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, L, F) -> (B, L, hidden)
        for layer, (gate, candidate) in enumerate(zip(self.gates, self.candidates, strict=True)):
            if layer:
                x = self.dropout(x)
            h = x.new_zeros(x.shape[0], self.hidden_size)
            outputs = []
            for t in range(x.shape[1]):
                x_t = x[:, t]  # (B, F)
                r, z = torch.sigmoid(gate(torch.cat([h, x_t], dim=1))).chunk(2, dim=1)  # 2 x (B, hidden)
                cand = torch.tanh(candidate(torch.cat([r * h, x_t], dim=1)))  # (B, hidden)
                h = (1 - z) * h + z * cand
                outputs.append(h)
            x = torch.stack(outputs, dim=1)
        return x


class Members(nn.Module):
    """Several recurrent bodies on the same input, their states side by side: (B, L, F) -> (B, L, k * hidden).

    An ensemble of k networks in one module: a head over the joined states with each member's head
    weights divided by k is exactly the mean of the members' forecasts.
    """

    def __init__(self, bodies: list[nn.Module]):
        super().__init__()
        self.bodies = nn.ModuleList(bodies)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([_states(body(x)) for body in self.bodies], dim=2)


def _states(out: torch.Tensor | tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
    """A body's per-step states: nn.GRU returns (output, h_n)."""
    return out[0] if isinstance(out, tuple) else out


def _body(config: ModelConfig) -> nn.Module:
    n_features = len(config.features)
    if config.cell == "seed":
        return SeedGRU(n_features, config.hidden_size, config.num_layers, config.dropout)
    return nn.GRU(n_features, config.hidden_size, num_layers=config.num_layers,
                  dropout=config.dropout if config.num_layers > 1 else 0.0, batch_first=True)


class GRUNet(nn.Module):
    """Forecaster (B, L, F) -> (B, horizon, targets) or classifier (B, L, F) -> (B, classes) logits."""

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        n_features = len(config.features)
        self.body = _body(config) if config.members == 1 else Members([_body(config) for _ in range(config.members)])
        self.dropout = nn.Dropout(config.dropout)
        out = len(config.classes) if config.task == "classify" else config.horizon * len(config.targets)
        self.head = nn.Linear(config.hidden_size * config.members, out)
        # The network forecasts a correction to its base (naive, seasonal, seasonal_level; model/predictor.py):
        # zero head and zero skip ARE the base, so training starts there and early stopping can only
        # keep what beats it. model/choice.py then starts the skip from a ridge fit.
        self.skip: nn.Linear | None = None
        if config.task == "forecast":
            nn.init.zeros_(self.head.weight)
            nn.init.zeros_(self.head.bias)
            if config.linear_skip:
                self.skip = nn.Linear(config.input_size * n_features, out)
                nn.init.zeros_(self.skip.weight)
                nn.init.zeros_(self.skip.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # (B, L, F) -> (B, H, T) for forecasts, (B, C) for classes
        states = _states(self.body(x))
        last = self.dropout(states[:, -1])  # (B, L, hidden) -> (B, hidden)
        out: torch.Tensor = self.head(last)  # (B, H*T) or (B, C)
        if self.config.task == "classify":
            return out
        if self.skip is not None:
            out = out + self.skip(x.flatten(1))  # (B, L*F) -> (B, H*T)
        return out.view(x.shape[0], self.config.horizon, len(self.config.targets))

    def positions(self, x: torch.Tensor, count: int) -> torch.Tensor:
        """Forecasts from each of the last `count` positions: (B, L, F) -> (B, count, H, T).

        Training only (forking sequences, Wen et al. 2017, MQ-RNN): position t forecasts the H steps
        after t from the state at t, so one pass through a window trains count forecasts. The last
        position is exactly forward(x).
        """
        states = _states(self.body(x))
        out = self.head(self.dropout(states[:, -count:]))  # (B, count, hidden) -> (B, count, H*T)
        if self.skip is not None:
            out = torch.cat([out[:, :-1], out[:, -1:] + self.skip(x.flatten(1))[:, None]], dim=1)
        positions: torch.Tensor = out.view(x.shape[0], count, self.config.horizon, len(self.config.targets))
        return positions
