import copy
import sys

import numpy as np
import pytest

from model.backtest import backtest, backtest_windows, format_backtest, statistical_forecasts
from model.cli import main
from model.config import ModelConfig, TrainConfig
from model.datasets import DATASETS
from model.windows import DataError, prepare_series


def small_stock():
    d = DATASETS["stock"]
    config = copy.deepcopy(d.model)
    config.hidden_size = 8
    return d.load().iloc[:900], config, TrainConfig(epochs=2), d.time_column


def test_backtest_scores_non_overlapping_test_windows_beside_the_baselines():
    frame, config, train_config, time_column = small_stock()
    result = backtest(frame, config, train_config, time_column, statistical=False)
    series = prepare_series(frame, copy.deepcopy(config), time_column)
    starts = backtest_windows(series, config, train_config)
    assert np.all(np.diff(starts) == config.horizon)  # non-overlapping: one horizon apart
    assert result["windows"] == len(starts) and result["windows"] == round(900 * 0.15) // config.horizon
    for system in ("model", "naive", "seasonal_naive"):
        assert set(result[system]) >= {"mase", "smape", "mae"}
    assert set(result["coverage"]) == {"80", "95"} and result["seconds"]["model"] > 0
    assert "auto_arima" not in result
    # the model against each baseline on the same windows, and how far the coverage could move by chance
    assert set(result["versus"]) == {"naive", "seasonal_naive"}
    for system, versus in result["versus"].items():
        assert versus["relative"] == pytest.approx(result["model"]["mase"] / result[system]["mase"] - 1)
        assert 0 <= versus["p_value"] <= 1
    for level, (low, high) in result["coverage_interval"].items():
        assert 0 <= low <= result["coverage"][level] <= high <= 1
    text = format_backtest(result)
    assert "seasonal_naive" in text and "coverage" in text and "non-overlapping" in text
    assert "Diebold-Mariano" in text and "(p " in text and "90% interval" in text


def test_the_statistical_baselines_are_optional(monkeypatch):
    frame, config, _, time_column = small_stock()
    config.season_length = 5
    series = prepare_series(frame, config, time_column)
    monkeypatch.setitem(sys.modules, "statsforecast.models", None)  # as if the bench extra were absent
    assert statistical_forecasts(series, config, np.array([700, 705])) == {}


def test_the_statistical_baselines_forecast_the_same_windows():
    pytest.importorskip("statsforecast", reason="the bench extra (statsforecast) is not installed")
    frame, config, _, time_column = small_stock()
    config.season_length = 5
    series = prepare_series(frame, config, time_column)
    out = statistical_forecasts(series, config, np.array([700, 705]))
    assert set(out) == {"auto_ets", "auto_arima"}
    forecast, seconds = out["auto_arima"]
    assert forecast.shape == (2, config.horizon, 1) and np.isfinite(forecast).all() and seconds > 0
    # A price forecast stays near the last price before the origin.
    assert abs(forecast[0, 0, 0] - series.values[700 + config.input_size - 1, 0]) < 50


def test_classifiers_are_refused():
    d = DATASETS["weather-type"]
    with pytest.raises(DataError, match="forecasters"):
        backtest(d.load(), copy.deepcopy(d.model), TrainConfig(epochs=1), d.time_column)


def test_the_backtest_command(tmp_path, capsys):
    csv = tmp_path / "prices.csv"
    DATASETS["stock"].load().iloc[:600].to_csv(csv, index=False)
    code = main(["backtest", "--csv", str(csv), "--target", "close", "--time-column", "date", "--frequency", "B",
                 "--input-size", "20", "--horizon", "3", "--epochs", "2", "--hidden-size", "8", "--no-stats",
                 "--no-linear-skip"])
    assert code == 0
    out = capsys.readouterr().out
    assert "non-overlapping test windows; season 5" in out and "naive" in out
    assert main(["backtest", "--csv", str(csv)]) == 2  # no --target
    assert "give --dataset NAME" in capsys.readouterr().err
    assert ModelConfig().linear_skip  # --no-linear-skip changed only that run
