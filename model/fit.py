"""The training loop: backpropagation through time, early stopping, clipping, progress and cancel."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Protocol

import numpy as np
import torch
from torch import nn

from model.config import TrainConfig


class Cancelled(Exception):
    """Raised between batches when the cancel check says so."""


@dataclass
class EpochReport:
    epoch: int  # 1-based
    epochs: int
    train_loss: float
    val_loss: float
    seconds: float  # the whole epoch: training pass and validation loss
    train_seconds: float = 0.0  # the training pass alone


Progress = Callable[[EpochReport], None]
CancelCheck = Callable[[], bool]


class TrainingSet(Protocol):
    """Training windows that build their batches on demand (targets may be too big to hold at once)."""

    def __len__(self) -> int: ...

    def batch(self, rows: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]: ...


class ArrayWindows:
    """Scaled inputs (N, L, F) and targets (N, H, T), or class indices (N,), held whole."""

    def __init__(self, x: np.ndarray, y: np.ndarray, task: str = "forecast") -> None:
        self.x = torch.tensor(x)  # copies: pandas 3 hands out read-only arrays
        self.y = torch.tensor(y, dtype=torch.long if task == "classify" else torch.float32)

    def __len__(self) -> int:
        return len(self.x)

    def batch(self, rows: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        return self.x[rows].to(device), self.y[rows].to(device)


def choose_device(name: str = "auto") -> torch.device:
    """CUDA when asked for or (with "auto") when present, else the CPU."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _loss_fn(task: str) -> nn.Module:
    return nn.CrossEntropyLoss() if task == "classify" else nn.MSELoss()


@torch.no_grad()
def _mean_loss(net: nn.Module, x: torch.Tensor, y: torch.Tensor, loss_fn: nn.Module, batch_size: int) -> float:
    net.eval()
    total = 0.0
    for start in range(0, len(x), batch_size * 8):
        xb, yb = x[start : start + batch_size * 8], y[start : start + batch_size * 8]
        total += float(loss_fn(net(xb), yb)) * len(xb)
    return total / max(len(x), 1)


@torch.no_grad()
def _weighted_mae(net: nn.Module, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor, batch_size: int) -> float:
    """mean(|net(x) - y| * weight): with weight = scale / MASE scale, the MASE in units."""
    net.eval()
    total = 0.0
    for start in range(0, len(x), batch_size * 8):
        end = start + batch_size * 8
        total += float(((net(x[start:end]) - y[start:end]).abs() * weight[start:end]).sum())
    return total / max(y.numel(), 1)


# The most the step budget may raise the learning rate (measured up to 10x on ECG, below).
MAX_LR_FACTOR = 10.0


# The window length max_steps is set for. A step's time grows with the window (backpropagation runs
# through every point of it), so a longer window gets proportionally fewer steps and the budget
# bounds the time (docs/experiments.md T14).
STEP_WINDOW = 240


