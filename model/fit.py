"""The training loop: backpropagation through time, early stopping, clipping, progress and cancel."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass

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


def fit(
    net: nn.Module,
    task: str,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    config: TrainConfig,
    progress: Progress | None = None,
    should_cancel: CancelCheck | None = None,
) -> list[EpochReport]:
    """Train net in place on scaled arrays; the best validation weights are restored at the end."""
    torch.manual_seed(config.seed)
    device = choose_device(config.device)
    net.to(device)
    target_dtype = torch.long if task == "classify" else torch.float32
    x_train = torch.tensor(train[0], device=device)  # copies: pandas 3 hands out read-only arrays
    y_train = torch.tensor(train[1], dtype=target_dtype, device=device)
    x_val = torch.tensor(val[0], device=device)
    y_val = torch.tensor(val[1], dtype=target_dtype, device=device)
    loss_fn = _loss_fn(task)
    optimizer: torch.optim.Optimizer
    if config.optimizer == "sgd":
        optimizer = torch.optim.SGD(net.parameters(), lr=config.lr, momentum=0.9)
    else:
        optimizer = torch.optim.Adam(net.parameters(), lr=config.lr)
    generator = torch.Generator().manual_seed(config.seed)

    # A forecaster starts as the naive forecast (zero head), a fair candidate for "best".
    best_loss = _mean_loss(net, x_val, y_val, loss_fn, config.batch_size) if task == "forecast" else float("inf")
    best_state = copy.deepcopy(net.state_dict())
    stale = 0
    history: list[EpochReport] = []
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        net.train()
        order = torch.randperm(len(x_train), generator=generator).to(device)
        total = 0.0
        for start in range(0, len(order), config.batch_size):
            if should_cancel is not None and should_cancel():
                raise Cancelled(f"cancelled during epoch {epoch}")
            batch = order[start : start + config.batch_size]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(net(x_train[batch]), y_train[batch])
            loss.backward()
            if config.clip_norm > 0:
                nn.utils.clip_grad_norm_(net.parameters(), config.clip_norm)
            optimizer.step()
            total += float(loss.detach()) * len(batch)
        trained = time.perf_counter()
        val_loss = _mean_loss(net, x_val, y_val, loss_fn, config.batch_size)
        report = EpochReport(epoch, config.epochs, total / len(order), val_loss, time.perf_counter() - started,
                             trained - started)
        history.append(report)
        if progress is not None:
            progress(report)
        if val_loss < best_loss:
            best_loss, stale = val_loss, 0
            best_state = copy.deepcopy(net.state_dict())
        else:
            stale += 1
            if config.patience and stale >= config.patience:
                break
    net.load_state_dict(best_state)
    net.eval()
    return history
