import json

import numpy as np
import pandas as pd
import pytest

from model.datasets import DATASETS
from tests.service.conftest import pretrained_names

STOCK = DATASETS["stock"].load()["close"].tolist()


def stock_body(n_series=1, **extra):
    return {"series": [{"id": f"s{i}", "values": STOCK[100 + i : 130 + i]} for i in range(n_series)], **extra}


def test_ready_lists_every_bundled_model(client):
    assert client.get("/health/live").json() == {"status": "alive"}
    ready = client.get("/health/ready").json()
    assert ready["models"] == pretrained_names()
    models = {m["name"]: m for m in client.get("/v1/models").json()}
    assert models["stock"]["available"] and models["stock"]["input_size"] == 30
    card = client.get("/v1/models/stock").json()
    assert card["versions"] == ["v1"] and card["live_version"] == "v1"
    assert card["manifest"]["metrics"]["naive"]["mase"] > 0


def test_stock_forecast_in_units_with_future_timestamps_and_intervals(client):
    dates = [str(d.date()) for d in pd.bdate_range("2013-01-01", periods=30)]
    body = {"series": [{"values": STOCK[-30:], "timestamps": dates}], "levels": [80, 95], "horizon": 3}
    r = client.post("/v1/models/stock/forecast", json=body)
    assert r.status_code == 200, r.text
    out = r.json()["forecasts"][0]
    assert len(out["mean"]) == 3
    assert all(700 < v < 900 for v in out["mean"])  # GOOG closed near 800 then: the forecast is in USD
    assert out["timestamps"][0].startswith(str((pd.Timestamp(dates[-1]) + pd.offsets.BDay()).date()))
    lo80, hi80 = out["intervals"]["80"]["lower"], out["intervals"]["80"]["upper"]
    lo95, hi95 = out["intervals"]["95"]["lower"], out["intervals"]["95"]["upper"]
    assert all(a < m < b for a, m, b in zip(lo80, out["mean"], hi80, strict=True))
    assert all(a95 <= a80 and b95 >= b80 for a95, a80, b95, b80 in zip(lo95, lo80, hi95, hi80, strict=True))


def test_a_window_wider_than_any_training_window_is_answered_without_the_gru_and_says_so(client):
    """Prices switched to cents halfway through the window: the bundled stock model never saw such a
    jump, so the answer is its base and linear part, flagged; the ordinary window beside it is not."""
    cents = STOCK[100:115] + [v * 100 for v in STOCK[115:130]]
    body = {"series": [{"values": STOCK[100:130]}, {"values": cents}], "levels": [80]}
    r = client.post("/v1/models/stock/forecast", json=body)
    assert r.status_code == 200, r.text
    plain, jumped = r.json()["forecasts"]
    assert plain["guarded"] is False and jumped["guarded"] is True
    band = jumped["intervals"]["80"]
    assert all(np.isfinite(jumped["mean"]))
    assert all(lo < m < hi for lo, m, hi in zip(band["lower"], jumped["mean"], band["upper"], strict=True))
    assert all(abs(v - STOCK[129] * 100) < 0.2 * STOCK[129] * 100 for v in jumped["mean"])  # near the last price


def test_a_series_gets_the_same_forecast_alone_and_inside_a_batch(client):
    alone = client.post("/v1/models/stock/forecast", json=stock_body(1)).json()["forecasts"][0]["mean"]
    batch = client.post("/v1/models/stock/forecast", json=stock_body(64)).json()["forecasts"]
    assert [f["id"] for f in batch] == [f"s{i}" for i in range(64)]
    np.testing.assert_allclose(batch[0]["mean"], alone, rtol=1e-5)
    assert batch[1]["mean"] != alone  # a different window gives a different answer


