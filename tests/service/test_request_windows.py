"""service/request_windows.py: one validator, so the same bad series gets the same message on every route."""

import math

import pandas as pd
import pytest

from model.datasets import DATASETS

CLOSES = DATASETS["stock"].load()["close"].tolist()[-60:]
DAYS = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2024-01-01", periods=60)]


def answers(client, series, tensor=None):
    """The stock model's answer to one series on /forecast, plot.svg, /evaluate (and /v2 for a tensor)."""
    body = {"series": [series]}
    out = {route: client.post(f"/v1/models/stock/{route}", json=body) for route in ("forecast", "plot.svg", "evaluate")}
    if tensor is not None:
        out["v2"] = client.post("/v2/models/stock/infer", json={"inputs": [tensor]})
    return out


def test_a_value_beyond_the_limit_gets_one_message_on_every_route(client):
    values = list(CLOSES)
    values[40] = 1e30  # inside the last 30 points every route reads
    tensor = {"name": "INPUT", "shape": [1, 60, 1], "datatype": "FP32", "data": values}
    got = answers(client, {"values": values}, tensor)
    reason = "point 40 is 1e+30; values must lie within +-1e+15"
    for route in ("forecast", "plot.svg", "evaluate"):
        r = got[route]
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series[0].values", route
        assert r.json()["errors"][0]["reason"].startswith(reason), route
    assert len({got[route].json()["detail"] for route in ("forecast", "plot.svg", "evaluate")}) == 1
    assert got["v2"].status_code == 400 and got["v2"].json()["error"].startswith(f"INPUT[0]: {reason}")


@pytest.mark.parametrize(("change", "field"), [
    ({"timestamps": DAYS[:5] + ["not a date"] + DAYS[6:]}, "series[0].timestamps"),
    ({"timestamps": DAYS[::-1]}, "series[0].timestamps"),
    ({"timestamps": DAYS[:-1]}, "series[0].timestamps"),
    ({"values": [[1.0, 2.0], [3.0]] * 30}, "series[0].values"),
    ({"values": [[1.0, 2.0]] * 60}, "series[0].values"),
    ({"covariates": {"volume": [1.0] * 60}}, "series[0].covariates"),
])
def test_the_same_bad_series_gets_the_same_422_from_forecast_plot_and_evaluate(client, change, field):
    got = answers(client, {"values": CLOSES, "timestamps": DAYS, **change})
    details = {route: r.json()["detail"] for route, r in got.items()}
    assert all(r.status_code == 422 and r.json()["errors"][0]["field"] == field for r in got.values()), details
    assert len(set(details.values())) == 1, details


def test_offsets_that_change_at_daylight_saving_are_accepted_and_the_answer_keeps_the_callers_offset(client):
    # A week of hourly Los Angeles readings across the spring change (-08:00, then -07:00 from 10 March 03:00).
    start = pd.Timestamp("2024-03-05T00:00", tz="America/Los_Angeles")
    times = pd.date_range(start, periods=168, freq="h")
    stamps = [t.isoformat() for t in times]
    assert stamps[0].endswith("-08:00") and stamps[-1].endswith("-07:00")
    values = [round(55 + 6 * math.sin((h - 9) / 24 * 2 * math.pi), 1) for h in range(168)]
    r = client.post("/v1/models/sf-temps/forecast", json={"series": [{"values": values, "timestamps": stamps}]})
    assert r.status_code == 200, r.text
    future = r.json()["forecasts"][0]["timestamps"]
    assert future[0] == (times[-1] + pd.Timedelta(hours=1)).isoformat() and future[0].endswith("-07:00")
    assert all(f.endswith("-07:00") for f in future) and len(future) == 24
    # The same hours as naive local times repeat nothing in spring, but skip 02:00: the message says what to do.
    naive = [t.strftime("%Y-%m-%dT%H:%M:%S") for t in times]
    r = client.post("/v1/models/sf-temps/forecast", json={"series": [{"values": values, "timestamps": naive}]})
    assert r.status_code == 422 and "irregular timestamp 2024-03-10 03:00:00" in r.json()["detail"]


def test_naive_times_at_the_autumn_repeat_say_to_send_offsets(client):
    times = pd.date_range(pd.Timestamp("2024-10-30T00:00", tz="America/Los_Angeles"), periods=168, freq="h")
    naive = [t.strftime("%Y-%m-%dT%H:%M:%S") for t in times]
    r = client.post("/v1/models/sf-temps/forecast", json={"series": [{"values": [50.0] * 168, "timestamps": naive}]})
    assert r.status_code == 422 and "duplicate timestamp 2024-11-03 01:00:00" in r.json()["detail"]
    assert "UTC offset" in r.json()["detail"]
    offsets = [t.isoformat() for t in times]
    r = client.post("/v1/models/sf-temps/forecast", json={"series": [{"values": [50.0] * 168, "timestamps": offsets}]})
    assert r.status_code == 200 and r.json()["forecasts"][0]["timestamps"][0].endswith("-08:00")


def test_a_classifiers_covariates_must_share_one_length(client):
    frame = DATASETS["weather-type"].load().iloc[-14:]
    covariates = {c: frame[c].tolist() for c in ("precipitation", "temp_max", "temp_min", "wind")}
    covariates["wind"] = covariates["wind"] + [3.0]
    r = client.post("/v1/models/weather-type/classify", json={"series": [{
        "values": [], "timestamps": frame["date"].tolist(), "covariates": covariates}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series[0].covariates.wind"
    assert "15 points but covariates." in r.json()["detail"]
