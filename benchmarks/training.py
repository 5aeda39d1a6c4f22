"""Training speed: model/'s fit against the seed tutorial's plain loop on the same windows, same run.

    .venv/bin/python -m benchmarks.training [--epochs 3] [--threads 1]

For each bundled default: seconds per epoch and windows/s of model.fit (fused cell), of the plain
loop (nn.GRU + Linear, Adam, MSE or cross-entropy, batch 64, DataLoader with shuffle), and of the
seed-equation cell; then the fused and seed cells trained with the defaults side by side (test metrics).
Writes benchmarks/out/training.md.
"""

from __future__ import annotations

import argparse
import copy
import statistics
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from benchmarks.output import save
from model.config import TrainConfig
from model.datasets import DATASETS
from model.evaluate import class_windows
from model.fit import fit
from model.network import GRUNet
from model.scaling import fit_scaler, scale_inputs
from model.train import train
from model.windows import make_windows, prepare_series, split_windows


def training_arrays(name: str) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray, object]:
    """Scaled training and validation windows (per-window scaling, naive base, last position only)."""
    d = DATASETS[name]
    config = copy.deepcopy(d.model)
    config.linear_skip = False  # the skip's ridge start is not what this benchmark times
    series = prepare_series(d.load(), config, d.time_column)
    split = split_windows(len(series.values), config.input_size, config.horizon, 0.1, 0.15, 0.1)
    kind = "standard" if config.task == "classify" else "window"
    scaler = fit_scaler(series.values[: split.train_rows], kind)
    stride = d.training.stride
    if config.task == "classify":
        x, labels = class_windows(series, config.input_size)
        xs = scale_inputs(x, scaler)[0]
        train_part = xs[split.train][::stride], labels[split.train][::stride]
        return "classify", *train_part, xs[split.val], labels[split.val], config
    x, y = make_windows(series.values, config.input_size, config.horizon)
    n = len(config.targets)
    xs, _, scale = scale_inputs(x, scaler)
    ys = ((y[:, :, :n] - x[:, -1:, :n]) / scale[:, None, :n]).astype(np.float32)
    return "forecast", xs[split.train][::stride], ys[split.train][::stride], xs[split.val], ys[split.val], config


class PlainGRU(nn.Module):
    """The seed tutorial's model: nn.GRU + Linear on the last hidden state."""

    def __init__(self, features: int, hidden: int, outputs: int, horizon: int | None):
        super().__init__()
        self.gru = nn.GRU(features, hidden, batch_first=True)
        self.fc = nn.Linear(hidden, outputs)
        self.horizon = horizon

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.gru(x)
        y = self.fc(out[:, -1])
        return y.view(len(x), self.horizon, -1) if self.horizon else y


def plain_epochs(task: str, x: np.ndarray, y: np.ndarray, config, epochs: int) -> list[float]:
    torch.manual_seed(0)
    outputs = len(config.classes) if task == "classify" else config.horizon * len(config.targets)
    net = PlainGRU(x.shape[2], config.hidden_size, outputs, None if task == "classify" else config.horizon)
    target = torch.tensor(y, dtype=torch.long if task == "classify" else torch.float32)
    loader = DataLoader(TensorDataset(torch.tensor(x), target), batch_size=64, shuffle=True)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.001)
    loss_fn = nn.CrossEntropyLoss() if task == "classify" else nn.MSELoss()
    times = []
    for _ in range(epochs):
        started = time.perf_counter()
        net.train()
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = loss_fn(net(xb), yb)
            loss.backward()
            optimizer.step()
        times.append(time.perf_counter() - started)
    return times


def fit_epochs(task: str, x, y, xv, yv, config, epochs: int, cell: str) -> list[float]:
    config = copy.deepcopy(config)
    config.cell = cell
    torch.manual_seed(0)
    net = GRUNet(config)
    reports = fit(net, task, (x, y), (xv, yv), TrainConfig(epochs=epochs, patience=0, device="cpu", max_steps=0))
    return [r.train_seconds for r in reports]  # the training pass, as the plain loop times it


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--models", nargs="*", default=list(DATASETS))
    parser.add_argument("--skip-quality", action="store_true", help="skip the full fused-vs-seed trainings")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    lines = [f"torch threads: {args.threads}; median of {args.epochs} epochs; windows = training windows per epoch",
             "", "| model | windows | loop | s/epoch | windows/s | vs plain loop |", "|---|---|---|---|---|---|"]
    for name in args.models:
        task, x, y, xv, yv, config = training_arrays(name)
        plain = statistics.median(plain_epochs(task, x, y, config, args.epochs))
        ours = statistics.median(fit_epochs(task, x, y, xv, yv, config, args.epochs, "fused"))
        seed = statistics.median(fit_epochs(task, x, y, xv, yv, config, 1, "seed"))
        for label, seconds in (("plain loop (tutorial)", plain), ("model.fit, fused cell", ours),
                               ("model.fit, seed cell (1 epoch)", seed)):
            lines.append(f"| {name} | {len(x):,} | {label} | {seconds:.2f} | {len(x) / seconds:,.0f} | "
                         f"{seconds / plain:.2f}x |")
    if not args.skip_quality:
        lines += ["", "Fused vs seed cell, each trained with the dataset's defaults (test part):", "",
                  "| model | cell | epochs run | train s | MAE | RMSE | MASE | naive MASE | coverage 80% |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for name in ("stock", "weather"):
            d = DATASETS[name]
            for cell in ("fused", "seed"):
                config = copy.deepcopy(d.model)
                config.cell = cell
                started = time.perf_counter()
                artifact = train(d.load(), config, d.training, d.time_column)
                seconds = time.perf_counter() - started
                m = artifact.manifest.metrics
                lines.append(f"| {name} | {cell} | {artifact.manifest.epochs_run} | {seconds:.1f} | "
                             f"{m['model']['mae']:.4g} | {m['model']['rmse']:.4g} | {m['model']['mase']:.3f} | "
                             f"{m['naive']['mase']:.3f} | {m['coverage']['80']:.3f} |")
    save("training", "\n".join(lines))


if __name__ == "__main__":
    main()
