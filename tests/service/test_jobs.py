"""Training jobs end to end: a worker process trains, the version is saved and served, restarts keep it."""

import time

import pytest

from model.datasets import DATASETS
from service.jobs import JobState, JobStore
from tests.service.conftest import wait_for_job

FRAME = DATASETS["stock"].load().iloc[:400]
DATA = {"date": FRAME["date"].tolist(), "close": FRAME["close"].tolist()}
OPTIONS = {"targets": ["close"], "time_column": "date", "input_size": 20, "horizon": 3, "hidden_size": 8,
           "epochs": 2, "frequency": "B"}


def wait_for(client, job_id, statuses=("succeeded", "failed", "cancelled"), timeout=120):
    return wait_for_job(client.get, job_id, statuses, timeout)


def test_train_poll_forecast_restart(make_client, caplog):
    caplog.set_level("INFO", logger="service.jobs")
    client, settings = make_client()
    with client:
        r = client.post("/v1/train", json={"name": "goog-small", "data": DATA, "options": OPTIONS})
        assert r.status_code == 202, r.text
        job = r.json()
        assert job["status"] in ("queued", "running") and r.headers["location"].endswith(job["id"])
        job = wait_for(client, job["id"])
        assert job["status"] == "succeeded", job["error"]
        assert job["version"] == "v1" and job["epoch"] == 2 and job["metrics"]["naive"]["mae"] > 0
        assert "test MASE" in job["note"] and ("beats" in job["note"] or "does NOT beat" in job["note"])
        logged = " ".join(r.getMessage() for r in caplog.records)
        assert f"job {job['id']}: training goog-small started" in logged
        assert f"job {job['id']}: goog-small v1 succeeded; test MASE" in logged
        forecast = client.post("/v1/models/goog-small/forecast", json={"series": [{"values": DATA["close"][-20:]}]})
        assert forecast.status_code == 200 and forecast.json()["version"] == "v1"
        assert forecast.json()["forecasts"][0]["mean"][0] > 0
        assert client.post("/v1/models/stock/forecast",
                           json={"series": [{"values": DATA["close"][-30:]}]}).status_code == 200
        assert not list((settings.store / ".datasets").iterdir())  # the job's data went when it ended
    client2, _ = make_client()
    with client2:  # a restart: the trained model is still there and live
        models = {m["name"]: m for m in client2.get("/v1/models").json()}
        assert models["goog-small"]["live_version"] == "v1" and models["goog-small"]["available"]
        assert client2.get(f"/v1/jobs/{job['id']}").json()["status"] == "succeeded"


def test_second_version_promote_rollback_delete(make_client):
    client, _ = make_client()
    with client:
        for _ in range(2):
            job = client.post("/v1/train", json={"name": "m", "data": DATA, "options": OPTIONS}).json()
            assert wait_for(client, job["id"])["status"] == "succeeded"
        card = client.get("/v1/models/m").json()
        assert card["versions"] == ["v1", "v2"] and card["live_version"] == "v1"  # not promoted by default
        assert client.post("/v1/models/m/promote", json={"version": "v2"}).json()["live_version"] == "v2"
        assert client.post("/v1/models/m/forecast", json={"series": [{"values": DATA["close"][-20:]}]}).json()[
            "version"] == "v2"
        assert client.delete("/v1/models/m/versions/v2").status_code == 409  # live
        pinned = client.post("/v1/models/m/forecast?version=v1", json={"series": [{"values": DATA["close"][-20:]}]})
        assert pinned.status_code == 200 and pinned.json()["version"] == "v1"
        missing = client.post("/v1/models/m/forecast?version=v5", json={"series": [{"values": DATA["close"][-20:]}]})
        assert missing.status_code == 404 and "no version 'v5'" in missing.json()["detail"]
        assert client.post("/v1/models/m/promote", json={"version": "v1"}).status_code == 200  # rollback
        assert client.delete("/v1/models/m/versions/v2").status_code == 204
        assert client.delete("/v1/models/m/versions/v7").status_code == 404
        assert client.post("/v1/models/m/promote", json={"version": "v9"}).status_code == 404


