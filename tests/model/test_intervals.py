"""Interval widths: per-step conformal, and what holds when calibration windows are few."""

import numpy as np
import pandas as pd
import pytest

from model.config import ModelConfig, TrainConfig
from model.evaluate import coverage_warning
from model.intervals import bands, few_window_bands, pooled_bands
from model.train import train


def test_per_step_conformal_widths_take_the_finite_sample_rank():
    residuals = np.arange(1, 101, dtype=float).reshape(100, 1, 1)  # |r| = 1..100
    made = bands(residuals, widen=2.0)
    assert made.method == "conformal" and made.windows == 100
    assert made.quantiles[80][0, 0] == 2 * 81  # ceil(101 * 0.8) = 81st smallest
    assert made.quantiles[99][0, 0] == 2 * 100


def test_pooled_widths_differ_by_level_and_extrapolate_what_few_windows_cannot_show():
    rng = np.random.default_rng(0)
    residuals = rng.standard_normal((7, 12, 1)) * np.sqrt(np.arange(1, 13))[None, :, None]
    made = pooled_bands(residuals)
    widths = [made.quantiles[level][:, 0] for level in (50, 80, 90, 95, 99)]
    assert all((a < b).all() for a, b in zip(widths, widths[1:], strict=False))  # wider at every higher level
    assert (np.diff(widths[1]) >= 0).all()  # never narrower further ahead
    assert made.extrapolated == [90, 95, 99]  # 7 windows show 50% and 80% (ceil(8 q) <= 7), no more


def test_few_windows_take_the_wider_of_the_base_errors_and_the_models_own():
    rng = np.random.default_rng(1)
    base = rng.standard_normal((200, 3, 1)) * 5.0
    own = rng.standard_normal((2, 3, 1)) * 0.01  # an in-sample-looking handful: tiny
    made = few_window_bands(base, own)
    assert made.method == "few windows" and "2 calibration windows" in made.note
    assert made.quantiles[95][0, 0] == pytest.approx(np.quantile(np.abs(base[:, 0, 0]), 0.95), rel=0.05)
    assert (made.quantiles[95] > made.quantiles[80]).all()


def test_a_short_monthly_series_gets_honest_bands_and_says_why():
    """120 monthly points, input 36, horizon 12: one calibration window. Its bands were +-1 at every
    level (coverage 0.024 on a series that moves by hundreds a month); now the base's errors bound them."""
    months = pd.date_range("2006-01-01", periods=120, freq="MS")
    steps = np.random.default_rng(3).normal(100, 150, 120)
    frame = pd.DataFrame({"month": months.strftime("%Y-%m-%d"), "jobs": 135_000 + steps.cumsum()})
    config = ModelConfig(targets=["jobs"], input_size=36, horizon=12, frequency="MS", hidden_size=8)
    artifact = train(frame, config, TrainConfig(epochs=3), "month")
    intervals = artifact.manifest.validation["intervals"]
    assert intervals["method"] == "few windows" and intervals["windows"] < 50 and intervals["note"]
    q80, q95 = (np.asarray(artifact.manifest.interval_quantiles[k]) for k in ("80", "95"))
    assert (q95 > q80).all()
    window = frame["jobs"].to_numpy(np.float32)[-36:, None][None]
    lower, upper = artifact.predictor.predict(window, (80,)).intervals[80]
    assert (upper - lower)[0, 0, 0] > 100  # a month's typical move, not +-1
    assert ("coverage_warning" in artifact.manifest.metrics) == (coverage_warning(artifact.manifest.metrics, 12)
                                                                 is not None)


def test_coverage_far_from_nominal_is_a_warning():
    assert coverage_warning({"coverage": {"80": 0.81, "95": 0.94}, "windows": 100}) is None
    assert coverage_warning({"coverage": {"80": 0.7}, "windows": 700}) is not None
    assert coverage_warning({"coverage": {"80": 0.7}, "windows": 700}, horizon=100) is None  # 7 separate windows
    warning = coverage_warning({"coverage": {"80": 0.024, "95": 0.024}, "windows": 7})
    assert warning and "80% bands cover 0.02" in warning and "95% bands cover 0.02" in warning
    assert coverage_warning({"coverage": {"80": 0.7, "95": 0.95}, "windows": 7}) is None  # within 7 windows' noise
    assert coverage_warning({"model": {}}) is None  # a classifier