def step_budget(max_steps: int, window: int) -> int:
    """max_steps for windows up to STEP_WINDOW points, max_steps * STEP_WINDOW / window beyond (0: no limit)."""
    if max_steps <= 0 or window <= STEP_WINDOW:
        return max_steps
    return max(1, max_steps * STEP_WINDOW // window)


def for_window(config: TrainConfig, window: int) -> TrainConfig:
    """config with the steps a window of this many points gets (step_budget); the rest as given."""
    return replace(config, max_steps=step_budget(config.max_steps, window))


def plan_steps(n_windows: int, config: TrainConfig) -> tuple[int, int]:
    """(epochs, steps per epoch): full passes, or max_steps / epochs sampled steps when that is fewer."""
    full = -(-n_windows // config.batch_size)  # ceil
    if config.max_steps and config.epochs * full > config.max_steps:
        return config.epochs, max(1, config.max_steps // config.epochs)
    return config.epochs, full


def learning_rate(n_windows: int, config: TrainConfig) -> float:
    """config.lr on full epochs; times the factor by which the step budget cut them, at most 10x.

    Adam moves each weight by about lr per step, so a budget that allows 1/r of the full epochs'
    steps keeps their reach with r times the rate. ECG (108,000 samples, 1,500 of 33,000 steps),
    validation MASE after the budget: 2.61 at lr 0.001, 2.26 at 0.003, 2.21 at 0.005, 2.05 at 0.01.
    On full epochs the seed's 0.001 stays: weather's validation MASE is 1.326 at 0.001 and 1.349 at
    0.003 or 0.01.
    """
    _, steps = plan_steps(n_windows, config)
    full = -(-n_windows // config.batch_size)  # steps of a full epoch
    return config.lr * min(max(full / steps, 1.0), MAX_LR_FACTOR)


def fit(
    net: nn.Module,
    task: str,
    train: tuple[np.ndarray, np.ndarray] | TrainingSet,
    val: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
    progress: Progress | None = None,
    should_cancel: CancelCheck | None = None,
    val_weight: np.ndarray | None = None,
) -> list[EpochReport]:
    """Train net in place on scaled arrays; the best validation weights are restored at the end.

    Validation picks the best weights by loss, or with val_weight (shaped like val targets) by the
    weighted absolute error, the metric the model is judged on (MASE), not the training loss.
    Training targets of shape (B, P, H, T) train the last P positions of each window at once
    (GRUNet.positions): forking sequences, P supervised forecasts for one pass through the window.
    """
    torch.manual_seed(config.seed)
    device = choose_device(config.device)
    net.to(device)
    target_dtype = torch.long if task == "classify" else torch.float32
    windows: TrainingSet = ArrayWindows(*train, task=task) if isinstance(train, tuple) else train
    x_val = torch.tensor(val[0], device=device)
    y_val = torch.tensor(val[1], dtype=target_dtype, device=device)
    loss_fn = _loss_fn(task)
    if val_weight is not None:
        weight = torch.tensor(val_weight, dtype=torch.float32, device=device)

        def score() -> float:
            return _weighted_mae(net, x_val, y_val, weight, config.batch_size)
    else:
        def score() -> float:
            return _mean_loss(net, x_val, y_val, loss_fn, config.batch_size)

    optimizer: torch.optim.Optimizer
    lr = learning_rate(len(windows), config)
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(config.seed)
    epochs, steps = plan_steps(len(windows), config)
    # Windows come from one shuffled stream: full epochs see every window once; sampled epochs
    # continue the stream, so every window is seen before any is seen twice.
    stream = torch.empty(0, dtype=torch.long)

    # A forecaster starts as its base forecast (zero head) or the ridge fit: a fair candidate for "best".
    best_loss = score() if task == "forecast" else float("inf")
    best_state = copy.deepcopy(net.state_dict())
    stale = 0
    history: list[EpochReport] = []
    for epoch in range(1, epochs + 1):
        started = time.perf_counter()
        net.train()
        order, stream = _epoch_order(len(windows), steps * config.batch_size, stream, generator)
        total = _train_pass(net, windows, order, optimizer, loss_fn, config, device, should_cancel, epoch)
        trained = time.perf_counter()
        val_loss = score()
        report = EpochReport(epoch, epochs, total, val_loss, time.perf_counter() - started,
                             trained - started)
        history.append(report)
        if progress is not None:
            progress(report)
        if val_loss < best_loss:
            best_loss, stale = val_loss, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
            # Not before a third of the epochs: a model that has barely left its base is often
            # worse on validation for a while before it gets better (LESSONS.md: early stopping).
            if config.patience and stale >= config.patience and epoch >= epochs // 3:
                break
    net.load_state_dict(best_state)
    net.eval()
    return history


def _epoch_order(n_windows: int, needed: int, stream: torch.Tensor,
                 generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The windows of one epoch, and what is left of the shuffled stream for the next."""
    if needed >= n_windows:  # a full epoch: exactly one pass
        return torch.randperm(n_windows, generator=generator), stream
    while len(stream) < needed:
        stream = torch.cat([stream, torch.randperm(n_windows, generator=generator)])
    return stream[:needed], stream[needed:]


def _train_pass(net: nn.Module, windows: TrainingSet, order: torch.Tensor, optimizer: torch.optim.Optimizer,
                loss_fn: nn.Module, config: TrainConfig, device: torch.device, should_cancel: CancelCheck | None,
                epoch: int) -> float:
    """One epoch's optimizer steps over the windows in order; the mean training loss."""
    total = 0.0
    for start in range(0, len(order), config.batch_size):
        if should_cancel is not None and should_cancel():
            raise Cancelled(f"cancelled during epoch {epoch}")
        xb, yb = windows.batch(order[start : start + config.batch_size], device)
        optimizer.zero_grad(set_to_none=True)
        out = net.positions(xb, yb.shape[1]) if yb.dim() == 4 else net(xb)  # type: ignore[operator]
        loss = loss_fn(out, yb)
        loss.backward()
        if config.clip_norm > 0:
            nn.utils.clip_grad_norm_(net.parameters(), config.clip_norm)
        optimizer.step()
        total += float(loss.detach()) * len(xb)
    return total / len(order)
