"""A panel model at forecast time: a series shorter than input_size is padded (model/panel.py), down to
MIN_POINTS; the card states the minimum for every model."""

import numpy as np
import pytest

from model.config import ModelConfig
from model.panel import MIN_POINTS, window
from service.errors import Problem
from service.request_windows import series_rows
from service.schemas import SeriesInput
from tests.panel_data import panel_model, weather_panel

PANEL = weather_panel({"long": 20, "short": 3, "tiny": 1})


def series(key):
    rows = PANEL[PANEL.unique_id == key]
    return {"id": key, "values": rows.y.tolist(), "timestamps": rows.ds.tolist()}


@pytest.fixture
def panel_client(make_client):
    client, settings = make_client()
    panel_model(settings.store)
    with client:
        yield client


def test_a_short_series_is_forecast_from_its_padded_window(panel_client):
    body = {"series": [series("long"), series("short")], "levels": [80]}
    r = panel_client.post("/v1/models/panel/forecast", json=body)
    assert r.status_code == 200, r.text
    long, short = r.json()["forecasts"]
    # The untrained network forecasts its base, naive: each series' own last value.
    assert short["id"] == "short" and short["mean"] == pytest.approx([series("short")["values"][-1]] * 3)
    assert long["mean"] == pytest.approx([series("long")["values"][-1]] * 3)
    assert short["timestamps"][0].startswith(str(np.datetime64(series("short")["timestamps"][-1]) + 1))
    assert len(short["intervals"]["80"]["lower"]) == 3
    plot = panel_client.post("/v1/models/panel/plot.svg", json={"series": [series("short")]})
    assert plot.status_code == 200 and plot.text.startswith("<svg")


def test_a_long_series_gets_the_same_forecast_alone_and_beside_a_short_one(panel_client):
    alone = panel_client.post("/v1/models/panel/forecast", json={"series": [series("long")], "levels": [95]})
    beside = panel_client.post("/v1/models/panel/forecast", json={"series": [series("long"), series("short")],
                                                                   "levels": [95]})
    assert alone.status_code == beside.status_code == 200
    assert alone.json()["forecasts"][0] == beside.json()["forecasts"][0]


def test_fewer_than_min_points_is_a_422_naming_the_field_and_the_minimum(panel_client):
    r = panel_client.post("/v1/models/panel/forecast", json={"series": [series("long"), series("tiny")]})
    assert r.status_code == 422
    error = r.json()["errors"][0]
    assert error["field"] == "series[1].values" and f"at least {MIN_POINTS}" in error["reason"]
    r = panel_client.post("/v1/models/panel/forecast", json={"series": [{"values": []}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series[0].values"


def test_the_window_of_a_short_series_is_model_panels_window():
    config = ModelConfig(id_column="unique_id", targets=["y"], input_size=8, horizon=3, frequency="D")
    short = SeriesInput(**series("short"))
    rows, index = series_rows(config, short, 0, config.input_size)
    expected = window(np.asarray(short.values)[:, None], index, config)
    assert rows.shape == (8, 2) and np.array_equal(rows, expected)
    assert rows[:, 1].tolist() == [0.0] * 5 + [1.0] * 3  # padding, then the series' own points
    with pytest.raises(Problem) as refused:
        series_rows(config, SeriesInput(**series("tiny")), 4, config.input_size)
    assert refused.value.errors[0]["field"] == "series[4].values"


def test_the_card_states_min_points_and_the_id_column(panel_client):
    card = panel_client.get("/v1/models/panel").json()
    assert card["min_points"] == MIN_POINTS and card["id_column"] == "unique_id"
    stock = panel_client.get("/v1/models/stock").json()
    assert stock["min_points"] == stock["input_size"] == 30 and stock["id_column"] is None
    listed = {m["name"]: m for m in panel_client.get("/v1/models").json()}
    assert listed["panel"]["min_points"] == MIN_POINTS