def test_bad_training_requests_are_refused_at_once(client):
    short = {"close": DATA["close"][:30]}
    r = client.post("/v1/train", json={"name": "x", "data": short, "options": {**OPTIONS, "time_column": None}})
    assert r.status_code == 422 and "30 rows leave no training window" in r.json()["detail"]
    for bad in ({"epochs": 10**9}, {"horizon": 0}, {"input_size": 10**6}):
        r = client.post("/v1/train", json={"name": "x", "data": DATA, "options": {**OPTIONS, **bad}})
        assert r.status_code == 422, bad
    r = client.post("/v1/train", json={"name": "../x", "data": DATA, "options": OPTIONS})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "name"
    r = client.post("/v1/train", json={"name": "x", "data": {"close": DATA["close"]},
                                       "options": {**OPTIONS, "targets": ["nope"], "time_column": None}})
    assert r.status_code == 422 and "unknown column" in r.json()["detail"]


def test_csv_upload_with_bom_and_semicolons(client):
    csv = "\ufeffdate;close\n" + "\n".join(f"{d};{c}" for d, c in zip(DATA["date"], DATA["close"], strict=True))
    r = client.post("/v1/train/csv", files={"file": ("goog.csv", csv.encode(), "text/csv")},
                    data={"name": "from-csv", "options": '{"targets":["close"],"time_column":"date","input_size":20,'
                                                         '"horizon":2,"epochs":1,"hidden_size":4}'})
    assert r.status_code == 202, r.text
    assert wait_for(client, r.json()["id"])["status"] == "succeeded"
    dup = "date,close\n2020-01-01,1\n2020-01-01,2\n" + "\n".join(f"2021-01-{i:02d},{i}" for i in range(1, 30))
    r = client.post("/v1/train/csv", files={"file": ("d.csv", dup.encode(), "text/csv")},
                    data={"name": "dup", "options": '{"targets":["close"],"time_column":"date","input_size":3}'})
    assert r.status_code == 422 and "duplicate timestamp 2020-01-01" in r.json()["detail"]
    r = client.post("/v1/train/csv", files={"file": ("b.csv", b"\xff\xfe\x00garbage", "text/csv")},
                    data={"name": "bad"})
    assert r.status_code == 400


def test_cancel_stops_a_running_job(client):
    slow = {**OPTIONS, "epochs": 1000, "patience": 0}
    job = client.post("/v1/train", json={"name": "slow", "data": DATA, "options": slow}).json()
    wait_for(client, job["id"], statuses=("running",))
    while client.get(f"/v1/jobs/{job['id']}").json()["epoch"] < 1:
        time.sleep(0.1)
    started = time.monotonic()
    assert client.post(f"/v1/jobs/{job['id']}/cancel").status_code == 200
    assert wait_for(client, job["id"], timeout=10)["status"] == "cancelled"
    assert time.monotonic() - started < 5
    assert "slow" not in {m["name"] for m in client.get("/v1/models").json()}


def test_a_job_running_at_restart_shows_as_interrupted(make_client, tmp_path):
    store = tmp_path / "store"
    jobs = JobStore(store / "jobs.sqlite3")
    job_id = jobs.create("ghost", {"name": "ghost", "options": OPTIONS, "data": DATA}, 2)
    jobs.move(job_id, JobState.RUNNING)
    (store / "ghost" / ".tmp-v1-half").mkdir(parents=True)  # what a kill mid-save leaves
    client, _ = make_client()
    with client:
        job = client.get(f"/v1/jobs/{job_id}").json()
        assert job["status"] == "interrupted" and "stopped" in job["error"]
        assert not (store / "ghost" / ".tmp-v1-half").exists()
        assert "ghost" not in {m["name"] for m in client.get("/v1/models").json()}


@pytest.mark.timeout(60)
def test_a_killed_worker_fails_the_job_and_serving_goes_on(client):
    import os
    import signal

    slow = {**OPTIONS, "epochs": 1000, "patience": 0}
    job = client.post("/v1/train", json={"name": "victim", "data": DATA, "options": slow}).json()
    wait_for(client, job["id"], statuses=("running",))
    runner = client.app.state.runner
    while job["id"] not in runner.running:
        time.sleep(0.05)
    os.kill(runner.running[job["id"]].pid, signal.SIGKILL)
    failed = wait_for(client, job["id"], statuses=("failed",))
    assert "exited with code -9" in failed["error"]
    r = client.post("/v1/models/stock/forecast", json={"series": [{"values": DATA["close"][-30:]}]})
    assert r.status_code == 200


