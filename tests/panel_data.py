"""Real panels for the panel tests: a bundled dataset cut into consecutive series, each with its own dates
(Seattle's daily maximum temperature, model/data/weather_seattle.csv.gz), and a hand-built panel model."""

import numpy as np
import pandas as pd

from model import store
from model.artifact import Artifact, build_manifest
from model.config import ModelConfig
from model.datasets import DATASETS
from model.network import GRUNet
from model.predictor import Predictor
from model.scaling import fit_scaler


def weather_panel(lengths: dict[str, int], id_column="unique_id", time_column="ds", target="y") -> pd.DataFrame:
    """Series named by lengths' keys, cut one after another from Seattle's daily maximum temperature."""
    weather = DATASETS["weather"].load()
    parts, start = [], 0
    for key, length in lengths.items():
        rows = weather.iloc[start : start + length]
        parts.append(pd.DataFrame({id_column: key, time_column: rows["date"].to_numpy(),
                                   target: rows["temp_max"].to_numpy()}))
        start += length
    return pd.concat(parts, ignore_index=True)


def panel_model(root, name="panel", input_size=8, horizon=3, frequency="D") -> ModelConfig:
    """An untrained panel model saved in the store: it forecasts exactly its base (naive)."""
    config = ModelConfig(id_column="unique_id", targets=["y"], input_size=input_size, horizon=horizon,
                         frequency=frequency, scaling="window", base="naive", calendar="none", hidden_size=4,
                         linear_skip=False)
    scaler = fit_scaler(np.zeros((10, len(config.features))) + np.arange(10)[:, None], "window",
                        len(config.fixed_columns))
    ones = np.ones((horizon, 1), np.float32)
    predictor = Predictor(config=config, net=GRUNet(config), scaler=scaler, quantiles={80: ones, 95: 2 * ones})
    store.save_version(root, name, Artifact(predictor, build_manifest(predictor, metrics={})))
    return config
