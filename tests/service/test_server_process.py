"""The real server process on a free port: concurrent clients form batches of more than one."""

import concurrent.futures
import re
import signal
import time

import httpx

from model.datasets import DATASETS
from tests.service.conftest import forecast_until_closed

CLOSES = DATASETS["stock"].load()["close"].tolist()


def test_concurrent_requests_are_batched(server):
    url, _ = server

    def one(i):
        with httpx.Client(timeout=30) as client:
            results = []
            for j in range(10):
                body = {"series": [{"values": CLOSES[i * 10 + j : i * 10 + j + 30]}]}
                results.append(client.post(url + "/v1/models/stock/forecast", json=body).status_code)
            return results

    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        codes = [c for r in pool.map(one, range(32)) for c in r]
    assert codes == [200] * 320
    metrics = httpx.get(url + "/metrics").text
    count = float(re.search(r'gru_batch_size_count\{model="stock"\} (\S+)', metrics).group(1))
    total = float(re.search(r'gru_batch_size_sum\{model="stock"\} (\S+)', metrics).group(1))
    assert total == 320
    assert count < 320  # fewer forward passes than requests: batches of more than one formed
    assert 'gru_batch_size_bucket{le="1.0",model="stock"}' in metrics


def test_sigterm_finishes_in_flight_requests(server):
    url, process = server
    body = {"series": [{"values": CLOSES[i : i + 30]} for i in range(256)]}

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(forecast_until_closed, url, body) for _ in range(4)]
        time.sleep(0.5)
        process.send_signal(signal.SIGTERM)
        codes = [c for f in futures for c in f.result()]
    assert codes.count(200) >= 4
    assert set(codes) <= {200, 503, "refused", "closed"}, set(codes)
    # uvicorn re-raises the signal after its graceful shutdown: -SIGTERM is a clean exit here
    assert process.wait(30) in (0, -signal.SIGTERM)


def test_swapping_versions_under_load_fails_no_request(server):
    url, _ = server
    data = {"close": CLOSES[:300]}
    options = {"targets": ["close"], "input_size": 20, "horizon": 5, "hidden_size": 4, "epochs": 1}
    job = httpx.post(url + "/v1/train", json={"name": "stock", "data": data, "options": options}).json()
    deadline = time.monotonic() + 60
    while httpx.get(f"{url}/v1/jobs/{job['id']}").json()["status"] != "succeeded":
        assert time.monotonic() < deadline
        time.sleep(0.2)
    stop = time.monotonic() + 3
    body = {"series": [{"values": CLOSES[i : i + 40]} for i in range(8)]}

    def client_loop():
        codes = []
        with httpx.Client(timeout=30) as client:
            while time.monotonic() < stop:
                codes.append(client.post(url + "/v1/models/stock/forecast", json=body).status_code)
        return codes

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        futures = [pool.submit(client_loop) for _ in range(6)]
        swaps = 0
        while time.monotonic() < stop:
            version = "v2" if swaps % 2 == 0 else "v1"
            assert httpx.post(url + "/v1/models/stock/promote", json={"version": version}).status_code == 200
            swaps += 1
        codes = [c for f in futures for c in f.result()]
    assert swaps > 5 and codes and set(codes) == {200}


def test_ctrl_c_during_a_training_job_prints_no_traceback(tmp_path):
    """Ctrl-C reaches the whole process group (server and training worker): a clean stop, no traceback."""
    import math
    import os

    from tests.service.conftest import start_server

    log = tmp_path / "server.log"
    url, process = start_server(tmp_path / "store", preexec_fn=os.setsid, log=log)
    try:
        data = {"v": [math.sin(i / 7) for i in range(3000)]}
        job = httpx.post(url + "/v1/train", json={"name": "ctrl-c", "data": data,
                                                  "options": {"targets": ["v"], "input_size": 64, "horizon": 8}})
        assert job.status_code == 202
        deadline = time.monotonic() + 30
        while httpx.get(f"{url}/v1/jobs/{job.json()['id']}").json()["status"] != "running":
            assert time.monotonic() < deadline
            time.sleep(0.2)
        time.sleep(1)  # the worker is inside training now
        os.killpg(process.pid, signal.SIGINT)
        process.wait(30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    text = log.read_text()
    assert "started (worker pid" in text and "Traceback" not in text and "KeyboardInterrupt" not in text
