"""Calibration: the refitted skip, the volatility the widths follow, and the conformal widths."""

import copy
from dataclasses import replace

import numpy as np
import pytest
import torch

import model.calibrate as calibrate_module
import model.intervals as intervals_module
from model.calibrate import _exponent, interval_unit
from model.config import ModelConfig, TrainConfig
from model.datasets import DATASETS
from model.resolve import Resolved
from model.scaling import step_floor
from model.train import train
from model.windows import Series, make_windows, prepare_series, split_windows
from tests.model.helpers import resolved, small


def test_intervals_are_calibrated_on_a_part_early_stopping_never_saw(monkeypatch):
    """The calibration residuals come from windows outside the validation part (and before the test)."""
    seen = {}
    original = intervals_module.conformal_quantiles

    def spy(residuals, *args, **kwargs):
        seen["n"] = len(residuals)
        return original(residuals, *args, **kwargs)

    monkeypatch.setattr(intervals_module, "conformal_quantiles", spy)
    d = DATASETS["weather"]
    config = d.model
    artifact = small("weather", TrainConfig(epochs=1))
    split = split_windows(len(d.load()), config.input_size, config.horizon, 0.1, 0.15, 0.1)
    assert seen["n"] == split.calibration.stop - split.calibration.start
    assert split.val.stop <= split.calibration.start + config.input_size  # no window targets overlap
    assert split.calibration.stop <= split.test.start + config.input_size
    assert set(artifact.manifest.metrics["coverage"]) == {"80", "95"}
    assert artifact.manifest.validation["intervals"]["method"] == "conformal"


def test_the_skip_is_refitted_up_to_the_test_part_and_the_intervals_widened_for_it(monkeypatch):
    """sf-temps, four months: the newest weeks change the linear map; the GRU and the choices stay."""
    stops = []
    original = calibrate_module.refit_skip
    monkeypatch.setattr(calibrate_module, "refit_skip", lambda *a: stops.append(a[-1]) or original(*a))
    frame = DATASETS["sf-temps"].load().iloc[: 24 * 120]
    config = ModelConfig(targets=["temp"], input_size=48, horizon=24, hidden_size=4, frequency="h",
                         scaling="robust", base="seasonal")
    options = {"epochs": 1, "max_steps": 2}
    kept = train(frame, config, TrainConfig(**options, refit=False), "date")
    refitted = train(frame, config, TrainConfig(**options), "date")
    assert kept.manifest.validation["refit"] is False and refitted.manifest.validation["refit"] is True
    assert kept.manifest.validation["interval_widening"] == 1.0
    assert 1.0 < refitted.manifest.validation["interval_widening"] < 1.2  # sqrt(N / (N - dof))
    # Same choices and GRU, a different map; the held-out validation score is the one before the refit.
    assert kept.manifest.choice == refitted.manifest.choice
    assert kept.manifest.validation["model"] == refitted.manifest.validation["model"]
    skip_kept, skip_new = kept.predictor.net.skip, refitted.predictor.net.skip
    assert skip_kept is not None and skip_new is not None
    assert not torch.allclose(skip_kept.weight, skip_new.weight)
    torch.testing.assert_close(kept.predictor.net.head.weight, refitted.predictor.net.head.weight)
    split = split_windows(len(frame), 48, 24, 0.1, 0.15, 0.1)
    assert stops == [split.calibration.stop]  # windows whose horizon ends before the test part


def test_the_interval_exponent_says_whether_errors_follow_volatility_from_period_to_period():
    rng = np.random.default_rng(0)
    n = 1200
    vol = np.exp(np.linspace(0, 2, n))[:, None]  # volatility rises 7x over the series
    noise = np.abs(rng.standard_normal((n, 1)))
    proportional, tight = _exponent(vol, noise * vol)
    flat, _ = _exponent(vol, noise)
    assert proportional > 0.9 and flat < 0.1  # prices vs a learned daily cycle
    steady, _ = _exponent(np.ones((n, 1)), noise)
    assert steady == 1.0  # no period wilder than another: the proportional default
    # What the fit leaves: little where errors follow volatility, all of their own swings where
    # they move against it.
    _, loose = _exponent(vol, noise / vol)
    assert loose > 10 * tight


class _Zero:
    """A predictor whose forecasts are 0: the errors are the targets."""

    def __init__(self, config):
        self.config, self.scaler = config, {"floor": [1e-6]}

    def forecast_array(self, windows):
        return np.zeros((len(windows), self.config.horizon, 1)), None


