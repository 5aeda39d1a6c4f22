"""model/batch.py: a long-format file of many series forecast in chunks, in NeuralForecast's columns."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import torch

from model.batch import forecast_file, trained_time_column
from model.config import ModelConfig
from model.network import GRUNet
from model.panel import window
from model.predictor import Predictor
from model.scaling import fit_scaler
from model.windows import DataError

H = 3
COLUMNS = ["unique_id", "ds", "m", "m-lo-80", "m-hi-80", "m-lo-95", "m-hi-95"]


def predictor(**options) -> Predictor:
    """A hand-built panel predictor whose head is not zero, so each window's forecast is its own."""
    config = ModelConfig(**{"id_column": "unique_id", "targets": ["y"], "input_size": 8, "horizon": H,
                            "hidden_size": 8, "scaling": "window", "base": "naive", **options})
    torch.manual_seed(0)
    net = GRUNet(config)
    with torch.no_grad():
        for parameter in net.parameters():
            parameter.add_(0.3 * torch.randn_like(parameter))
    rows = np.ones((10, len(config.features)))
    quantiles = {level: np.full((H, 1), level / 100, np.float32) for level in (50, 80, 90, 95)}
    return Predictor(config=config, net=net.eval(), scaler=fit_scaler(rows, "window", len(config.fixed_columns)),
                     quantiles=quantiles)


def panel(lengths: dict[str, int], time: bool = True, start: str = "2024-01-01") -> pd.DataFrame:
    """Long format, series after series: real-looking values are not needed, distinct ones are."""
    frames = []
    for n, (key, length) in enumerate(lengths.items()):
        frame = pd.DataFrame({"unique_id": key, "y": np.sin(np.arange(length) * (0.3 + 0.1 * n)) * 10 + n})
        if time:
            frame.insert(1, "ds", pd.date_range(start, periods=length, freq="D") + pd.Timedelta(days=n))
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def write(frame: pd.DataFrame, path):
    if path.suffix == ".csv":
        frame.to_csv(path, index=False)
    else:
        frame.to_parquet(path, index=False)
    return path


def read(path) -> pd.DataFrame:
    return pd.read_csv(path) if path.suffix == ".csv" else pd.read_parquet(path)


def direct(model: Predictor, frame: pd.DataFrame, levels=(80, 95)):
    """The same series through panel.window and predictor.predict, one batch."""
    groups = list(frame.groupby("unique_id", sort=False))
    windows = np.stack([window(g[["y"]].to_numpy(), pd.DatetimeIndex(g["ds"]) if "ds" in g else pd.RangeIndex(len(g)),
                               model.config) for _, g in groups])
    return [k for k, _ in groups], model.predict(windows, levels)


def test_columns_in_order_future_days_and_the_forecasts_of_predict(tmp_path):
    model = predictor(frequency="D")
    frame = panel({"a": 20, "b": 5, "c": 9})
    summary = forecast_file(model, write(frame, tmp_path / "in.parquet"), tmp_path / "out.parquet", "m")
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == COLUMNS
    assert summary.series == 3 and summary.skipped == 0 and summary.rows == 34
    keys, expected = direct(model, frame)
    assert out["unique_id"].tolist() == [k for k in keys for _ in range(H)]
    np.testing.assert_allclose(out["m"], expected.mean[:, :, 0].ravel(), rtol=1e-6)
    np.testing.assert_allclose(out["m-hi-95"], expected.intervals[95][1][:, :, 0].ravel(), rtol=1e-6)
    np.testing.assert_allclose(out["m-lo-80"], expected.intervals[80][0][:, :, 0].ravel(), rtol=1e-6)
    last = frame.groupby("unique_id", sort=False)["ds"].max()
    want = [t + pd.Timedelta(days=k) for t in last for k in range(1, H + 1)]
    assert out["ds"].tolist() == want


def test_without_a_time_column_ds_is_the_step_and_levels_are_selectable(tmp_path):
    frame = panel({"a": 12, "b": 4}, time=False)
    forecast_file(predictor(), write(frame, tmp_path / "in.csv"), tmp_path / "out.csv", "m", levels=(95, 50))
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["unique_id", "ds", "m", "m-lo-50", "m-hi-50", "m-lo-95", "m-hi-95"]
    assert out["ds"].tolist() == [1, 2, 3, 1, 2, 3]


@pytest.mark.parametrize("source, target", [("csv", "parquet"), ("parquet", "csv"), ("csv", "csv"),
                                            ("parquet", "pq")])
def test_csv_and_parquet_both_ways_give_the_same_forecasts(tmp_path, source, target):
    model = predictor(frequency="h")
    frame = panel({"x1": 15, "x2": 30, "x3": 2}, start="2024-03-01 00:00")
    frame["ds"] = pd.date_range("2024-03-01", periods=len(frame), freq="h")[: len(frame)]
    frame["ds"] = frame.groupby("unique_id")["ds"].transform(lambda s: pd.date_range(s.iloc[0], periods=len(s),
                                                                                     freq="h"))
    forecast_file(model, write(frame, tmp_path / f"in.{source}"), tmp_path / f"out.{target}", "m")
    out = read(tmp_path / f"out.{target}")
    _, expected = direct(model, frame)
    np.testing.assert_allclose(out["m"], expected.mean[:, :, 0].ravel(), rtol=1e-6)
    assert pd.to_datetime(out["ds"]).tolist()[:2] == [frame["ds"].iloc[14] + pd.Timedelta(hours=k) for k in (1, 2)]


