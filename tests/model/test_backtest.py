import copy
import json
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
    # which volatility the bands followed (lag 1 or the season, 5 trading days) and how far
    unit = result["interval_unit"]
    assert unit["lag"] in (1, 5) and 0 <= unit["exponent"] <= 1
    assert f"volatility at lag {unit['lag']} ** {unit['exponent']}" in text


def test_a_step_below_the_horizon_scores_overlapping_windows_and_counts_the_overlap():
    """--step 1, as statsforecast's step_size and Darts' stride: a forecast from every test row."""
    frame, config, train_config, time_column = small_stock()
    every = backtest(frame, copy.deepcopy(config), train_config, time_column, statistical=False, step=1)
    apart = backtest(frame, copy.deepcopy(config), train_config, time_column, statistical=False)
    series = prepare_series(frame, copy.deepcopy(config), time_column)
    starts = backtest_windows(series, config, train_config, step=1)
    assert np.all(np.diff(starts) == 1) and every["windows"] == len(starts)
    assert every["windows"] == (apart["windows"] - 1) * config.horizon + 1  # the same span, every row
    assert (every["step"], apart["step"], every["horizon"]) == (1, config.horizon, config.horizon)
    # the same trained model: the non-overlapping windows are every horizon-th of the overlapping ones
    assert every["model"]["mase"] == pytest.approx(apart["model"]["mase"], rel=0.2)
    assert "overlapping (every row)" in format_backtest(every) and "non-overlapping" in format_backtest(apart)
    with pytest.raises(DataError, match="step"):
        backtest(frame, config, train_config, time_column, statistical=False, step=0)


def test_overlap_counts_the_windows_that_share_an_actual_value():
    from model.backtest import overlap

    config = ModelConfig(horizon=24)
    assert [overlap(config, step) for step in (None, 24, 48, 12, 7, 1)] == [1, 1, 1, 2, 4, 24]


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
    assert main(["backtest", "--csv", str(csv), "--target", "close", "--time-column", "date", "--frequency", "B",
                 "--input-size", "20", "--horizon", "3", "--epochs", "1", "--hidden-size", "8", "--no-stats",
                 "--no-linear-skip", "--origins", "2", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)["origins"]) == 2
    assert main(["backtest", "--csv", str(csv)]) == 2  # no --target
    assert "give --dataset NAME" in capsys.readouterr().err
    assert ModelConfig().linear_skip  # --no-linear-skip changed only that run


def test_several_origins_score_every_origins_windows_together():
    frame, config, train_config, time_column = small_stock()
    seen = []

    def others(cut):  # another system, called on each origin's own cut of the series
        seen.append(len(cut))
        series = prepare_series(cut, copy.deepcopy(config), time_column)
        starts = backtest_windows(series, config, train_config)
        last = series.values[starts + config.input_size - 1][:, None, :]  # naive by another name
        return {"last_value": (np.repeat(last, config.horizon, axis=1), 0.5)}

    result = backtest(frame, config, train_config, time_column, statistical=False, others=others, origins=2)
    older, newer = result["origins"]
    step = round(900 * 0.15)
    assert seen == [900 - step, 900] and (older["rows"], newer["rows"]) == (900 - step, 900)
    assert result["windows"] == older["windows"] + newer["windows"]
    # the older origin's test part ends where the newer one's training data goes on: no window scored twice
    assert older["rows"] <= 900 - newer["windows"] * config.horizon
    share = older["windows"] / result["windows"]
    for system in ("model", "naive", "last_value"):  # each window on its own origin's MASE scale
        expected = share * older[system]["mase"] + (1 - share) * newer[system]["mase"]
        assert result[system]["mase"] == pytest.approx(expected, rel=1e-5)
        assert result[system]["mae"] == pytest.approx(share * older[system]["mae"] + (1 - share) * newer[system]["mae"],
                                                      rel=1e-5)
    assert result["last_value"]["mase"] == pytest.approx(result["naive"]["mase"], rel=1e-6)
    assert result["versus"]["last_value"]["p_value"] == pytest.approx(result["versus"]["naive"]["p_value"])
    for level in ("80", "95"):
        assert result["coverage"][level] == pytest.approx(
            share * older["coverage"][level] + (1 - share) * newer["coverage"][level])
    assert result["seconds"]["last_value"] == 1.0 and result["mase_scale"] == [older["mase_scale"],
                                                                                  newer["mase_scale"]]
    assert result["interval_unit"] == newer["interval_unit"]  # as the choice: the newest origin's
    text = format_backtest(result)
    assert f"{result['windows']} non-overlapping test windows from 2 origins" in text
    assert f"origin 1: first {900 - step} rows" in text and "origin 2: first 900 rows" in text


def test_too_many_origins_are_refused_with_the_reason():
    frame, config, train_config, time_column = small_stock()
    with pytest.raises(DataError, match="origins"):
        backtest(frame, config, train_config, time_column, statistical=False, origins=0)
    with pytest.raises(DataError, match="need more than 900 rows"):
        backtest(frame, config, train_config, time_column, statistical=False, origins=8)
    config.horizon = 20  # the earliest cut's 9 validation rows hold no 20-step horizon
    with pytest.raises(DataError, match="7 origins leave the earliest 90 rows: .*validation.*fewer origins"):
        backtest(frame, config, train_config, time_column, statistical=False, origins=7)


def test_the_backtest_counts_the_windows_the_guard_caught():
    """A real price series whose provider switched to cents in the test part: the windows that hold
    the jump spread wider than any training window."""
    frame, config, train_config, time_column = small_stock()
    clean = backtest(frame, config, train_config, time_column, statistical=False)
    assert clean["guarded"] == 0 and "guard" not in format_backtest(clean)
    gapped = frame.copy()
    gapped.loc[gapped.index[850:], "close"] *= 100
    result = backtest(gapped, config, train_config, time_column, statistical=False)
    assert 1 <= result["guarded"] <= result["windows"]
    assert f"{result['guarded']} of {result['windows']} windows spread wider" in format_backtest(result)


def test_origins_are_cut_in_the_rows_training_sees_when_missing_times_are_filled():
    """Real hourly temperatures with the hours a logger dropped: `interpolate` fills them, so each
    origin's test part is counted in filled rows, and neighbouring origins share no window."""
    d = DATASETS["sf-temps"]
    config = ModelConfig.from_dict({**d.model.to_dict(), "input_size": 24, "horizon": 6, "hidden_size": 8})
    frame = d.load().iloc[:1200]
    dropped = frame.drop(index=[900, 1001, 1002, 1003, 1100, 1150]).reset_index(drop=True)  # 6 hours missing
    train_config = TrainConfig(epochs=1, interpolate=True)
    result = backtest(dropped, config, train_config, d.time_column, statistical=False, origins=3)
    step = round(1200 * train_config.test_fraction)
    assert [o["rows"] for o in result["origins"]] == [1200 - 2 * step, 1200 - step, 1200]  # filled rows
    for older, newer in zip(result["origins"], result["origins"][1:], strict=False):
        test_start = newer["rows"] - round(newer["rows"] * train_config.test_fraction)
        assert older["rows"] <= test_start  # the older test part ends where the newer one begins