def test_weather_with_covariates_and_ecg(client):
    frame = DATASETS["weather"].load().iloc[-40:]
    body = {"series": [{"values": frame["temp_max"].tolist(), "timestamps": frame["date"].tolist(),
                        "covariates": {c: frame[c].tolist() for c in ("temp_min", "precipitation", "wind")}}]}
    r = client.post("/v1/models/weather/forecast", json=body)
    assert r.status_code == 200 and len(r.json()["forecasts"][0]["mean"]) == 7
    del body["series"][0]["covariates"]["wind"]
    r = client.post("/v1/models/weather/forecast", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series[0].covariates.wind"
    if "ecg" in pretrained_names():
        ecg = DATASETS["ecg"].load()["mv"].tolist()[:180]
        r = client.post("/v1/models/ecg/forecast", json={"series": [{"values": ecg}]})
        assert r.status_code == 200 and len(r.json()["forecasts"][0]["mean"]) == 18


def test_weather_type_classifier(client):
    if "weather-type" not in pretrained_names():
        pytest.skip("weather-type default not built")
    frame = DATASETS["weather-type"].load().iloc[-14:]
    body = {"series": [{"values": [], "timestamps": frame["date"].tolist(), "covariates": {
        c: frame[c].tolist() for c in ("precipitation", "temp_max", "temp_min", "wind")}}]}
    r = client.post("/v1/models/weather-type/classify", json=body)
    assert r.status_code == 200, r.text
    assert {m["name"]: m["calendar"] for m in client.get("/v1/models").json()}["weather-type"] == "year"
    short = frame["date"].tolist()[-10:]
    for timestamps, reason in ((None, "required"), (short, "10 timestamps for 14 covariate points")):
        r = client.post("/v1/models/weather-type/classify", json={"series": [{**body["series"][0],
                                                                             "timestamps": timestamps}]})
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series[0].timestamps"
        assert reason in r.json()["errors"][0]["reason"]
    r = client.post("/v1/models/weather-type/classify", json=body)
    result = r.json()["results"][0]
    assert sum(result["probabilities"].values()) == pytest.approx(1, abs=1e-4)
    assert result["predicted"] == max(result["probabilities"], key=result["probabilities"].get)


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b'{"series":[{"values":[1.0, NaN]}]}', 422, "series[0].values[1]"),
        (b'{"series":[{"values":[1.0, Infinity]}]}', 422, "series[0].values[1]"),
        (b'{"series":[{"values":[1.0, "x"]}]}', 422, "series[0].values[1]"),
        (b'{"series":[]}', 422, "series"),
        (b'{"series":[{"values":[]}]}', 422, "series[0].values"),
        (b'{"series":[{"values":[1,2,3]}]}', 422, "series[0].values"),
        (b'{"series":[{"values":[1.0, ', 400, None),
    ],
)
def test_bad_windows_name_the_field(client, body, status, field):
    r = client.post("/v1/models/stock/forecast", content=body, headers={"content-type": "application/json"})
    assert r.status_code == status, r.text
    problem = r.json()
    assert problem["status"] == status and r.headers["content-type"] == "application/problem+json"
    if field:
        assert problem["errors"][0]["field"] == field


def test_limits_and_unknowns(make_client):
    c, _ = make_client(max_series=4, max_points=100, max_body_bytes=20_000)
    with c:
        r = c.post("/v1/models/stock/forecast", json=stock_body(5))
        assert r.status_code == 413 and "limit is 4" in r.json()["detail"]
        r = c.post("/v1/models/stock/forecast", json={"series": [{"values": [1.0] * 101}]})
        assert r.status_code == 413 and "limit is 100" in r.json()["detail"]
        r = c.post("/v1/models/stock/forecast", content=b"[" + b"1," * 20_000 + b"1]",
                   headers={"content-type": "application/json"})
        assert r.status_code == 413
        assert c.post("/v1/models/nope/forecast", json=stock_body()).status_code == 404
        assert c.post("/v1/models/..%2Fetc/forecast", json=stock_body()).status_code == 404
        assert c.get("/v1/models/..%2F..%2Fetc").status_code == 404
        r = c.post("/v1/models/stock/forecast", json=stock_body(horizon=9))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "horizon"
        r = c.post("/v1/models/stock/forecast", json=stock_body(levels=[42]))
        assert r.status_code == 422 and "choose from" in r.json()["detail"]
        assert c.get("/health/ready").status_code == 200  # still healthy