def _data(x, y, train_targets) -> Resolved:
    """Just what interval_unit reads: windows, targets and the training part's values."""
    split = replace(split_windows(len(train_targets) * 3, 2, 1, 0.1, 0.1), train_rows=len(train_targets))
    return Resolved(None, Series(train_targets, None, None), split, x, y, None, None, [], None, None, "given", False)


@pytest.mark.parametrize("follows", ["cycle", "days"])
def test_the_interval_lag_is_the_volatility_the_errors_follow(follows):
    """A daily cycle whose amplitude shrinks over the series while the day-on-day changes grow (a
    temperature from summer into winter): when the errors follow the day-on-day changes, the widths
    follow the season's lag; when they follow the cycle, lag 1."""
    rng = np.random.default_rng(1)
    n, m = 1200, 24
    config = ModelConfig(input_size=2 * m, horizon=m, season_length=m, base="naive")
    t = np.arange(2 * m)
    amplitude = np.linspace(4.0, 1.0, n)  # hour-to-hour steps shrink
    changes = np.exp(np.linspace(0.0, 1.5, n))  # day-on-day changes grow
    day_level = np.repeat(rng.standard_normal((n, 2)), m, axis=1) * changes[:, None]
    x = (amplitude[:, None] * np.sin(2 * np.pi * t / m) + day_level)[:, :, None]
    size = changes if follows == "days" else amplitude
    y = (np.abs(rng.standard_normal((n, m))) * size[:, None])[:, :, None]
    train_targets = x[: n // 2, :, 0].reshape(-1, 1)
    data = _data(x, y, train_targets)
    lag, floor, exponent = interval_unit(_Zero(config), data, n)
    assert lag == (m if follows == "days" else 1)
    assert exponent > 0.5
    assert floor == pytest.approx(step_floor(train_targets, lag))
    # The base's lag wins a tie: no season, one candidate.
    alone = ModelConfig(input_size=2 * m, horizon=m, season_length=1, base="naive")
    assert interval_unit(_Zero(alone), data, n)[0] == 1


@pytest.mark.parametrize("base", ["naive", "seasonal"])
def test_intervals_use_the_fitted_exponent_and_floor_and_both_are_saved(tmp_path, base):
    from model.artifact import load_artifact, save_artifact

    d = DATASETS["weather"]
    artifact = small("weather", TrainConfig(epochs=1), base=base)
    exponent = artifact.manifest.validation["interval_exponent"]
    assert 0.0 <= exponent <= 1.0 and artifact.predictor.exponent == exponent
    assert artifact.manifest.interval_exponent == exponent
    # The served model's inputs: the data's columns, and the calendar's when it chose the year.
    values = prepare_series(d.load(), copy.deepcopy(artifact.config), d.time_column).values.astype(np.float64)
    lag = artifact.predictor.interval_lag
    assert lag in (1, 7) and artifact.manifest.interval_lag == lag == artifact.manifest.validation["interval_lag"]
    # The floor is at the interval's lag, from the training part alone.
    tc = TrainConfig()
    split = split_windows(len(values), 28, 7, tc.val_fraction, tc.test_fraction, tc.calibration_fraction)
    floor = step_floor(values[: split.train_rows, :1], lag)
    assert artifact.predictor.floor == pytest.approx(floor)
    assert artifact.manifest.interval_floor == artifact.predictor.floor
    windows = np.stack([values[-28:], np.full((28, values.shape[1]), 5.0)]).astype(np.float32)  # the second is flat
    vol = artifact.predictor.interval_unit(windows)
    steps = np.abs(windows[0, lag:, 0] - windows[0, :-lag, 0]).mean()
    assert vol[0, 0] == pytest.approx(max(steps, floor[0]) ** exponent, rel=1e-4)
    assert vol[1, 0] == pytest.approx(floor[0] ** exponent, rel=1e-4)
    # The exponent is the served model's, the skip refitted (not the one fitted on training alone).
    x, y = make_windows(values.astype(np.float32), 28, 7)
    assert artifact.manifest.validation["refit"]
    data = resolved(d.load(), artifact.config, d.time_column)
    fitted = interval_unit(artifact.predictor, data, split.calibration.stop)
    assert fitted == (lag, pytest.approx(floor), exponent)
    save_artifact(artifact, tmp_path / "v1")
    loaded = load_artifact(tmp_path / "v1").predictor
    assert loaded.exponent == exponent and loaded.floor == artifact.predictor.floor and loaded.interval_lag == lag
    np.testing.assert_allclose(loaded.interval_unit(windows), vol, rtol=1e-6)
