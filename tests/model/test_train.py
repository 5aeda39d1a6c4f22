"""The whole pipeline on the real bundled data."""

import copy

import numpy as np
import pytest
import torch

from model.config import ModelConfig, TrainConfig
from model.datasets import DATASETS
from model.fit import STEP_WINDOW
from model.train import train
from model.windows import DataError
from tests.model.helpers import small


def test_stock_model_reports_test_metrics_beside_baselines(stock_artifact):
    m = stock_artifact.manifest.to_dict()
    assert set(m["metrics"]) >= {"model", "naive", "seasonal_naive", "coverage", "windows", "mase_scale"}
    # Trained on 2004-2010 prices, tested on 2012-2013: per-window scaling keeps it near naive, never far off.
    assert m["metrics"]["model"]["mase"] <= 1.1 * m["metrics"]["naive"]["mase"]
    assert 0.6 < m["metrics"]["coverage"]["80"] < 0.95
    assert len(m["data_fingerprint"]) == 64


def test_the_scaler_is_fitted_on_the_training_part_only(stock_artifact):
    closes = DATASETS["stock"].load()["close"].to_numpy()
    n = len(closes)
    train_rows = n - round(n * 0.15) - 2 * round(n * 0.1)  # test, calibration, validation
    steps = np.abs(np.diff(closes[:train_rows])).mean()
    assert stock_artifact.manifest.scaler["floor"][0] == pytest.approx(0.1 * steps, rel=1e-4)


def test_classifier_pipeline_reports_accuracy_f1_perplexity():
    artifact = small("weather-type", TrainConfig(epochs=1))
    m = artifact.manifest.metrics
    assert set(m["model"]) == {"accuracy", "macro_f1", "perplexity"} and "majority" in m
    assert np.asarray(m["confusion_matrix"]).sum() == m["windows"]
    assert sorted(artifact.config.classes) == ["drizzle", "fog", "rain", "snow", "sun"]


def test_a_classifier_needs_covariates():
    d = DATASETS["weather-type"]
    config = copy.deepcopy(d.model)
    config.covariates = []
    with pytest.raises(DataError, match="needs covariates"):
        train(d.load(), config, TrainConfig(epochs=1), d.time_column)


def test_the_choices_made_on_validation_are_recorded(stock_artifact):
    m = stock_artifact.manifest.to_dict()
    choice = m["choice"]
    assert choice["season_length"] == 5 and choice["season_source"] == "frequency"  # B -> 5 trading days
    assert choice["scaling"] == m["config"]["scaling"] == m["scaler"]["kind"]
    # Prices leave the range they started in: standard scaling is not even a candidate.
    assert choice["scaling"] != "standard" and not any(k.startswith("standard") for k in m["validation"]["candidates"])
    assert choice["base"] == m["config"]["base"] in ("naive", "seasonal")


def test_never_worse_than_the_better_base_on_validation(stock_artifact):
    v = stock_artifact.manifest.validation
    bare = [score for key, score in v["candidates"].items() if key.endswith("/inf")]  # the bases, no ridge
    assert v["model"] <= min(bare) + 1e-6
    assert v["initial"] <= min(bare) + 1e-9


def test_a_seasonal_series_gets_the_seasonal_base_and_standard_scaling_when_it_keeps_its_range():
    """Real hourly temperatures (bundled SF 2010), one month: the daily cycle is found and used."""
    frame = DATASETS["sf-temps"].load().iloc[: 24 * 60]
    config = ModelConfig(targets=["temp"], input_size=48, horizon=24, hidden_size=8)  # no frequency: detected
    artifact = train(frame, config, TrainConfig(epochs=2, max_steps=20), "date")
    choice = artifact.manifest.choice
    assert choice["season_length"] == 24 and choice["season_source"] == "detected"
    # the seasonal base alone, or in the mean of the best naive-based and seasonal-based starts
    assert choice["base"] == "seasonal" or "seasonal" in [part["base"] for part in choice["combined"]]
    metrics = artifact.manifest.metrics
    assert metrics["seasonal_naive"]["mase"] < metrics["naive"]["mase"]  # the baseline uses the season too


def test_max_steps_bounds_the_work_on_a_long_series():
    d = DATASETS["ecg"]
    config = copy.deepcopy(d.model)
    config.hidden_size = 4
    reports = []
    train(d.load().iloc[:20_000], config, TrainConfig(epochs=3, max_steps=6, patience=0), d.time_column,
          progress=reports.append)
    # 3 epochs of 2 sampled steps, not 3 x 200 full passes (the winner's last epoch is skipped when
    # its first never beat its start: it would replay it)
    assert [r.epoch for r in reports] in ([1, 2, 3], [1, 2])
    assert all(r.train_seconds < 5 for r in reports)


def test_a_long_window_trains_fewer_steps_so_the_budget_bounds_the_time(monkeypatch):
    steps = []
    original = torch.optim.Adam.step

    def counted(self, *args, **kwargs):
        steps.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", counted)
    d = DATASETS["ecg"]
    config = copy.deepcopy(d.model)
    config.hidden_size, config.linear_skip, config.input_size = 4, False, 2 * STEP_WINDOW  # no race: one run
    artifact = train(d.load().iloc[:20_000], config, TrainConfig(epochs=3, max_steps=12, patience=0), d.time_column)
    # twice the step window: 6 steps (3 epochs of 2), not 12
    assert len(steps) == 6
    assert artifact.manifest.choice["max_steps"] == 6
    assert artifact.manifest.train_config["max_steps"] == 12  # what was asked, for a retrain to repeat


def test_training_never_changes_the_config_it_was_given():
    d = DATASETS["weather-type"]
    config = copy.deepcopy(d.model)
    small_config = ModelConfig.from_dict({**config.to_dict(), "hidden_size": 4})
    before = copy.deepcopy(small_config)
    artifact = train(d.load(), small_config, TrainConfig(epochs=1), d.time_column)
    assert small_config == before and artifact.config.scaling == "standard" and before.scaling == "auto"
    frame = DATASETS["sf-temps"].load().iloc[: 24 * 60]
    asked = ModelConfig(targets=["temp"], input_size=48, horizon=24, hidden_size=4, frequency="H")
    before = copy.deepcopy(asked)
    artifact = train(frame, asked, TrainConfig(epochs=1, max_steps=2), "date")
    assert asked == before  # "H" resolved to "h", the season and "auto"s resolved: on the artifact's copy
    assert artifact.config.frequency == "h" and artifact.config.season_length == 24
    assert artifact.config.scaling != "auto" and artifact.config.base != "auto"


def test_every_decision_is_recorded_with_why(stock_artifact):
    why = stock_artifact.manifest.choice["why"]
    assert set(why) >= {"scaling", "base", "ridge_penalty", "season_length", "calendar", "members"}
    assert why["season_length"] == "from the frequency" and why["scaling"].startswith("auto:")
    tried = bool(stock_artifact.manifest.validation["calendar"])  # the scores of both, when the year was tried
    assert why["calendar"].startswith("auto: the year did not" if tried else "auto: not tried")
    classifier = small("weather-type", TrainConfig(epochs=1)).manifest.choice
    assert classifier["scaling"] == "standard" and classifier["why"]["scaling"].startswith("a classifier")
    assert classifier["why"]["base"] == "a classifier has no base forecast"