def test_if_better_promotes_only_a_better_version_and_says_why(make_client):
    client, _ = make_client()
    with client:
        first = client.post("/v1/train", json={"name": "gated", "data": DATA, "options": OPTIONS}).json()
        assert wait_for(client, first["id"])["status"] == "succeeded"
        # The same data, options and seed give the same model: not better, so v1 stays live.
        job = client.post("/v1/train", json={"name": "gated", "data": DATA,
                                             "options": {**OPTIONS, "promote": "if_better"}}).json()
        job = wait_for(client, job["id"])
        assert job["status"] == "succeeded" and job["version"] == "v2"
        gate = job["metrics"]["promotion"]
        assert gate["promote"] is False and gate["live_version"] == "v1" and gate["new"] == gate["live"]
        assert client.get("/v1/models/gated").json()["live_version"] == "v1"
        # Against a live version that forecasts badly (a short input, one epoch), the new one wins.
        weak = {**OPTIONS, "input_size": 4, "epochs": 1, "linear_skip": False, "base": "naive", "max_steps": 1}
        third = client.post("/v1/train", json={"name": "gated2", "data": DATA, "options": weak}).json()
        assert wait_for(client, third["id"])["status"] == "succeeded"
        job = client.post("/v1/train", json={"name": "gated2", "data": DATA,
                                             "options": {**OPTIONS, "promote": "if_better"}}).json()
        job = wait_for(client, job["id"])
        gate = job["metrics"]["promotion"]
        expected = "v2" if gate["promote"] else "v1"
        assert gate["live"] is not None and client.get("/v1/models/gated2").json()["live_version"] == expected


def test_the_live_record_is_the_one_source_of_truth(make_client):
    """Issue 10: a bundled model retrained without promotion keeps serving v1, before and after a
    restart; its unpromoted v2 can be deleted; every model in the store has a LIVE file."""
    client, settings = make_client()
    stock = DATASETS["stock"].load()
    data = {"date": stock["date"].tolist()[:600], "close": stock["close"].tolist()[:600]}
    options = {"targets": ["close"], "time_column": "date", "frequency": "B", "input_size": 30, "horizon": 5,
               "epochs": 1, "hidden_size": 8}
    with client:
        assert (settings.store / "stock" / "LIVE").read_text().strip() == "v1"  # seeded with its record
        job = wait_for(client, client.post("/v1/train", json={"name": "stock", "data": data,
                                                              "options": options}).json()["id"])
        assert job["status"] == "succeeded" and job["version"] == "v2"
        assert client.get("/v1/models/stock").json()["live_version"] == "v1"
    client2, _ = make_client()
    with client2:  # a restart serves exactly what was live
        body = {"series": [{"values": data["close"][-30:]}]}
        assert client2.post("/v1/models/stock/forecast", json=body).json()["version"] == "v1"
        assert client2.delete("/v1/models/stock/versions/v2").status_code == 204
        assert client2.delete("/v1/models/stock/versions/v1").status_code == 409


def test_the_card_and_the_list_show_a_version_another_process_made_live_without_a_forecast_first(make_client):
    """Another worker's job, or the CLI, writes the version and LIVE: the card must not say
    "unavailable" with no manifest until some forecast happens to reach this worker."""
    from model.cli import main

    client, settings = make_client()
    with client:
        assert client.get("/v1/models").status_code == 200  # the list read before the version exists
        csv = settings.store.parent / "prices.csv"
        DATASETS["stock"].load().iloc[:500].to_csv(csv, index=False)
        assert main(["train", "--csv", str(csv), "--target", "close", "--time-column", "date", "--frequency", "B",
                     "--input-size", "20", "--horizon", "3", "--epochs", "1", "--hidden-size", "8",
                     "--store", str(settings.store), "--name", "by-cli"]) == 0
        card = client.get("/v1/models/by-cli").json()
        assert card["available"] and card["live_version"] == "v1"
        assert card["manifest"]["choice"]["base"] in ("naive", "seasonal", "seasonal_level")
        listed = {m["name"]: m for m in client.get("/v1/models").json()}
        assert listed["by-cli"]["available"] and listed["by-cli"]["input_size"] == 20