@pytest.mark.parametrize("suffix", ["csv", "parquet"])
def test_a_series_split_across_chunks_is_carried_over(tmp_path, suffix):
    model = predictor(frequency="D")
    frame = panel({"a": 25, "b": 3, "c": 1, "d": 11, "e": 40})
    source = write(frame, tmp_path / f"in.{suffix}")
    whole = forecast_file(model, source, tmp_path / "whole.parquet", "m")
    chunked = forecast_file(model, source, tmp_path / "chunked.parquet", "m", chunk_rows=4, batch_series=2)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "whole.parquet"),
                                  pd.read_parquet(tmp_path / "chunked.parquet"))
    assert (whole.series, whole.skipped, chunked.series, chunked.skipped) == (4, 1, 4, 1)
    assert chunked.reasons == {"c": "1 points; a panel model needs at least 2"}


def test_short_and_bad_series_are_reported_and_the_rest_forecast(tmp_path):
    frame = panel({"ok": 10, "one": 1, "gap": 9, "text": 9, "huge": 9, "late": 9, "when": 3}).astype(
        {"y": object, "ds": object})
    frame.loc[frame.index[frame["unique_id"] == "when"][1], "ds"] = "yesterday"
    frame.loc[frame.index[(frame["unique_id"] == "gap")][4], "y"] = np.nan
    frame.loc[frame.index[(frame["unique_id"] == "text")][2], "y"] = "abc"
    frame.loc[frame.index[(frame["unique_id"] == "huge")][2], "y"] = 1e20
    late = frame.index[frame["unique_id"] == "late"]
    frame.loc[late[5], "ds"] = frame.loc[late[4], "ds"]
    summary = forecast_file(predictor(frequency="D"), write(frame, tmp_path / "in.csv"), tmp_path / "out.csv", "m",
                            chunk_rows=7)
    assert summary.series == 1 and summary.skipped == 6
    assert summary.reasons["when"] == "column 'ds' has 'yesterday' at line 50, not a timestamp"
    assert pd.read_csv(tmp_path / "out.csv")["unique_id"].unique().tolist() == ["ok"]
    reasons = summary.reasons
    assert reasons["one"] == "1 points; a panel model needs at least 2"
    assert reasons["gap"] == "column 'y' is missing a value at line 17"
    assert reasons["text"] == "column 'y' has an unreadable value 'abc' at line 24"
    assert reasons["huge"].startswith("column 'y' has 1e+20 at line 33, beyond")
    assert reasons["late"].startswith("duplicate timestamp") and "(line 45)" in reasons["late"]
    assert "6 skipped" in summary.line() and "one: 1 points" in summary.line()


@pytest.mark.parametrize("chunk_rows, suffix, where", [(3, "csv", "line 14"), (1000, "csv", "line 14"),
                                                      (3, "parquet", "row 13"), (1000, "parquet", "row 13")])
def test_an_id_met_again_after_another_series_is_refused_by_name(tmp_path, chunk_rows, suffix, where):
    frame = panel({"a": 4, "b": 4, "c": 4})
    frame = pd.concat([frame, frame[frame["unique_id"] == "a"].iloc[:2]], ignore_index=True)
    with pytest.raises(DataError, match=f"series 'a' appears again at {where} .*sort the file by id"):
        forecast_file(predictor(), write(frame, tmp_path / f"in.{suffix}"), tmp_path / "out.csv", "m",
                      chunk_rows=chunk_rows)
    assert not (tmp_path / "out.csv").exists() and not list(tmp_path.glob(".*partial"))


def test_the_models_own_column_names_and_covariates(tmp_path):
    model = predictor(id_column="store", targets=["sales"], covariates=["price"])
    frame = panel({"s1": 12, "s2": 6}, time=False).rename(columns={"unique_id": "store", "y": "sales"})
    frame["price"] = np.arange(len(frame)) % 5
    forecast_file(model, write(frame, tmp_path / "in.parquet"), tmp_path / "out.parquet", "m")
    out = pd.read_parquet(tmp_path / "out.parquet")
    windows = np.stack([window(g[["sales", "price"]].to_numpy(), pd.RangeIndex(len(g)), model.config)
                        for _, g in frame.groupby("store", sort=False)])
    np.testing.assert_allclose(out["m"], model.predict(windows).mean[:, :, 0].ravel(), rtol=1e-6)
    assert out["unique_id"].unique().tolist() == ["s1", "s2"]


