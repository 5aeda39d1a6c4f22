"""Inputs a fuzzer will not find: each gets its clear 4xx quickly and the server stays healthy."""

import json
import time

import pytest

from model.datasets import DATASETS

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