def test_a_version_written_by_another_process_is_served_without_a_restart(make_client):
    import time as clock

    from model.cli import main

    client, settings = make_client()
    with client:
        csv = settings.store.parent / "prices.csv"
        DATASETS["stock"].load().iloc[:500].to_csv(csv, index=False)
        assert main(["train", "--csv", str(csv), "--target", "close", "--time-column", "date", "--frequency", "B",
                     "--input-size", "20", "--horizon", "3", "--epochs", "1", "--hidden-size", "8",
                     "--store", str(settings.store), "--name", "from-cli"]) == 0
        assert (settings.store / "from-cli" / "LIVE").read_text().strip() == "v1"
        body = {"series": [{"values": DATA["close"][-20:]}]}
        deadline = clock.monotonic() + 5
        while (r := client.post("/v1/models/from-cli/forecast", json=body)).status_code != 200:
            assert clock.monotonic() < deadline, r.text
            clock.sleep(0.2)
        assert r.json()["version"] == "v1"
        listed = {m["name"]: m for m in client.get("/v1/models").json()}
        assert listed["from-cli"]["available"] and listed["from-cli"]["live_version"] == "v1"
        # Another process promotes by moving LIVE: this server follows within a second or so.
        assert main(["train", "--csv", str(csv), "--target", "close", "--time-column", "date", "--frequency", "B",
                     "--input-size", "20", "--horizon", "3", "--epochs", "1", "--hidden-size", "8",
                     "--store", str(settings.store), "--name", "from-cli"]) == 0
        from model import store

        store.set_live(settings.store, "from-cli", "v2")
        deadline = clock.monotonic() + 5
        while client.post("/v1/models/from-cli/forecast", json=body).json()["version"] != "v2":
            assert clock.monotonic() < deadline
            clock.sleep(0.2)


def test_the_transition_table_is_pinned_and_an_illegal_move_is_refused(tmp_path):
    from service.job_state import FINISHED, TRANSITIONS, IllegalTransition, check_move
    from service.schemas import JobStatus

    q, r, s, f, c, i = (JobState(v) for v in ("queued", "running", "succeeded", "failed", "cancelled",
                                                  "interrupted"))
    assert TRANSITIONS == {q: {r, c, f}, r: {s, f, c, i}, s: set(), f: set(), c: set(), i: set()}
    assert FINISHED == {s, f, c, i}
    assert JobStatus.model_fields["status"].annotation is JobState
    with pytest.raises(IllegalTransition, match="a succeeded job cannot become running"):
        check_move(s, r)
    jobs = JobStore(tmp_path / "jobs.sqlite3")
    job_id = jobs.create("m", {"name": "m", "options": {}}, 1)
    assert not jobs.move(job_id, JobState.SUCCEEDED)  # queued -> succeeded skips running: refused
    assert not jobs.move(job_id, JobState.INTERRUPTED)
    assert jobs.get(job_id)["status"] == "queued"
    assert jobs.move(job_id, JobState.RUNNING) and not jobs.move(job_id, JobState.RUNNING)
    assert jobs.move(job_id, JobState.SUCCEEDED)
    for target in set(JobState) - {q}:  # finished: nothing moves it again, not even a late cancel
        assert not jobs.move(job_id, target)
    with pytest.raises(IllegalTransition, match="no job ever moves to 'queued'"):
        jobs.move(job_id, q)
    jobs.request_cancel(job_id)
    assert jobs.get(job_id)["status"] == "succeeded"
    with pytest.raises(AssertionError, match="move"):
        jobs.update(job_id, status="running")


