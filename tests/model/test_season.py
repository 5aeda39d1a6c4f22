import numpy as np
import pytest

from model.datasets import DATASETS
from model.season import detect_season, resolve_season, season_from_frequency


@pytest.mark.parametrize(("frequency", "season"), [
    ("h", 24), ("H", 24), ("30min", 48), ("15min", 96), ("D", 7), ("B", 5), ("W", 52), ("W-SUN", 52),
    ("MS", 12), ("M", 12), ("ME", 12), ("QS", 4), ("Y", 1), ("2h", 12), ("7min", None), ("fortnightly", None),
    (None, None),
])
def test_season_from_frequency(frequency, season):
    assert season_from_frequency(frequency) == season


def test_detects_the_daily_cycle_of_hourly_temperatures():
    temps = DATASETS["sf-temps"].load()["temp"].to_numpy()
    assert detect_season(temps[:5000], max_lag=1000) == 24


def test_a_random_walk_and_a_trend_have_no_season():
    rng = np.random.default_rng(0)
    assert detect_season(np.cumsum(rng.standard_normal(3000)), max_lag=500) == 1
    assert detect_season(np.arange(3000.0) + 0.1 * rng.standard_normal(3000), max_lag=500) == 1
    assert detect_season(DATASETS["stock"].load()["close"].to_numpy(), max_lag=500) == 1


def test_the_smallest_of_equal_peaks_wins_over_its_multiples():
    t = np.arange(4000)
    x = np.sin(2 * np.pi * t / 12) + 0.1 * np.random.default_rng(1).standard_normal(4000)
    assert detect_season(x, max_lag=100) == 12


def test_an_explicit_season_wins_then_the_frequency_then_detection():
    temps = DATASETS["sf-temps"].load()["temp"].to_numpy()[:3000]
    assert resolve_season(5, "h", temps, 500) == 5
    assert resolve_season(None, "D", temps, 500) == 7
    assert resolve_season(None, None, temps, 500) == 24
