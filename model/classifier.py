"""Training a classifier: fit on the training part, stop on validation cross-entropy, with or without the year."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from model.config import ModelConfig, TrainConfig
from model.decisions import CalendarDecision
from model.evaluate import class_windows
from model.fit import CancelCheck, EpochReport, Progress, choose_device, fit, for_window
from model.network import GRUNet
from model.predictor import Predictor
from model.resolve import NOT_OFFERED, with_year
from model.scaling import fit_scaler, scale_inputs
from model.windows import Series, Split


@dataclass(frozen=True, eq=False)
class Classified:
    predictor: Predictor
    series: Series  # as the chosen network reads it (with the year's columns when it won)
    history: list[EpochReport]
    prior: np.ndarray  # class shares in the training part
    calendar: CalendarDecision


def train_classifier(series: Series, config: ModelConfig, split: Split, train_config: TrainConfig, asked: str,
                     offered: bool, progress: Progress | None = None,
                     should_cancel: CancelCheck | None = None) -> Classified:
    """One fit; where "auto" offers the year (asked: the caller's calendar), a second that reads the
    time of year, and the lower validation loss is kept, a tie keeping the simpler model (T12)."""
    runs = [_fit(series, config, split, train_config, progress, should_cancel)]
    if offered:
        year, dated = with_year(config, series)
        # Quiet: the job's progress has counted its epochs once already.
        runs.append(_fit(dated, year, split, train_config, None, should_cancel))
    losses = [min(h.val_loss for h in history) for _, _, history in runs]
    predictor, chosen, history = runs[int(np.argmin(losses))]
    labels = class_windows(chosen, config.input_size)[1]  # each window's label: the step after it
    counts = np.bincount(labels[split.train], minlength=len(predictor.config.classes)).astype(float)
    if offered:
        won = predictor.config.calendar == "year"
        decision = CalendarDecision(predictor.config.calendar,
                                    "auto: the fit with the year had the lower validation loss" if won
                                    else "auto: the year did not lower the validation loss",
                                    dict(zip(("none", "year"), losses, strict=True)))
    else:
        decision = CalendarDecision(config.calendar, "given" if asked != "auto" else NOT_OFFERED)
    return Classified(predictor, chosen, history, counts / counts.sum(), decision)


def _fit(series: Series, config: ModelConfig, split: Split, train_config: TrainConfig,
         progress: Progress | None, should_cancel: CancelCheck | None) -> tuple[Predictor, Series, list[EpochReport]]:
    torch.manual_seed(train_config.seed)  # the initial weights too
    scaler = fit_scaler(series.values[: split.train_rows], "standard", len(config.calendar_columns))
    predictor = Predictor(config=config, net=GRUNet(config), scaler=scaler)
    x, labels = class_windows(series, config.input_size)

    def scaled(part: slice, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
        return scale_inputs(x[part][::stride], predictor.scaler)[0], labels[part][::stride]

    history = fit(predictor.net, "classify", scaled(split.train, train_config.stride), scaled(split.val),
                  for_window(train_config, config.input_size), progress, should_cancel)
    predictor.to(choose_device("cpu"))
    return predictor, series, history
