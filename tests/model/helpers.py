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


def monthly_weather(months: int | None = None) -> pd.DataFrame:
    """Seattle's daily maximum temperature (bundled, real) as a panel: one series per month, id "2012-01"..."""
    frame = DATASETS["weather"].load()[["date", "temp_max"]]
    frame.insert(0, "month", frame["date"].str[:7])
    if months is not None:
        frame = frame[frame["month"].isin(frame["month"].unique()[:months])]
    return frame.reset_index(drop=True)


def hand_built_panel(frame: pd.DataFrame | None = None, input_size: int = 14, horizon: int = 7):
    """A panel Artifact built without training (an untrained GRUNet forecasts its naive base exactly),
    with the tails of monthly_weather's series: what the page and the series routes read."""
    import numpy as np

    from model.artifact import Artifact, build_manifest
    from model.network import GRUNet
    from model.panel import read_panel
    from model.predictor import Predictor
    from model.scaling import fit_scaler
    from model.tails import tails_frame

    frame = monthly_weather() if frame is None else frame
    config = ModelConfig(id_column="month", targets=["temp_max"], input_size=input_size, horizon=horizon,
                         frequency="D", calendar="none", scaling="window", base="naive", linear_skip=False,
                         hidden_size=8, season_length=7)
    panel = read_panel(frame, config, "date")
    columns = len(config.features)
    scaler = fit_scaler(np.arange(10.0)[:, None] + np.zeros((10, columns)), "window", len(config.fixed_columns))
    quantiles = {80: np.full((horizon, 1), 1.0, np.float32), 95: np.full((horizon, 1), 2.0, np.float32)}
    predictor = Predictor(config=config, net=GRUNet(config), scaler=scaler, quantiles=quantiles)
    manifest = build_manifest(predictor, metrics={}, panel={
        "series": len(panel.ids), "short": panel.short, "min_points": 2, "id_column": "month", "refitted": False})
    return Artifact(predictor, manifest, tails=tails_frame(panel, config, "date"))
