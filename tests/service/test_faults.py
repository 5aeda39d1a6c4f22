"""Injected faults against the real server process: kills, a full disk, bad clients. Nothing is lost."""

import resource
import signal
import socket
import time

import httpx
import pytest

from model.datasets import DATASETS
from tests.service.conftest import start_server, stop_server, wait_for_job

pytestmark = pytest.mark.timeout(240)
FRAME = DATASETS["stock"].load().iloc[:300]
DATA = {"close": FRAME["close"].tolist()}
SMALL = {"targets": ["close"], "input_size": 16, "horizon": 2, "hidden_size": 4, "epochs": 1}
FORECAST = {"series": [{"values": DATA["close"][-16:]}]}


def train(url, name, options, timeout=120):
    job = httpx.post(url + "/v1/train", json={"name": name, "data": DATA, "options": options}).json()
    return wait(url, job["id"], ("succeeded", "failed", "cancelled"), timeout)


def wait(url, job_id, statuses, timeout=120):
    return wait_for_job(lambda path: httpx.get(url + path), job_id, statuses, timeout)


def test_kill_9_the_server_in_the_middle_of_a_training_job(tmp_path):
    store = tmp_path / "store"
    url, server = start_server(store)
    try:
        assert train(url, "m", SMALL)["status"] == "succeeded"
        slow = httpx.post(url + "/v1/train", json={"name": "m", "data": DATA, "options": {
            **SMALL, "hidden_size": 32, "epochs": 1000, "patience": 0}}).json()
        wait(url, slow["id"], ("running",))
        while httpx.get(f"{url}/v1/jobs/{slow['id']}").json()["epoch"] < 1:
            time.sleep(0.1)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        time.sleep(2)  # the orphaned worker notices its parent is gone and stops without publishing
        url, server = start_server(store)
        job = httpx.get(f"{url}/v1/jobs/{slow['id']}").json()
        assert job["status"] == "interrupted" and job["version"] is None
        card = httpx.get(url + "/v1/models/m").json()
        assert card["versions"] == ["v1"] and card["live_version"] == "v1"
        assert not [p for p in (store / "m").iterdir() if p.name.startswith(".tmp")]
        assert httpx.post(url + "/v1/models/m/forecast", json=FORECAST).status_code == 200
        assert httpx.post(url + "/v1/models/stock/forecast", json={"series": [{"values": DATA["close"][-30:]}]}
                          ).status_code == 200
        time.sleep(2)
        assert httpx.get(url + "/v1/models/m").json()["versions"] == ["v1"]  # nothing published late
    finally:
        stop_server(server)


def test_a_full_disk_while_saving_fails_the_job_and_keeps_the_live_version(tmp_path):
    store = tmp_path / "store"
    url, server = start_server(store)
    try:
        assert train(url, "m", SMALL)["status"] == "succeeded"
    finally:
        stop_server(server)

    def small_disk():  # files of the server and its workers may not grow past 1 MB
        resource.setrlimit(resource.RLIMIT_FSIZE, (1_000_000, 1_000_000))

    url, server = start_server(store, preexec_fn=small_disk, log=tmp_path / "server.log")
    try:
        big = train(url, "m", {**SMALL, "hidden_size": 400, "promote": True})  # ~2 MB of weights
        assert big["status"] == "failed" and "File too large" in big["error"], big["error"]
        card = httpx.get(url + "/v1/models/m").json()
        assert card["versions"] == ["v1"] and card["live_version"] == "v1"
        assert not [p for p in (store / "m").iterdir() if p.name.startswith(".tmp")]
        r = httpx.post(url + "/v1/models/m/forecast", json=FORECAST)
        assert r.status_code == 200 and r.json()["version"] == "v1"
    finally:
        stop_server(server)


def test_slow_and_vanishing_clients_leave_nothing_stuck(server):
    url, _ = server
    host, port = url.removeprefix("http://").split(":")
    body = b'{"series": [{"values": [' + b",".join(b"%d" % (100 + i) for i in range(30)) + b"]}]}"
    head = (f"POST /v1/models/stock/forecast HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()
    slow = socket.create_connection((host, int(port)))
    slow.sendall(head + body[:10])  # a client that sends its body very slowly
    vanished = []
    for _ in range(50):  # clients that send a whole request and leave before the answer
        s = socket.create_connection((host, int(port)))
        s.sendall(head + body)
        s.close()
        vanished.append(s)
    with httpx.Client() as client:
        started = time.monotonic()
        for _ in range(20):
            assert client.post(url + "/v1/models/stock/forecast", content=body,
                               headers={"content-type": "application/json"}).status_code == 200
        assert time.monotonic() - started < 5  # others unaffected by the slow one
        slow.sendall(body[10:20])
        slow.close()
        time.sleep(0.5)
        metrics = client.get(url + "/metrics").text
        assert 'gru_queue_depth{model="stock"} 0.0' in metrics
        assert client.post(url + "/v1/models/stock/forecast", content=body,
                           headers={"content-type": "application/json"}).status_code == 200
    assert server[1].poll() is None


def test_a_trickling_body_is_cut_off_after_the_read_timeout(tmp_path):
    """Slowloris: headers, then a few bytes and silence. 408 after GRU_FORECAST_BODY_TIMEOUT_S, and
    the server answers everyone else meanwhile."""
    url, server = start_server(tmp_path / "store", env={"GRU_FORECAST_BODY_TIMEOUT_S": "1"})
    try:
        host, port = url.removeprefix("http://").split(":")
        slow = socket.create_connection((host, int(port)))
        slow.sendall(b"POST /v1/models/stock/forecast HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     b"Content-Length: 1000\r\n\r\n{\"series\": [")
        started = time.monotonic()
        assert httpx.get(url + "/health/live", timeout=5).status_code == 200  # others are served meanwhile
        slow.settimeout(10)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = slow.recv(4096)
            if not chunk:
                break
            answer += chunk
        waited = time.monotonic() - started
        assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
        assert 0.8 < waited < 5
        slow.close()
    finally:
        stop_server(server)
