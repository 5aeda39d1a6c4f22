"""The whole pipeline on the real bundled data."""

import copy

import numpy as np
import pytest

from model.config import TrainConfig
from model.datasets import DATASETS
from model.train import train
from model.windows import DataError


def test_stock_model_reports_test_metrics_beside_baselines(stock_artifact):
    m = stock_artifact.manifest
    assert set(m["metrics"]) >= {"model", "naive", "seasonal_naive", "coverage", "windows", "mase_scale"}
    # Trained on 2004-2010 prices, tested on 2012-2013: per-window scaling keeps it near naive, never far off.
    assert m["metrics"]["model"]["mase"] <= 1.1 * m["metrics"]["naive"]["mase"]
    assert 0.6 < m["metrics"]["coverage"]["80"] < 0.95
    assert len(m["data_fingerprint"]) == 64


def test_the_scaler_is_fitted_on_the_training_part_only(stock_artifact):
    closes = DATASETS["stock"].load()["close"].to_numpy()
    train_rows = len(closes) - 2 * round(len(closes) * 0.15)
    steps = np.abs(np.diff(closes[:train_rows])).mean()
    assert stock_artifact.manifest["scaler"]["floor"][0] == pytest.approx(0.1 * steps, rel=1e-4)


def test_classifier_pipeline_reports_accuracy_f1_perplexity():
    d = DATASETS["weather-type"]
    config = copy.deepcopy(d.model)
    config.hidden_size = 8
    artifact = train(d.load(), config, TrainConfig(epochs=1), d.time_column)
    m = artifact.manifest["metrics"]
    assert set(m["model"]) == {"accuracy", "macro_f1", "perplexity"} and "majority" in m
    assert np.asarray(m["confusion_matrix"]).sum() == m["windows"]
    assert sorted(artifact.config.classes) == ["drizzle", "fog", "rain", "snow", "sun"]


def test_a_classifier_needs_covariates():
    d = DATASETS["weather-type"]
    config = copy.deepcopy(d.model)
    config.covariates = []
    with pytest.raises(DataError, match="needs covariates"):
        train(d.load(), config, TrainConfig(epochs=1), d.time_column)
