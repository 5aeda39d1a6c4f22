"""Inputs a fuzzer will not find: each gets its clear 4xx quickly and the server stays healthy."""

import json
import math
import time

import pandas as pd
import pytest

from model.datasets import DATASETS
from service.batcher import Batcher

CLOSES = DATASETS["stock"].load()["close"].tolist()


def post_raw(client, path, body: bytes):
    started = time.monotonic()
    r = client.post(path, content=body, headers={"content-type": "application/json"})
    return r, time.monotonic() - started


@pytest.mark.parametrize(
    ("values", "reason"),
    [
        ("[1.0, NaN]", "finite number"),
        ("[1.0, -Infinity]", "finite number"),
        ("[1e400]", "finite number"),
        (json.dumps([1e300] * 30), "float32"),
    ],
)
def test_non_finite_and_huge_numbers(client, values, reason):
    r, _ = post_raw(client, "/v1/models/stock/forecast", f'{{"series": [{{"values": {values}}}]}}'.encode())
    assert r.status_code == 422 and reason in r.text
    assert r.json()["errors"][0]["field"].startswith("series[0]")


def test_ten_thousand_series_and_a_million_points_and_50_mb(client):
    many = json.dumps({"series": [{"values": CLOSES[:30]}] * 10_000}).encode()
    r, seconds = post_raw(client, "/v1/models/stock/forecast", many)
    assert r.status_code == 413 and seconds < 5
    long = json.dumps({"series": [{"values": [1.5] * 1_000_000}]}).encode()
    r, seconds = post_raw(client, "/v1/models/stock/forecast", long)
    assert r.status_code == 413 and seconds < 5
    r, seconds = post_raw(client, "/v1/models/stock/forecast", b"[" + b"1," * 25_000_000 + b"1]")
    assert r.status_code == 413 and seconds < 5 and "limit" in r.json()["detail"]
    assert client.post("/v1/models/stock/forecast", json={"series": [{"values": CLOSES[:30]}]}).status_code == 200


