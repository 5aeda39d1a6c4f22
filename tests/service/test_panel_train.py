"""Panel training jobs at submission: long-format CSV, Parquet or JSON with an id column, Nixtla's names
resolved before the job is stored, a panel with no usable series refused at once, and the job's report
of the series used and too short."""

import io
import json

import pytest

from model.panel import MIN_POINTS
from service.jobs import JobStore
from tests.panel_data import weather_panel
from tests.service.conftest import wait_for_job

# horizon 3: a series needs 2 * 3 + 2 = 8 rows to train (model/panel.py training_min_rows); "c" has 5.
PANEL = weather_panel({"a": 60, "b": 45, "c": 5})
OPTIONS = {"id_column": "unique_id", "input_size": 8, "horizon": 3, "frequency": "D", "epochs": 1, "max_steps": 2,
           "hidden_size": 4}


@pytest.fixture
def jobs_client(make_client):
    client, settings = make_client(seed_defaults=False)
    with client:
        yield client, JobStore(settings.store / "jobs.sqlite3")


def upload(client, name, content, filename, content_type, options=OPTIONS):
    return client.post("/v1/train/csv", files={"file": (filename, content, content_type)},
                       data={"name": name, "options": json.dumps(options)})


def queued_options(client, jobs, response):
    """The options the job stores (what the worker trains with); the job is cancelled, it is not the point."""
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    client.post(f"/v1/jobs/{job_id}/cancel")
    return jobs.request(job_id)["options"]


def test_a_csv_with_nixtla_names_needs_only_the_id_column(jobs_client):
    client, jobs = jobs_client
    schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert "id_column" in schema["TrainOptions"]["properties"] and "short_series" in schema["JobStatus"]["properties"]
    r = upload(client, "temps", PANEL.to_csv(index=False).encode(), "panel.csv", "text/csv")
    options = queued_options(client, jobs, r)
    assert options["targets"] == ["y"] and options["time_column"] == "ds" and options["id_column"] == "unique_id"


def test_parquet_is_known_by_its_name_type_or_magic_bytes(jobs_client):
    client, jobs = jobs_client
    buffer = io.BytesIO()
    PANEL.to_parquet(buffer, index=False)
    raw = buffer.getvalue()
    for filename, content_type in (("panel.parquet", "application/octet-stream"),
                                   ("upload.bin", "application/octet-stream"),  # the PAR1 magic alone
                                   ("panel", "application/vnd.apache.parquet")):
        options = queued_options(client, jobs, upload(client, "temps", raw, filename, content_type))
        assert options["targets"] == ["y"] and options["time_column"] == "ds", filename
    r = upload(client, "temps", b"PAR1 this is not parquet", "bad.parquet", "application/octet-stream")
    assert r.status_code == 400 and "Parquet" in r.json()["detail"]


def test_json_takes_the_same_columns(jobs_client):
    client, jobs = jobs_client
    data = {column: PANEL[column].tolist() for column in PANEL.columns}
    r = client.post("/v1/train", json={"name": "temps", "data": data, "options": OPTIONS})
    assert queued_options(client, jobs, r)["targets"] == ["y"]


def test_numeric_ids_keep_their_names(jobs_client):
    client, _ = jobs_client
    short = weather_panel({"7": 5, "8": 4})
    data = {"store": short.unique_id.astype(int).tolist(), "ds": short.ds.tolist(), "y": short.y.tolist()}
    r = client.post("/v1/train", json={"name": "temps", "data": data, "options": {**OPTIONS, "id_column": "store"}})
    assert r.status_code == 422 and "7: 5 rows is too short" in r.json()["detail"]  # not "7.0"


def test_a_panel_with_no_usable_series_is_a_422_naming_them(jobs_client):
    client, _ = jobs_client
    short = weather_panel({"p": 5, "q": 7, "r": 3, "s": 4, "t": 2})
    r = upload(client, "temps", short.to_csv(index=False).encode(), "short.csv", "text/csv")
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "no series of the 5 can be used" in detail and "(and 2 more)" in detail
    assert "p: 5 rows is too short" in detail and "needs at least 8" in detail
    assert client.get("/v1/jobs").json() == []  # nothing was queued