def test_evaluate_reports_model_beside_baselines(client):
    r = client.post("/v1/models/stock/evaluate", json={"series": [{"values": STOCK[-200:]}]})
    assert r.status_code == 200, r.text
    result = r.json()["results"][0]
    assert result["windows"] == 200 - 30 - 5 + 1
    assert set(result) >= {"model", "naive", "seasonal_naive"} and result["guarded"] == 0
    cents = STOCK[-200:-100] + [v * 100 for v in STOCK[-100:]]  # the windows that hold the switch are guarded
    assert 1 <= client.post("/v1/models/stock/evaluate", json={"series": [{"values": cents}]}).json()[
        "results"][0]["guarded"] <= 30
    r = client.post("/v1/models/stock/evaluate", json={"series": [{"values": STOCK[:20]}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series[0].values"
    assert "20 points; the model needs at least 35 (input_size 30 + horizon 5)" in r.json()["detail"]


def test_metrics_show_batches(client):
    client.post("/v1/models/stock/forecast", json=stock_body(32))
    text = client.get("/metrics").text
    assert 'gru_batch_size_bucket{le="32.0",model="stock"} 1.0' in text
    assert 'gru_forecasts_total{model="stock"} 32.0' in text
    assert "gru_models_loaded" in text and "gru_request_seconds_bucket" in text


def test_openapi_carries_an_example_per_domain(client):
    schema = client.get("/openapi.json").json()
    examples = schema["paths"]["/v1/models/{name}/forecast"]["post"]["requestBody"]["content"]["application/json"]
    assert set(examples["examples"]) == {"stock", "weather", "ecg", "sf-temps"}
    html = client.get("/docs").text
    assert "cdn" not in html and "/docs-assets/swagger-ui-bundle.js" in html
    assert client.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    assert b"cdn.redoc.ly" not in client.get("/docs-assets/redoc.standalone.js").content
    for name, example in examples["examples"].items():
        r = client.post(f"/v1/models/{name}/forecast", content=json.dumps(example["value"]),
                        headers={"content-type": "application/json"})
        if name in pretrained_names():
            assert r.status_code == 200, (name, r.text)


def test_train_options_are_the_config_dataclasses_with_the_same_defaults():
    """One definition: every option of ModelConfig and TrainConfig, with its default, in the API."""
    from dataclasses import fields

    from model.config import ModelConfig, TrainConfig
    from service.schemas import TrainOptions

    api = TrainOptions()
    internal = {"classes", "members", "device"}  # filled in by training / by the server's settings
    for config in (ModelConfig(), TrainConfig()):
        for f in fields(config):
            if f.name not in internal:
                assert getattr(api, f.name) == getattr(config, f.name), f.name
    assert api.input_size == 64  # was 32 in the API and 64 in the dataclass


def test_a_calendar_model_reads_the_time_of_year_from_the_timestamps(client):
    """The bundled weather model chose the year (model/calendar.py): the same 40 days dated half a
    year later get another forecast, and without timestamps the answer names them."""
    assert {m["name"]: m["calendar"] for m in client.get("/v1/models").json()}["weather"] == "year"
    frame = DATASETS["weather"].load().iloc[-40:]
    series = {"values": frame["temp_max"].tolist(),
              "covariates": {c: frame[c].tolist() for c in ("temp_min", "precipitation", "wind")}}
    dates = pd.to_datetime(frame["date"])

    def forecast(timestamps):
        return client.post("/v1/models/weather/forecast", json={"series": [{**series, "timestamps": timestamps}]})

    december = forecast(dates.dt.strftime("%Y-%m-%d").tolist()).json()["forecasts"][0]
    june = forecast((dates - pd.Timedelta(days=183)).dt.strftime("%Y-%m-%d").tolist()).json()["forecasts"][0]
    assert december["timestamps"][0] == "2016-01-01T00:00:00"
    assert max(abs(a - b) for a, b in zip(december["mean"], june["mean"], strict=True)) > 0.1
    for timestamps, reason in ((None, "required"), (frame["date"].tolist()[:-1], "39 timestamps for 40 values"),
                               (frame["date"].tolist()[::-1], "sort the rows by time")):
        r = forecast(timestamps)
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series[0].timestamps"
        assert reason in r.json()["errors"][0]["reason"]
    # evaluate reads them too
    history = DATASETS["weather"].load().iloc[-120:]
    body = {"series": [{"values": history["temp_max"].tolist(), "timestamps": history["date"].tolist(),
                        "covariates": {c: history[c].tolist() for c in ("temp_min", "precipitation", "wind")}}]}
    r = client.post("/v1/models/weather/evaluate", json=body)
    assert r.status_code == 200 and r.json()["results"][0]["windows"] == 120 - 35 + 1
    body["series"][0]["timestamps"][5] = "not a date"
    r = client.post("/v1/models/weather/evaluate", json=body)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series[0].timestamps"
    del body["series"][0]["timestamps"]
    r = client.post("/v1/models/weather/evaluate", json=body)
    assert r.status_code == 422 and "time of year" in r.json()["detail"]