def test_csv_with_mixed_separators_and_garbage(client):
    csv = "date,close\n2020-01-01;1\n2020-01-02,2\n" + "\n".join(f"2020-02-{d:02d},{d}" for d in range(1, 29))
    r = client.post("/v1/train/csv", files={"file": ("m.csv", csv.encode(), "text/csv")},
                    data={"name": "mixed", "options": '{"targets": ["close"], "time_column": "date", "input_size": 3}'})
    assert r.status_code in (400, 422) and r.json()["detail"]
    r = client.post("/v1/train/csv", files={"file": ("e.csv", b"", "text/csv")}, data={"name": "empty"})
    assert r.status_code == 400 and "malformed CSV" in r.json()["detail"]
    r = client.post("/v1/train/csv", files={"file": ("o.csv", b"a,b\n1,2\n", "text/csv")},
                    data={"name": "x", "options": "{not json"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("options")


def test_path_tricks_and_unknowns(client):
    for path in ("/v1/models/..%2F..%2Fetc%2Fpasswd/forecast", "/v1/models/%2e%2e/forecast",
                 "/v1/models/stock%00/forecast"):
        assert client.post(path, json={"series": [{"values": CLOSES[:30]}]}).status_code == 404, path
    assert client.post("/v1/models/stock/forecast?version=v999",
                       json={"series": [{"values": CLOSES[:30]}]}).status_code == 404
    r = client.post("/v1/models/stock/forecast?version=../v1", json={"series": [{"values": CLOSES[:30]}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "version"
    assert client.get("/v1/jobs/nope").status_code == 404


@pytest.mark.parametrize(
    "options",
    [{"epochs": 10**9}, {"horizon": 0}, {"input_size": 10**9}, {"lr": -1}, {"batch_size": 0},
     {"val_fraction": 0.9}, {"cell": "lstm"}, {"targets": []}, {"unknown_option": 1}],
)
def test_absurd_training_options(client, options):
    body = {"name": "absurd", "data": {"value": CLOSES[:400]}, "options": options}
    started = time.monotonic()
    r = client.post("/v1/train", json=body)
    assert r.status_code == 422 and time.monotonic() - started < 2
    assert r.json()["errors"][0]["field"].startswith("options")


def test_input_size_larger_than_the_data(client):
    r = client.post("/v1/train", json={"name": "big", "data": {"value": CLOSES[:100]},
                                       "options": {"input_size": 500}})
    assert r.status_code == 422 and "100 rows" in r.json()["detail"]
    assert client.get("/health/ready").status_code == 200


# Rows of issue 10's table (schemathesis and a newcomer found them): each is a 422 naming the field.

def test_ragged_values_are_a_422_not_a_500(client):
    r = client.post("/v1/models/stock/forecast", json={"series": [{"values": [1.0, [2.0, 3.0]] + [1.0] * 30}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("series[0].values")
    r = client.post("/v1/models/stock/evaluate", json={"series": [{"values": [1.0, [2.0, 3.0]] * 40}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"].startswith("series[0].values")
    # Lists of different lengths pass the schema and are refused by the model's check.
    r = client.post("/v1/models/stock/forecast", json={"series": [{"values": [[1.0, 2.0], [3.0]] * 20}]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series[0].values"


def test_evaluate_with_an_unknown_covariate_and_no_values(client):
    r = client.post("/v1/models/weather/evaluate",
                    json={"series": [{"covariates": {"x-unknown": [False]}, "values": []}]})
    assert r.status_code in (422,) and r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"][0]["field"].startswith("series[0]")


@pytest.mark.parametrize("frequency", ["daily", "weekly", "2 days"])
def test_an_unknown_frequency_is_refused_when_the_job_is_submitted(client, frequency):
    data = {"date": [f"2020-01-{d:02d}" for d in range(1, 29)], "v": [float(d) for d in range(28)]}
    options = {"targets": ["v"], "time_column": "date", "frequency": frequency, "input_size": 4, "horizon": 1}
    r = client.post("/v1/train", json={"name": "f", "data": data, "options": options})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "options.frequency"
    assert "ME/MS" in r.text  # the message lists the aliases to use
    r = client.post("/v1/train/csv", files={"file": ("d.csv", "date,v\n2020-01-01,1\n")},
                    data={"name": "f", "options": json.dumps({"targets": ["v"], "frequency": frequency})})
    assert r.status_code == 422 and "frequency" in r.json()["errors"][0]["field"]


def test_renamed_aliases_are_accepted_in_todays_spelling(client):
    from service.schemas import TrainOptions

    assert TrainOptions(frequency="M").frequency == "ME" and TrainOptions(frequency="H").frequency == "h"


def test_a_value_beyond_float32_is_refused_when_the_job_is_submitted(client):
    values = [float(i) for i in range(200)]
    values[50] = 1e308
    r = client.post("/v1/train", json={"name": "huge", "data": {"v": values},
                                       "options": {"targets": ["v"], "input_size": 8, "horizon": 2}})
    assert r.status_code == 422 and "float32" in r.text and "line 52" in r.text
    assert "np.float64" not in r.text and "1e+308" in r.text  # a plain number, not a NumPy repr


def test_values_near_1e30_are_refused_at_submission_not_by_a_failed_job(client):
    # 1e30 is inside float32, but squared errors are not: the job used to fail with "inf is not JSON".
    values = [float(i) for i in range(200)]
    values[50] = 1e30
    r = client.post("/v1/train", json={"name": "huge", "data": {"v": values},
                                       "options": {"targets": ["v"], "input_size": 8, "horizon": 2}})
    assert r.status_code == 422 and "column 'v'" in r.json()["detail"] and "1e+15" in r.json()["detail"]
    assert client.get("/v1/jobs").json() == []
    # The same limit on the serving routes.
    window = [float(i) for i in range(30)]
    window[3] = 1e30
    for route in ("forecast", "evaluate"):
        r = client.post(f"/v1/models/stock/{route}", json={"series": [{"values": window * 2}]})
        assert r.status_code == 422 and "1e+15" in r.json()["detail"], route


@pytest.mark.parametrize(("timestamps", "reason"), [
    ([f"2013-01-{d:02d}" for d in range(30, 0, -1)], "sort the rows by time"),
    (["2013-01-02"] * 30, "duplicate timestamp"),
    ([f"2013-01-{d:02d}T00:00" for d in range(1, 31)], "weekdays only"),  # stock is frequency B
])
def test_forecast_timestamps_are_checked_as_training_checks_them(client, timestamps, reason):
    r = client.post("/v1/models/stock/forecast", json={"series": [{"values": CLOSES[:30], "timestamps": timestamps}]})
    assert r.status_code == 422 and reason in r.text
    assert r.json()["errors"][0]["field"] == "series[0].timestamps"


def test_non_finite_forecasts_are_never_serialised(client, monkeypatch):
    import numpy as np

    from model.predictor import Predictor

    original = Predictor.guarded_forecast

    def broken(self, windows):
        mean, vol, guarded = original(self, windows)
        mean[0, 0, 0] = np.nan
        return mean, vol, guarded

    monkeypatch.setattr(Predictor, "guarded_forecast", broken)
    r = client.post("/v1/models/stock/forecast", json={"series": [{"values": CLOSES[:30]}], "levels": [80]})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "series[0]" and "not finite" in r.text


def test_a_fault_in_a_handler_is_a_problem_document_with_an_id_the_log_has(tmp_path, monkeypatch, caplog):
    from fastapi.testclient import TestClient

    import service.routes.models as models_route
    from service.app import create_app
    from service.settings import Settings

    def broken(*args, **kwargs):
        raise RuntimeError("a bug")

    monkeypatch.setattr(models_route, "summary", broken)
    with TestClient(create_app(Settings(store=tmp_path / "s")), raise_server_exceptions=False) as c:
        r = c.get("/v1/models")
    assert r.status_code == 500 and r.headers["content-type"].startswith("application/problem+json")
    request_id = r.headers["x-request-id"]
    assert request_id in r.json()["detail"] and "a bug" not in r.text  # no internals leak to the caller
    assert any(request_id in record.getMessage() and "a bug" in record.getMessage() for record in caplog.records)


def test_a_classifier_without_covariates_is_refused_at_submission(client):
    data = {"weather": ["sun", "rain"] * 100, "t": [1.0, 2.0] * 100}
    r = client.post("/v1/train", json={"name": "c", "data": data,
                                       "options": {"task": "classify", "targets": ["weather"], "input_size": 4}})
    assert r.status_code == 422 and "covariates" in r.text


def test_evaluate_runs_in_chunks_that_fit_the_queue_and_waits_only_behind_forecasts(make_client, monkeypatch):
    client, _ = make_client(queue_limit=40)
    with client:
        r = client.post("/v1/models/stock/evaluate", json={"series": [{"values": CLOSES[:100]}]})  # 66 windows
        assert r.status_code == 200 and r.json()["results"][0]["windows"] == 66
        chunked = r.json()["results"][0]
        monkeypatch.setattr(Batcher, "queued", property(lambda self: self.queue_limit))  # forecasts fill it
        r = client.post("/v1/models/stock/evaluate", json={"series": [{"values": CLOSES[:60]}]})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
    monkeypatch.undo()
    whole, _ = make_client()
    with whole:
        one_turn = whole.post("/v1/models/stock/evaluate", json={"series": [{"values": CLOSES[:100]}]}).json()
    for system in ("model", "naive", "seasonal_naive"):
        assert chunked[system] == pytest.approx(one_turn["results"][0][system], rel=1e-5)
    assert chunked["coverage"] == pytest.approx(one_turn["results"][0]["coverage"])


def test_evaluate_on_two_years_of_hourly_data_answers_instead_of_503_forever(client):
    values = [500 + 10 * math.sin(h / 24 * 2 * math.pi) + (h % 7) for h in range(2 * 365 * 24)]  # 17,520 points
    r = client.post("/v1/models/stock/evaluate", json={"series": [{"values": values}]})
    assert r.status_code == 200, r.text
    assert r.json()["results"][0]["windows"] == len(values) - 30 - 5 + 1


def test_evaluate_over_the_series_limit_is_a_413_as_on_forecast(client):
    r = client.post("/v1/models/stock/evaluate", json={"series": [{"values": CLOSES[:40]}] * 65})
    assert r.status_code == 413 and "limit is 64" in r.json()["detail"]


@pytest.mark.parametrize(("field", "hint"), [("promote", "options JSON field"), ("colour", "file, name, options")])
def test_the_csv_route_refuses_form_fields_it_does_not_read(client, field, hint):
    r = client.post("/v1/train/csv", files={"file": ("d.csv", b"v\n" + b"1\n" * 200)},
                    data={"name": "x", field: "if_better"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == field and hint in r.json()["detail"]
    assert client.get("/v1/jobs").json() == []


@pytest.mark.parametrize("content_type", [None, "text/plain", "application/x-www-form-urlencoded"])
def test_a_json_body_without_a_json_content_type_says_so(client, content_type):
    headers = {"content-type": content_type} if content_type else {}
    r = client.post("/v1/models/stock/forecast", content=json.dumps({"series": [{"values": CLOSES[:30]}]}),
                    headers=headers)
    assert r.status_code == 422 and "Content-Type: application/json" in r.json()["detail"]


def test_csv_messages_name_file_lines_and_offsets_across_daylight_saving_are_accepted(client):
    times = pd.date_range(pd.Timestamp("2024-03-01", tz="America/New_York"), periods=400, freq="h")
    rows = [f"{t.isoformat()},{50 + (i % 24)}" for i, t in enumerate(times)]
    options = json.dumps({"targets": ["temp"], "time_column": "time", "frequency": "h", "input_size": 24,
                          "horizon": 6, "epochs": 1})
    blank = ["time,temp", *rows[:3], rows[3].split(",")[0] + ",", *rows[4:]]  # line 5 has no value
    r = client.post("/v1/train/csv", files={"file": ("t.csv", "\n".join(blank).encode())},
                    data={"name": "dst", "options": options})
    assert r.status_code == 422 and "missing a value at line 5 (header = line 1)" in r.json()["detail"]
    r = client.post("/v1/train/csv", files={"file": ("t.csv", "\n".join(["time,temp", *rows]).encode())},
                    data={"name": "dst", "options": options})
    assert r.status_code == 202, r.text  # -05:00 then -04:00 on 10 March: one clock, not a raw pandas error
    client.post(f"/v1/jobs/{r.json()['id']}/cancel")
