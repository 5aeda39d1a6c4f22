"""Several worker processes on one store (`gru-forecast serve --workers 2`), correct together: versions
propagate to every worker, training jobs run once, /metrics adds up, a killed worker is replaced and
SIGTERM drains them all."""

import concurrent.futures
import os
import re
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from model.datasets import DATASETS
from tests.service.conftest import forecast_until_closed, start_server, stop_server, wait_for_job

CLOSES = DATASETS["stock"].load()["close"].tolist()
BODY = {"series": [{"values": CLOSES[:30]}]}
TINY = {"targets": ["close"], "input_size": 20, "horizon": 5, "hidden_size": 4, "epochs": 1}
# A loaded machine (both cores busy) slows every step: starting a worker imports torch again, and a
# training worker runs at nice 10. The deadlines are generous; each wait ends as soon as it can.
PATIENCE_S = 240
pytestmark = pytest.mark.timeout(900)


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    root = tmp_path_factory.mktemp("workers")
    log = root / "server.log"
    url, process = start_server(root / "store", env={"GRU_FORECAST_WORKERS": "2"}, log=log)
    yield url, process, log
    stop_server(process)


def workers(process):
    """The supervisor's worker pids now, read from /proc (no `ps`, whose columns a long path cuts):
    its children that run multiprocessing.spawn (uvicorn's resource tracker excluded), zombies left out."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
            cmdline = (stat.parent / "cmdline").read_bytes()
        except OSError:
            continue  # it ended meanwhile
        state, ppid = text[text.rindex(")") + 2 :].split()[:2]
        if int(ppid) == process.pid and state != "Z" and b"multiprocessing.spawn" in cmdline:
            found.append(int(stat.parent.name))
    return sorted(found)


def answering_pid(url):
    with httpx.Client(base_url=url, timeout=30) as client:  # one connection: one worker
        return client.get("/health/ready").json()["pid"]


def each_worker(url, process, do, times=3):
    """Run do(client) on fresh connections until every worker running now answered `times` times;
    returns {pid: [results]}. The worker list is read again each round: the supervisor may replace a
    worker that a busy machine kept from answering its health check."""
    seen: dict[int, list] = {}
    deadline = time.monotonic() + PATIENCE_S
    while True:
        current = workers(process)
        if len(current) == 2 and all(len(seen.get(pid, [])) >= times for pid in current):
            return seen
        assert time.monotonic() < deadline, f"workers {current}, answers from {sorted(seen)}"
        with httpx.Client(base_url=url, timeout=30) as client:
            pid = client.get("/health/ready").json()["pid"]
            seen.setdefault(pid, []).append(do(client))


def both_serving(url, process, without=()):
    """Wait until two workers run (none of `without`) and each answers; returns their pids."""
    deadline = time.monotonic() + PATIENCE_S
    answered: set[int] = set()
    while True:
        current = set(workers(process))
        if len(current) == 2 and not current & set(without) and current <= answered:
            return sorted(current)
        assert time.monotonic() < deadline, f"workers {sorted(current)}, answers from {sorted(answered)}"
        try:
            answered.add(answering_pid(url))  # a new worker listens once its models are loaded
        except httpx.TransportError:
            time.sleep(0.1)


def leader_pids(log):
    return [int(pid) for pid in re.findall(r"this process \(pid (\d+)\) runs the training jobs", log.read_text())]


def wait_for_leader(log, candidates):
    """The last process that logged taking the jobs, once it is one of candidates."""
    deadline = time.monotonic() + PATIENCE_S
    while not (leader_pids(log) and leader_pids(log)[-1] in candidates):
        assert time.monotonic() < deadline, f"leaders {leader_pids(log)}, workers {candidates}"
        time.sleep(0.2)
    return leader_pids(log)[-1]


def wait_for_200s(codes, count):
    deadline = time.monotonic() + PATIENCE_S
    while codes.count(200) < count:
        assert time.monotonic() < deadline, f"{codes.count(200)} answers of {count}"
        time.sleep(0.05)


def test_both_workers_serve_and_metrics_add_up(two_workers):
    url, process, _ = two_workers
    assert len(both_serving(url, process)) == 2
    before = httpx.get(url + "/metrics").text
    count = re.search(r'gru_forecasts_total\{model="weather-type"\} (\S+)', before)
    start = float(count.group(1)) if count else 0.0
    body = {"series": [{"values": [], "timestamps": [f"2016-01-{d:02d}" for d in range(1, 15)],
                        "covariates": {k: [1.0] * 14 for k in ("precipitation", "temp_max", "temp_min", "wind")}}]}
    served = each_worker(url, process, lambda c: c.post("/v1/models/weather-type/classify", json=body).status_code)
    assert {code for codes in served.values() for code in codes} == {200}
    total = sum(len(codes) for codes in served.values())
    for _ in range(3):  # any worker may take the scrape: each answers with the sum of both
        metrics = httpx.get(url + "/metrics").text
        assert float(re.search(r'gru_forecasts_total\{model="weather-type"\} (\S+)', metrics).group(1)) \
            == start + total
        assert re.search(r"^gru_processes (\S+)", metrics, re.M).group(1) == "2.0"


def test_a_trained_and_promoted_version_is_what_every_worker_serves(two_workers):
    url, process, log = two_workers
    job = httpx.post(url + "/v1/train", json={"name": "stock", "data": {"close": CLOSES[:300]}, "options": TINY})
    assert job.status_code == 202
    done = wait_for_job(lambda path: httpx.get(url + path), job.json()["id"], timeout=PATIENCE_S)
    assert done["status"] == "succeeded", done
    new = done["version"]
    assert new != "v1"
    # the job ran in one process: exactly one worker leads, and only its log line exists
    assert len(set(leader_pids(log))) == 1
    # promotion is only by request here (the model had a live version): every worker still serves v1
    versions = each_worker(url, process, lambda c: c.post("/v1/models/stock/forecast", json=BODY).json()["version"])
    assert {v for vs in versions.values() for v in vs} == {"v1"}

    assert httpx.post(url + "/v1/models/stock/promote", json={"version": new}).status_code == 200
    versions = each_worker(url, process, lambda c: c.post("/v1/models/stock/forecast", json=BODY).json()["version"])
    assert {v for vs in versions.values() for v in vs} == {new}  # from the very next request, in both

    assert httpx.post(url + "/v1/models/stock/promote", json={"version": "v1"}).status_code == 200  # rollback
    versions = each_worker(url, process, lambda c: c.post("/v1/models/stock/forecast", json=BODY).json()["version"])
    assert {v for vs in versions.values() for v in vs} == {"v1"}

    # a version pinned with ?version= in both workers, then deleted through one: gone in both
    def pinned_forecast(c):
        return c.post(f"/v1/models/stock/forecast?version={new}", json=BODY).status_code

    pinned = each_worker(url, process, pinned_forecast)
    assert {c for cs in pinned.values() for c in cs} == {200}
    assert httpx.delete(f"{url}/v1/models/stock/versions/{new}").status_code == 204
    pinned = each_worker(url, process, pinned_forecast)
    assert {c for cs in pinned.values() for c in cs} == {404}


def test_a_killed_worker_is_replaced_and_jobs_keep_one_runner(two_workers):
    url, process, log = two_workers
    old = both_serving(url, process)
    leader = wait_for_leader(log, old)
    codes: list = []
    stop = threading.Event()

    def client_loop():
        while not stop.is_set():
            try:
                with httpx.Client(timeout=30) as client:  # a hang would be a ReadTimeout here
                    codes.append(client.post(url + "/v1/models/stock/forecast", json=BODY).status_code)
            except httpx.TimeoutException:
                codes.append("hang")
            except httpx.TransportError:
                codes.append("closed")  # the connection belonged to the killed worker

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(client_loop) for _ in range(4)]
        try:
            wait_for_200s(codes, 4)  # serving before the kill, however slow the machine
            os.kill(leader, signal.SIGKILL)  # the worst case: the worker that runs the training jobs
            now = both_serving(url, process, without=[leader])  # replaced, and the new one answers
            served = codes.count(200)
            wait_for_200s(codes, served + 4)  # and serving goes on
        finally:
            stop.set()
        for f in futures:
            f.result()
    assert "hang" not in codes
    assert set(codes) <= {200, "closed"}, set(codes)
    # the surviving worker took over the jobs; a job submitted now runs once and succeeds
    assert wait_for_leader(log, workers(process)) != leader and leader not in now
    job = httpx.post(url + "/v1/train", json={"name": "after-kill", "data": {"close": CLOSES[:300]},
                                              "options": TINY}).json()
    assert wait_for_job(lambda path: httpx.get(url + path), job["id"], timeout=PATIENCE_S)["status"] == "succeeded"
    assert log.read_text().count(f"job {job['id']}: training after-kill started") == 1
    # a new model, trained in one worker: every worker knows it from the very next request (a 404 lists it)
    known = each_worker(url, process, lambda c: c.post("/v1/models/nope/forecast", json=BODY).json()["detail"])
    assert all("'after-kill'" in detail for details in known.values() for detail in details), known


def test_sigterm_drains_every_worker(tmp_path):
    url, process = start_server(tmp_path / "store", env={"GRU_FORECAST_WORKERS": "2"})
    body = {"series": [{"values": CLOSES[i : i + 30]} for i in range(256)]}
    codes: list = []

    try:
        pids = both_serving(url, process)
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(forecast_until_closed, url, body, 20_000, codes, 60) for _ in range(6)]
            wait_for_200s(codes, 6)
            process.send_signal(signal.SIGTERM)
            for f in futures:
                f.result()
        assert process.wait(PATIENCE_S) in (0, -signal.SIGTERM)
    finally:
        stop_server(process)
    assert set(codes) <= {200, 503, "refused", "closed"}, set(codes)
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} outlived the server"
