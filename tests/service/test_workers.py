"""Several worker processes on one store (`gru-forecast serve --workers 2`), correct together: versions
propagate to every worker, training jobs run once, /metrics adds up, a killed worker is replaced and
SIGTERM drains them all."""

import concurrent.futures
import os
import re
import signal
import subprocess
import threading
import time

import httpx
import pytest

from model.datasets import DATASETS
from tests.service.conftest import forecast_until_closed, start_server, stop_server, wait_for_job

CLOSES = DATASETS["stock"].load()["close"].tolist()
BODY = {"series": [{"values": CLOSES[:30]}]}
TINY = {"targets": ["close"], "input_size": 20, "horizon": 5, "hidden_size": 4, "epochs": 1}


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    root = tmp_path_factory.mktemp("workers")
    log = root / "server.log"
    url, process = start_server(root / "store", env={"GRU_FORECAST_WORKERS": "2"}, log=log)
    yield url, process, log
    stop_server(process)


def workers(process):
    """The worker pids of the supervisor (uvicorn's resource tracker excluded)."""
    out = subprocess.run(["ps", "-o", "pid=,args=", "--ppid", str(process.pid)], capture_output=True, text=True)
    return sorted(int(line.split()[0]) for line in out.stdout.splitlines() if "multiprocessing.spawn" in line)


def each_worker(url, do, tries=200):
    """Run do(client) on fresh connections until both workers answered; returns {pid: [results]}."""
    seen: dict[int, list] = {}
    for _ in range(tries):
        with httpx.Client(base_url=url, timeout=30) as client:  # one connection: one worker
            pid = client.get("/health/ready").json()["pid"]
            seen.setdefault(pid, []).append(do(client))
        if len(seen) == 2 and min(len(v) for v in seen.values()) >= 3:
            break
    assert len(seen) == 2, f"only {list(seen)} answered in {tries} connections"
    return seen


def leader_pids(log):
    return [int(pid) for pid in re.findall(r"this process \(pid (\d+)\) runs the training jobs", log.read_text())]


def test_both_workers_serve_and_metrics_add_up(two_workers):
    url, process, _ = two_workers
    assert len(workers(process)) == 2
    before = httpx.get(url + "/metrics").text
    count = re.search(r'gru_forecasts_total\{model="weather-type"\} (\S+)', before)
    start = float(count.group(1)) if count else 0.0
    body = {"series": [{"values": [], "timestamps": [f"2016-01-{d:02d}" for d in range(1, 15)],
                        "covariates": {k: [1.0] * 14 for k in ("precipitation", "temp_max", "temp_min", "wind")}}]}
    served = each_worker(url, lambda c: c.post("/v1/models/weather-type/classify", json=body).status_code)
    assert {code for codes in served.values() for code in codes} == {200}
    total = sum(len(codes) for codes in served.values())
    for _ in range(3):  # any worker may take the scrape: each answers with the sum of both
        metrics = httpx.get(url + "/metrics").text
        assert float(re.search(r'gru_forecasts_total\{model="weather-type"\} (\S+)', metrics).group(1)) \
            == start + total
        assert re.search(r"^gru_processes (\S+)", metrics, re.M).group(1) == "2.0"


def test_a_trained_and_promoted_version_is_what_every_worker_serves(two_workers):
    url, _, log = two_workers
    job = httpx.post(url + "/v1/train", json={"name": "stock", "data": {"close": CLOSES[:300]}, "options": TINY})
    assert job.status_code == 202
    done = wait_for_job(lambda path: httpx.get(url + path), job.json()["id"])
    assert done["status"] == "succeeded", done
    new = done["version"]
    assert new != "v1"
    # the job ran in one process: exactly one worker leads, and only its log line exists
    assert len(set(leader_pids(log))) == 1
    # promotion is only by request here (the model had a live version): every worker still serves v1
    versions = each_worker(url, lambda c: c.post("/v1/models/stock/forecast", json=BODY).json()["version"])
    assert {v for vs in versions.values() for v in vs} == {"v1"}

    assert httpx.post(url + "/v1/models/stock/promote", json={"version": new}).status_code == 200
    versions = each_worker(url, lambda c: c.post("/v1/models/stock/forecast", json=BODY).json()["version"])
    assert {v for vs in versions.values() for v in vs} == {new}  # from the very next request, in both

    assert httpx.post(url + "/v1/models/stock/promote", json={"version": "v1"}).status_code == 200  # rollback
    versions = each_worker(url, lambda c: c.post("/v1/models/stock/forecast", json=BODY).json()["version"])
    assert {v for vs in versions.values() for v in vs} == {"v1"}

    # a version pinned with ?version= in both workers, then deleted through one: gone in both
    pinned = each_worker(url, lambda c: c.post(f"/v1/models/stock/forecast?version={new}", json=BODY).status_code)
    assert {c for cs in pinned.values() for c in cs} == {200}
    assert httpx.delete(f"{url}/v1/models/stock/versions/{new}").status_code == 204
    pinned = each_worker(url, lambda c: c.post(f"/v1/models/stock/forecast?version={new}", json=BODY).status_code)
    assert {c for cs in pinned.values() for c in cs} == {404}


def test_a_killed_worker_is_replaced_and_jobs_keep_one_runner(two_workers):
    url, process, log = two_workers
    old = workers(process)
    leader = leader_pids(log)[-1]
    assert leader in old
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
            time.sleep(0.5)
            os.kill(leader, signal.SIGKILL)  # the worst case: the worker that runs the training jobs
            deadline = time.monotonic() + 120  # a busy CI machine: the replacement imports torch again
            while True:
                now = workers(process)
                if len(now) == 2 and leader not in now:
                    break
                assert time.monotonic() < deadline, f"no replacement: {now}"
                time.sleep(0.2)
            answered: set[int] = set()
            while answered != set(now):  # the new worker listens once its models are loaded
                assert time.monotonic() < deadline, f"only {answered} of {now} answered"
                with httpx.Client(timeout=30) as client:
                    answered.add(client.get(url + "/health/ready").json()["pid"])
        finally:
            stop.set()
        for f in futures:
            f.result()
    assert "hang" not in codes
    assert set(codes) <= {200, "closed"}, set(codes)
    assert codes.count(200) > 20
    # the surviving worker took over the jobs; a job submitted now runs once and succeeds
    assert leader_pids(log)[-1] != leader and leader_pids(log)[-1] in workers(process)
    job = httpx.post(url + "/v1/train", json={"name": "after-kill", "data": {"close": CLOSES[:300]},
                                              "options": TINY}).json()
    assert wait_for_job(lambda path: httpx.get(url + path), job["id"])["status"] == "succeeded"
    assert log.read_text().count(f"job {job['id']}: training after-kill started") == 1


def test_sigterm_drains_every_worker(tmp_path):
    url, process = start_server(tmp_path / "store", env={"GRU_FORECAST_WORKERS": "2"})
    pids = workers(process)
    body = {"series": [{"values": CLOSES[i : i + 30]} for i in range(256)]}

    try:
        with concurrent.futures.ThreadPoolExecutor(6) as pool:
            futures = [pool.submit(forecast_until_closed, url, body) for _ in range(6)]
            time.sleep(1)
            process.send_signal(signal.SIGTERM)
            codes = [c for f in futures for c in f.result()]
        assert process.wait(60) in (0, -signal.SIGTERM)
    finally:
        stop_server(process)
    assert codes.count(200) >= 6
    assert set(codes) <= {200, 503, "refused", "closed"}, set(codes)
    for pid in pids:
        assert not os.path.exists(f"/proc/{pid}"), f"worker {pid} outlived the server"
