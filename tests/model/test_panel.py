"""model/panel.py's reading: whole-column checks give what prepare_series gives series by series."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from model import panel as panel_module
from model.config import ModelConfig
from model.panel import nixtla_names, read_panel
from model.panel_train import training_min_rows
from model.windows import DataError, prepare_series
from tests.panel_data import weather_panel

CONFIG = ModelConfig(id_column="unique_id", targets=["y"], input_size=8, horizon=3, frequency="D")


def flawed_panel() -> pd.DataFrame:
    """Seattle's temperatures cut into series, some with what a series may not have, rows interleaved."""
    frame = weather_panel({"long": 40, "ok": 12, "dup": 12, "gap": 12, "nan": 12, "text": 12, "unordered": 12,
                           "short": 3})
    frame["y"] = frame["y"].astype(object)
    rows = {key: frame.index[frame.unique_id == key] for key in frame.unique_id.unique()}
    frame.loc[rows["dup"][5], "ds"] = frame.loc[rows["dup"][4], "ds"]
    frame = frame.drop(rows["gap"][6])
    frame.loc[rows["nan"][2], "y"] = np.nan
    frame.loc[rows["text"][7], "y"] = "n/a"
    first, second = rows["unordered"][3], rows["unordered"][4]
    frame.loc[[first, second], "ds"] = frame.loc[[second, first], "ds"].to_numpy()
    # Interleaved, as a file sorted by time has them: each series' rows keep their order.
    return frame.assign(step=frame.groupby("unique_id").cumcount()).sort_values("step", kind="stable").drop(
        columns="step").reset_index(drop=True)


def one_by_one(frame, config, time_column, interpolate, min_rows):
    """The reference: prepare_series on each series alone."""
    ids, series, short = [], [], {}
    for key, rows in frame.groupby(config.id_column, sort=False):
        try:
            series.append(prepare_series(rows.reset_index(drop=True), config, time_column, interpolate, min_rows))
            ids.append(str(key))
        except DataError as exc:
            short[str(key)] = str(exc)
    return ids, series, short


@pytest.mark.parametrize("interpolate", [False, True])
@pytest.mark.parametrize("frequency, time_column", [("D", "ds"), (None, "ds"), (None, None)])
def test_read_panel_gives_what_prepare_series_gives_each_series(interpolate, frequency, time_column, monkeypatch):
    frame = flawed_panel()
    config = replace(CONFIG, frequency=frequency)
    min_rows = training_min_rows(config)
    alone = []  # the series read one by one: only those the whole-column checks flag
    monkeypatch.setattr(panel_module, "prepare_series", lambda rows, *a, **k: alone.append(rows) or
                        prepare_series(rows, *a, **k))
    panel = read_panel(frame, config, time_column, interpolate, min_rows)
    assert len(alone) <= 6 - (not interpolate)  # never "long" nor "ok"; "short" is short by its count alone
    ids, series, short = one_by_one(frame, config, time_column, interpolate, min_rows)
    assert panel.ids == ids and panel.short == short
    for got, expected in zip(panel.series, series, strict=True):
        assert np.array_equal(got.values, expected.values) and got.values.dtype == np.float32
        assert got.index.equals(expected.index)
    assert "long" in panel.ids and "short" in panel.short
    if frequency and not interpolate:
        assert set(panel.short) == {"dup", "gap", "nan", "text", "unordered", "short"}


def test_the_calendar_is_read_for_every_series():
    frame = weather_panel({"a": 20, "b": 9})
    config = replace(CONFIG, calendar="year")
    panel = read_panel(frame, config, "ds", min_rows=training_min_rows(config))
    ids, series, _ = one_by_one(frame, config, "ds", False, training_min_rows(config))
    assert panel.ids == ids == ["a", "b"] and panel.series[1].values.shape == (9, 3)
    assert all(np.array_equal(g.values, e.values) for g, e in zip(panel.series, series, strict=True))


def test_a_series_needs_a_test_and_a_validation_horizon_and_two_points():
    assert training_min_rows(CONFIG) == 2 * 3 + 2
    panel = read_panel(weather_panel({"a": 8, "b": 7}), CONFIG, "ds", min_rows=training_min_rows(CONFIG))
    assert panel.ids == ["a"] and panel.short == {"b": "7 rows is too short: a panel model needs at least 8"}


def test_nixtla_names_need_only_the_id_column():
    frame = weather_panel({"a": 10})
    config, time_column = nixtla_names(frame, ModelConfig(id_column="unique_id"), None)
    assert config.targets == ["y"] and time_column == "ds"
    own = weather_panel({"a": 10}, id_column="store", time_column="date", target="value")
    config, time_column = nixtla_names(own, ModelConfig(id_column="store"), "date")
    assert config.targets == ["value"] and time_column == "date"
