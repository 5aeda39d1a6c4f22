"""Shared by the training-step tests: a bundled dataset's model, trained small, and its resolved data."""

import copy
from dataclasses import replace

import pandas as pd

from model.config import ModelConfig, TrainConfig
from model.datasets import DATASETS
from model.resolve import Resolved, resolve
from model.train import train
from model.windows import prepare_series, split_windows


def small(name: str, train_config: TrainConfig, progress=None, **model):
    """A bundled dataset's default model with a hidden size of 8 (and any model options), trained."""
    d = DATASETS[name]
    config = replace(d.model, hidden_size=8, **model)
    return train(d.load(), config, train_config, d.time_column, progress=progress)


def resolved(frame: pd.DataFrame, config: ModelConfig, time_column: str | None,
             train_config: TrainConfig | None = None) -> Resolved:
    """The first training step on a frame: what choose, race and calibrate read."""
    train_config = train_config or TrainConfig()
    config = copy.deepcopy(config)
    series = prepare_series(frame, config, time_column)
    split = split_windows(len(series.values), config.input_size, config.horizon, train_config.val_fraction,
                          train_config.test_fraction, train_config.calibration_fraction)
    return resolve(series, config, split, train_config)


def bundled(name: str, **model) -> Resolved:
    d = DATASETS[name]
    return resolved(d.load(), replace(d.model, **model), d.time_column, d.training)
