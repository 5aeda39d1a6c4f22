"""The bundled real datasets (see data/SOURCES.md) and the default model trained on each."""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import pandas as pd

from model.config import ModelConfig, TrainConfig


@dataclass
class Dataset:
    name: str  # also the default model's name
    file: str  # in model/data/
    time_column: str
    model: ModelConfig
    training: TrainConfig = field(default_factory=TrainConfig)
    description: str = ""

    def load(self) -> pd.DataFrame:
        with resources.files("model.data").joinpath(self.file).open("rb") as raw:
            return pd.read_csv(raw, compression="gzip")


DATASETS: dict[str, Dataset] = {
    d.name: d
    for d in [
        Dataset(
            name="stock",
            file="stock_goog.csv.gz",
            time_column="date",
            model=ModelConfig(targets=["close"], input_size=30, horizon=5, frequency="B"),
            description="Google daily close 2004-08-19..2013-03-01 (USD); forecasts the next 5 trading days",
        ),
        Dataset(
            name="weather",
            file="weather_seattle.csv.gz",
            time_column="date",
            model=ModelConfig(targets=["temp_max"], covariates=["temp_min", "precipitation", "wind"],
                              input_size=28, horizon=7, frequency="D"),
            description="Seattle daily maximum temperature 2012-2015 (deg C); forecasts the next 7 days",
        ),
        Dataset(
            name="ecg",
            file="ecg_mitbih208.csv.gz",
            time_column="sample",
            # 360 Hz: 0.5 s of history -> the next 50 ms. No frequency: the season is detected (record
            # 208's beats are irregular, so none is found and seasonal naive is naive).
            model=ModelConfig(targets=["mv"], input_size=180, horizon=18),
            description="MIT-BIH record 208 lead MLII, 5 min at 360 Hz (mV); forecasts the next 18 samples",
        ),
        Dataset(
            name="sf-temps",
            file="temps_sf_hourly.csv.gz",
            time_column="date",
            model=ModelConfig(targets=["temp"], input_size=168, horizon=24, frequency="h"),
            description="San Francisco hourly temperature 2010 (deg F); forecasts the next 24 hours from the last week",
        ),
        Dataset(
            name="weather-type",
            file="weather_seattle.csv.gz",
            time_column="date",
            model=ModelConfig(task="classify", targets=["weather"],
                              covariates=["precipitation", "temp_max", "temp_min", "wind"],
                              input_size=14, horizon=1, frequency="D"),
            description="Seattle next-day weather type (sun, rain, drizzle, snow, fog) from 14 days of weather",
        ),
    ]
}

# The bundled models: one per dataset above, named after it, its weights in model/pretrained/<name>/v1
# (written by `gru-forecast rebuild-defaults`). The service seeds exactly these into a new store.
BUNDLED: tuple[str, ...] = tuple(DATASETS)
PRETRAINED = Path(str(resources.files("model").joinpath("pretrained")))