def test_a_failure_inside_the_worker_is_logged_and_leaves_no_model_folder(make_client, caplog):
    """The worker marks its own failures; the runner still logs each one, with the job id and the error."""
    caplog.set_level("INFO", logger="service.jobs")
    client, settings = make_client()
    with client:
        jobs: JobStore = client.app.state.jobs
        # Both bypass the API's checks, as a job queued by an older server may: they fail in the worker.
        unknown = jobs.create("no-column", {"name": "no-column", "data": DATA,
                                            "options": {**OPTIONS, "targets": ["nope"]}}, 2)
        huge = jobs.create("huge", {"name": "huge", "data": {"close": [v * 1e28 for v in DATA["close"]]},
                                    "options": {**OPTIONS, "time_column": None, "frequency": None}}, 2)
        client.app.state.runner.wake()
        failed = wait_for(client, unknown)
        assert failed["status"] == "failed" and "nope" in failed["error"]
        ended = wait_for(client, huge)
        assert ended["status"] in ("failed", "succeeded")
        deadline = time.monotonic() + 30  # the worker marks the row, then exits; the runner logs after
        while not all(any(r.getMessage().startswith(f"job {j}: ") and r.levelname in ("ERROR", "INFO")
                          and "started" not in r.getMessage() for r in caplog.records) for j in (unknown, huge)):
            assert time.monotonic() < deadline, [r.getMessage() for r in caplog.records]
            time.sleep(0.1)
    logged = [r for r in caplog.records if r.name == "service.jobs"]
    line = f"job {unknown}: no-column failed: {failed['error']}"
    assert any(r.getMessage() == line and r.levelname == "ERROR" for r in logged), [r.getMessage() for r in logged]
    assert not (settings.store / "no-column").exists()
    # 1e28 overflowed the metrics to inf (a manifest JSON cannot hold): no empty folder either way
    assert (settings.store / "huge").exists() == (ended["status"] == "succeeded")
    if ended["status"] == "failed":
        assert any(r.getMessage().startswith(f"job {huge}: huge failed: ") for r in logged)


