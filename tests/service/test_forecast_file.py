"""POST /v1/models/{name}/forecast/file: a long-format file in, NeuralForecast's columns out, same format."""

import io
import json

import numpy as np
import pandas as pd
import pytest

from model import store
from model.artifact import Artifact, build_manifest
from tests.model.test_batch import COLUMNS, direct, panel, predictor

URL = "/v1/models/shops/forecast/file"


@pytest.fixture
def shops(make_client):
    """The app on a store holding a panel model, shops (hand-built: see tests/model/test_batch.py)."""
    model = predictor(frequency="D")

    def start(**settings):
        client, config = make_client(**settings)
        store.save_version(config.store, "shops", Artifact(model, build_manifest(model, metrics={})))
        return client

    return model, start


def upload(frame: pd.DataFrame, fmt: str, name: str | None = None) -> dict:
    buffer = io.BytesIO()
    if fmt == "csv":
        frame.to_csv(buffer, index=False)
    else:
        frame.to_parquet(buffer, index=False)
    return {"file": (name or f"panel.{fmt}", buffer.getvalue(), "application/octet-stream")}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_a_file_is_answered_in_its_format_with_the_forecasts_of_predict(shops, fmt):
    model, start = shops
    frame = panel({"a": 20, "b": 1, "c": 9})
    with start() as client:
        r = client.post(URL, files=upload(frame, fmt))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv" if fmt == "csv" else "application/vnd.apache.parquet")
    assert (r.headers["x-forecast-series"], r.headers["x-skipped-series"]) == ("2", "1")
    assert json.loads(r.headers["x-skipped-reasons"]) == {"b": "1 points; a panel model needs at least 2"}
    out = pd.read_csv(io.BytesIO(r.content)) if fmt == "csv" else pd.read_parquet(io.BytesIO(r.content))
    assert list(out.columns) == [c.replace("m", "shops", 1) if c.startswith("m") else c for c in COLUMNS]
    _, expected = direct(model, frame[frame["unique_id"] != "b"])
    np.testing.assert_allclose(out["shops"], expected.mean[:, :, 0].ravel(), rtol=1e-6)
    assert pd.to_datetime(out["ds"]).iloc[0] == pd.Timestamp("2024-01-21")


def test_format_and_levels_from_the_query_and_parquet_known_by_its_bytes(shops):
    _, start = shops
    with start() as client:
        r = client.post(URL, params={"format": "csv", "levels": [50, 95]},
                        files=upload(panel({"a": 5}, time=False), "parquet", name="upload"))
    assert r.status_code == 200, r.text
    out = pd.read_csv(io.BytesIO(r.content))
    assert list(out.columns) == ["unique_id", "ds", "shops", "shops-lo-50", "shops-hi-50", "shops-lo-95", "shops-hi-95"]
    assert out["ds"].tolist() == [1, 2, 3]


def test_unknown_model_non_panel_model_and_bad_files(shops):
    _, start = shops
    frame = panel({"a": 5, "b": 5})
    with start(max_body_bytes=4096) as client:
        assert client.post("/v1/models/nope/forecast/file", files=upload(frame, "csv")).status_code == 404
        r = client.post("/v1/models/stock/forecast/file", files=upload(frame, "csv"))
        assert r.status_code == 422 and "'stock' is not a panel model" in r.json()["detail"]
        unsorted = pd.concat([frame, frame.iloc[:1]])
        r = client.post(URL, files=upload(unsorted, "csv"))
        assert r.status_code == 422 and "sort the file by id" in r.json()["detail"]
        assert r.json()["errors"][0]["field"] == "file"
        r = client.post(URL, files={"file": ("x.parquet", b"PAR1 not parquet", "application/octet-stream")})
        assert r.status_code == 422 and r.json()["detail"].startswith("cannot read the file as parquet")
        r = client.post(URL, params={"levels": [70]}, files=upload(frame, "csv"))
        assert r.status_code == 422 and r.json()["errors"][0]["field"] == "levels"
        r = client.post(URL, files=upload(panel({f"s{i}": 30 for i in range(20)}), "csv"))
        assert r.status_code == 413
