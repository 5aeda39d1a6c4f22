import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest
from fastapi.testclient import TestClient

from model.cli import PRETRAINED
from service.app import create_app
from service.settings import Settings


@pytest.fixture
def make_client(tmp_path):
    """Start the real app (lifespan included) on a fresh store; returns (client, settings)."""

    def make(**overrides):
        settings = Settings(store=tmp_path / "store", **overrides)
        return TestClient(create_app(settings)), settings

    return make


@pytest.fixture
def client(make_client):
    c, _ = make_client()
    with c:
        yield c


def pretrained_names():
    return sorted(p.name for p in PRETRAINED.iterdir() if p.is_dir())


def copy_pretrained(store, name):
    shutil.copytree(PRETRAINED / name, store / name)


def wait_for_job(get, job_id, statuses=("succeeded", "failed", "cancelled"), timeout=120):
    """Poll GET /v1/jobs/{id} through get (a TestClient's or httpx's) until the job has one of statuses."""
    deadline = time.monotonic() + timeout
    while True:
        job = get(f"/v1/jobs/{job_id}").json()
        if job["status"] in statuses:
            return job
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} stayed {job['status']}")
        time.sleep(0.2)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(store, port=None, env=None, preexec_fn=None, log=None):
    """Start `gru-forecast serve` on store; returns (url, process) once it is ready."""
    port = port or free_port()
    # One worker unless asked: most tests are about one process; tests/service/test_workers.py runs several.
    env = {**os.environ, "GRU_FORECAST_STORE": str(store), "GRU_FORECAST_PORT": str(port),
           "GRU_FORECAST_WORKERS": "1", **(env or {})}
    log = open(log or f"{store}.log", "ab")  # a file, not a pipe: a full pipe would block the server
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, preexec_fn=preexec_fn)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                return url, process
        except httpx.HTTPError:
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"server did not start: {open(log.name).read()[-3000:]}")


def stop_server(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture
def server(tmp_path):
    url, process = start_server(tmp_path / "store")
    yield url, process
    stop_server(process)


@pytest.fixture
def driver():
    """Headless Chromium (Debian's chromium and chromium-driver) with its network log on."""
    if not (shutil.which("chromium") and shutil.which("chromedriver")):
        pytest.skip("Debian's chromium and chromium-driver are not installed (.ci/run installs them)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = shutil.which("chromium")
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--no-first-run", "--disable-quic", "--window-size=1280,1700"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    d = webdriver.Chrome(service=Service(shutil.which("chromedriver")), options=options)
    yield d
    d.quit()


def outside_requests(driver):
    """URLs the page asked for beyond the server itself (empty when it works offline); asserts some
    requests were seen at all, so an empty log cannot pass."""
    import json

    requested = set()
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            requested.add(message["params"]["request"]["url"])
    assert requested, "the browser logged no requests"
    return sorted(u for u in requested if not u.startswith(("http://127.0.0.1", "data:", "blob:", "about:")))


def forecast_until_closed(url, body, limit=2000, codes=None, timeout=30):
    """POST body to the stock model until the server refuses or closes the connection (at most limit
    requests); returns the status codes, then "refused" or "closed" (appended to codes as they come,
    when given: another thread may watch them)."""
    codes = [] if codes is None else codes
    with httpx.Client(timeout=timeout) as client:
        for _ in range(limit):
            try:
                codes.append(client.post(url + "/v1/models/stock/forecast", json=body).status_code)
            except httpx.ConnectError:
                codes.append("refused")
                break
            except httpx.TransportError:
                codes.append("closed")  # the idle keep-alive connection was closed under the next request
                break
    return codes