def test_a_job_row_names_its_dataset_file_and_listing_never_reads_it(tmp_path):
    import json
    import os
    import sqlite3

    from service import job_data
    from service.job_data import JobData

    jobs = JobStore(tmp_path / "jobs.sqlite3")
    text = json.dumps(DATA)
    job_id = jobs.create("m", {"name": "m", "options": OPTIONS}, 2, JobData("json", text))
    path = tmp_path / ".datasets" / f"{job_id}.json"
    assert path.read_text() == text and [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary
    request = jobs.request(job_id)
    assert request == {"name": "m", "options": OPTIONS, "dataset": path.name}
    assert job_data.read(tmp_path, request)["close"].tolist() == DATA["close"]
    assert "request" not in jobs.get(job_id) and "request" not in jobs.list()[0]
    # A row whose request is not even JSON: polling and listing still answer, since they never read it.
    with sqlite3.connect(tmp_path / "jobs.sqlite3") as db:
        db.execute("UPDATE jobs SET request = 'not json' WHERE id = ?", (job_id,))
    assert jobs.get(job_id)["status"] == "queued" and jobs.list()[0]["id"] == job_id
    # a queued job cancelled never runs: its data goes at once
    jobs.request_cancel(job_id)
    assert not path.exists()
    for bad in ("../jobs.sqlite3", "x.csv"):
        with pytest.raises(ValueError, match="bad dataset reference"):
            job_data.read(tmp_path, {"dataset": bad})
    gone = jobs.create("m", {"name": "m", "options": OPTIONS}, 2, JobData("csv", "a\n1\n"))
    (tmp_path / ".datasets" / f"{gone}.csv").unlink()
    with pytest.raises(FileNotFoundError, match="submit the job again"):
        job_data.read(tmp_path, jobs.request(gone))
    # the sweep: finished jobs' files, and orphans older than an hour; a queued job's and a new orphan stay
    queued = jobs.create("m", {"name": "m", "options": OPTIONS}, 2, JobData("csv", "a\n1\n"))
    done = jobs.create("m", {"name": "m", "options": OPTIONS}, 2, JobData("csv", "a\n1\n"))
    assert jobs.move(done, JobState.RUNNING) and jobs.move(done, JobState.FAILED, error="x")
    old, new = (tmp_path / ".datasets" / f"{'0' * 15}{i}.csv" for i in (1, 2))
    old.write_text("a\n1\n")
    new.write_text("a\n1\n")
    os.utime(old, (0, 0))
    assert jobs.sweep_datasets() == 2
    assert sorted(p.name for p in (tmp_path / ".datasets").iterdir()) == sorted([f"{queued}.csv", new.name])


def test_jobs_queued_by_an_older_server_with_inline_data_still_run(make_client, tmp_path):
    store = tmp_path / "store"
    jobs = JobStore(store / "jobs.sqlite3")
    csv = "date,close\n" + "\n".join(f"{d},{c}" for d, c in zip(DATA["date"], DATA["close"], strict=True))
    inline = {**OPTIONS, "epochs": 1, "hidden_size": 4}
    ids = [jobs.create("old-json", {"name": "old-json", "options": inline, "data": DATA}, 1),
           jobs.create("old-csv", {"name": "old-csv", "options": inline, "csv": csv}, 1)]
    client, _ = make_client()
    with client:
        for job_id in ids:
            job = wait_for(client, job_id)
            assert job["status"] == "succeeded" and job["version"] == "v1", job


def test_job_listing_pages_with_a_limit_and_a_cursor(make_client, tmp_path):
    jobs = JobStore(tmp_path / "store" / "jobs.sqlite3")
    made = []
    for i in range(5):  # finished before the server starts: nothing runs
        made.append(jobs.create(f"m{i}", {"name": f"m{i}", "options": OPTIONS}, 1))
        assert jobs.move(made[-1], JobState.RUNNING) and jobs.move(made[-1], JobState.FAILED, error="x")
    newest_first = [j["id"] for j in jobs.list()]
    assert sorted(newest_first) == sorted(made) and newest_first[0] == made[-1]
    client, _ = make_client()
    with client:
        everything = client.get("/v1/jobs")
        assert everything.status_code == 200 and [j["id"] for j in everything.json()] == newest_first
        assert "link" not in everything.headers  # not a full page: nothing follows
        seen, url = [], "/v1/jobs?limit=2"
        while url:
            page = client.get(url)
            assert page.status_code == 200 and len(page.json()) <= 2
            seen += [j["id"] for j in page.json()]
            link = page.headers.get("link")
            url = link[link.index("/v1/"):link.index(">")] if link else None
        assert seen == newest_first
        assert [j["id"] for j in client.get(f"/v1/jobs?before={newest_first[1]}").json()] == newest_first[2:]
        for bad in ("limit=0", "limit=1001", "limit=x", "before=nope"):
            r = client.get(f"/v1/jobs?{bad}")
            assert r.status_code == 422, bad
        assert "unknown job 'nope'" in client.get("/v1/jobs?before=nope").json()["detail"]


def test_a_jobs_note_carries_the_coverage_warning_of_its_version():
    from service.jobs import verdict

    metrics = {"model": {"mase": 1.2}, "naive": {"mase": 1.5}, "coverage": {"80": 0.024}, "windows": 7,
               "coverage_warning": "intervals are off nominal on the test part (80% bands cover 0.02)"}
    assert verdict(metrics) == ("test MASE 1.2 beats naive (1.5); intervals are off nominal on the test part "
                                "(80% bands cover 0.02)")
    del metrics["coverage_warning"]
    assert verdict(metrics) == "test MASE 1.2 beats naive (1.5)"


def test_a_first_version_that_cannot_load_fails_its_job_even_when_the_follower_tried_it_first(make_client,
                                                                                               monkeypatch):
    """The store follower (every 0.5 s) may try a new model's first version before the job's end is
    handled: a version that cannot load must still fail its job, not succeed with the model unavailable."""
    import service.registry as registry_module
    from model.artifact import ArtifactError

    real = registry_module.load_artifact

    def refuse_fresh(path, *args, **kwargs):
        if "fresh" in str(path):
            raise ArtifactError(f"{path}: cannot rebuild the model (test)")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(registry_module, "load_artifact", refuse_fresh)
    client, _ = make_client()
    with client:
        runner, registry = client.app.state.runner, client.app.state.registry
        handled = runner.on_success

        async def follower_first(job):
            await registry.follow_catalog()  # the follower wins the race: the model is now in registry.errors
            assert job["name"] in registry.errors
            await handled(job)

        runner.on_success = follower_first
        job_id = client.post("/v1/train", json={"name": "fresh", "data": DATA, "options": OPTIONS}).json()["id"]
        job = wait_for(client, job_id)
        assert job["status"] == "failed" and job["error"].startswith("saved but not loaded")