def test_calendar_windows_match_panel_window_padded_or_not(tmp_path):
    model = predictor(frequency="D", calendar="year")
    frame = panel({"long": 30, "short": 3})
    forecast_file(model, write(frame, tmp_path / "in.parquet"), tmp_path / "out.parquet", "m", chunk_rows=5)
    _, expected = direct(model, frame)
    np.testing.assert_allclose(pd.read_parquet(tmp_path / "out.parquet")["m"], expected.mean[:, :, 0].ravel(),
                               rtol=1e-6)


def test_refusals_name_what_to_change(tmp_path):
    source = write(panel({"a": 1, "b": 1}), tmp_path / "in.csv")
    with pytest.raises(DataError, match="no series could be forecast .*a: 1 points"):
        forecast_file(predictor(), source, tmp_path / "out.csv", "m")
    assert not list(tmp_path.glob("*out.csv*"))  # no file, not a header alone
    with pytest.raises(DataError, match="the file has no rows"):
        forecast_file(predictor(), write(panel({"a": 3}).iloc[:0], tmp_path / "empty.csv"), tmp_path / "out.csv", "m")
    with pytest.raises(DataError, match="not a panel model"):
        forecast_file(replace(predictor(), config=ModelConfig(targets=["y"])), source, tmp_path / "out.csv", "m")
    with pytest.raises(DataError, match=r"levels \[70\] not available"):
        forecast_file(predictor(), source, tmp_path / "out.csv", "m", levels=(70,))
    with pytest.raises(DataError, match="name it .csv, .parquet or .pq"):
        forecast_file(predictor(), source, tmp_path / "out.txt", "m")
    with pytest.raises(DataError, match="no target column: the file has neither 'sales' nor 'y'"):
        forecast_file(predictor(targets=["sales"]), write(panel({"a": 3}).drop(columns="y").assign(v=1),
                                                          tmp_path / "v.csv"), tmp_path / "out.csv", "m")


def test_the_batch_command_forecasts_the_live_version_and_prints_a_summary(tmp_path, capsys):
    from model import store
    from model.artifact import Artifact, build_manifest
    from service.cli import main

    model = predictor(frequency="D")
    store.save_version(tmp_path / "models", "shops", Artifact(model, build_manifest(model, metrics={})))
    frame = panel({"a": 20, "b": 1, "c": 9})
    source = write(frame, tmp_path / "in.parquet")
    args = ["batch", "--model", "shops", "--input", str(source), "--store", str(tmp_path / "models")]
    assert main([*args, "--output", str(tmp_path / "out.csv"), "--levels", "90"]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith("2 series forecast from 30 rows in ") and "forecasts/s); 1 skipped (b: 1 points" in line
    out = pd.read_csv(tmp_path / "out.csv")
    assert list(out.columns) == ["unique_id", "ds", "shops", "shops-lo-90", "shops-hi-90"]
    _, expected = direct(model, frame[frame["unique_id"] != "b"])
    np.testing.assert_allclose(out["shops"], expected.mean[:, :, 0].ravel(), rtol=1e-6)
    assert out["ds"].iloc[0] == "2024-01-21 00:00:00"
    assert main([*args, "--output", str(tmp_path / "out.json")]) == 2
    assert "name it .csv, .parquet or .pq" in capsys.readouterr().err
    assert main(["batch", "--model", "nope", "--input", str(source), "--output", str(tmp_path / "o.csv"),
                 "--store", str(tmp_path / "models")]) == 2


def test_a_trained_panel_model_forecasts_a_file_as_its_predictor_does(tmp_path):
    from model.config import TrainConfig
    from model.datasets import DATASETS
    from model.train import train

    weather = DATASETS["weather"].load()  # real data: Seattle's daily maximum, cut into six series
    frame = pd.concat([pd.DataFrame({"unique_id": f"w{i}", "date": weather["date"].iloc[start : start + n],
                                     "y": weather["temp_max"].iloc[start : start + n]})
                       for i, (start, n) in enumerate([(0, 60), (60, 9), (69, 45), (114, 1), (115, 80), (195, 30)])])
    config = ModelConfig(id_column="unique_id", targets=["y"], input_size=12, horizon=H, frequency="D")
    artifact = train(frame, config, TrainConfig(epochs=2, max_steps=20), time_column="date")
    model = artifact.predictor
    assert trained_time_column(artifact.manifest) == "date"  # read without being named: the future dates below
    summary = forecast_file(model, write(frame, tmp_path / "in.csv"), tmp_path / "out.parquet", "m", chunk_rows=16,
                            trained_time=trained_time_column(artifact.manifest))
    assert summary.series == 5 and summary.reasons == {"w3": "1 points; a panel model needs at least 2"}
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert list(out.columns) == COLUMNS
    usable = frame[frame["unique_id"] != "w3"].assign(ds=lambda f: pd.to_datetime(f["date"]))
    _, expected = direct(model, usable)
    np.testing.assert_allclose(out["m"], expected.mean[:, :, 0].ravel(), rtol=1e-5)
    np.testing.assert_allclose(out["m-lo-95"], expected.intervals[95][0][:, :, 0].ravel(), rtol=1e-5)
    assert out["ds"].iloc[0] == pd.Timestamp(weather["date"].iloc[60])