def test_a_missing_id_column_is_a_422_naming_the_option(jobs_client):
    client, _ = jobs_client
    r = upload(client, "temps", PANEL.to_csv(index=False).encode(), "panel.csv", "text/csv",
               {**OPTIONS, "id_column": "store"})
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "options.id_column" and "'store'" in r.json()["detail"]
    r = upload(client, "temps", PANEL.to_csv(index=False).encode(), "panel.csv", "text/csv",
               {**OPTIONS, "covariates": ["humidity"]})
    assert r.status_code == 422 and "unknown column(s) ['humidity']" in r.json()["detail"]


def test_the_job_reports_the_series_used_and_those_too_short_by_id(jobs_client):
    client, jobs = jobs_client
    job_id = client.post(
        "/v1/train", json={"name": "temps", "data": {c: PANEL[c].tolist() for c in PANEL.columns},
                           "options": OPTIONS}).json()["id"]
    client.post(f"/v1/jobs/{job_id}/cancel")
    # What service/worker.py writes from a trained panel's manifest.panel (an end-to-end test trains one).
    jobs.update(job_id, panel=json.dumps({"series": 2, "short": {"c": "5 rows is too short"}}))
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["series"] == 2 and job["short_series"] == {"c": "5 rows is too short"}
    assert client.get("/v1/jobs").json()[0]["short_series"] == {"c": "5 rows is too short"}


def test_a_jobs_database_from_before_panels_gains_the_panel_column(tmp_path):
    import sqlite3

    from service.jobs import SCHEMA

    path = tmp_path / "jobs.sqlite3"
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA.replace(", panel TEXT", ""))
        db.execute("INSERT INTO jobs (id, name, status, request, created, updated) VALUES "
                   "('0123456789abcdef', 'old', 'succeeded', '{}', '2026-01-01', '2026-01-01')")
    jobs = JobStore(path)
    assert jobs.get("0123456789abcdef")["panel"] is None
    JobStore(path)  # a second process opening it finds the column there


def test_a_panel_trained_through_the_api_forecasts_a_short_series(jobs_client):
    client, _ = jobs_client
    r = upload(client, "temps", PANEL.to_csv(index=False).encode(), "panel.csv", "text/csv")
    assert r.status_code == 202, r.text
    job = wait_for_job(client.get, r.json()["id"])
    assert job["status"] == "succeeded", job["error"]
    assert job["series"] == 2 and job["short_series"] == {"c": "5 rows is too short: a panel model needs at least 8"}
    card = client.get("/v1/models/temps").json()
    assert card["series"] == 2 and card["id_column"] == "unique_id" and card["min_points"] == MIN_POINTS
    assert card["manifest"]["config"]["id_column"] == "unique_id" and card["manifest"]["config"]["targets"] == ["y"]
    c = PANEL[PANEL.unique_id == "c"]  # too short to train on, long enough to forecast
    body = {"series": [{"id": "c", "values": c.y.tolist()[:3], "timestamps": c.ds.tolist()[:3]}], "levels": [80]}
    forecast = client.post("/v1/models/temps/forecast", json=body)
    assert forecast.status_code == 200, forecast.text
    answer = forecast.json()["forecasts"][0]
    assert len(answer["mean"]) == 3 and answer["timestamps"][0].startswith(c.ds.tolist()[3])
    a = PANEL[PANEL.unique_id == "a"]
    scored = client.post("/v1/models/temps/evaluate", json={"series": [{"values": a.y.tolist()}]})
    assert scored.status_code == 200, scored.text
    assert scored.json()["results"][0]["windows"] == 60 - 8 - 3 + 1 and scored.json()["results"][0]["mase_scale"][0] > 0
