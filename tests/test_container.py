"""The CPU image end to end: build, run with a volume and two workers, forecast (/v1, /v2, the chart),
the page, docs, train, restart, clean up."""

import shutil
import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx
import pytest

from model.datasets import DATASETS

pytestmark = [pytest.mark.container, pytest.mark.timeout(900)]
ROOT = Path(__file__).resolve().parents[1]


def docker(*args, check=True, timeout=600):
    return subprocess.run(["docker", *args], check=check, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def engine():
    if not shutil.which("docker") or docker("version", check=False, timeout=30).returncode != 0:
        pytest.skip("no container engine answers `docker version` (.ci/run sets one up)")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    raise AssertionError("container never became ready")


def test_image_serves_trains_and_keeps_models(engine):
    tag = f"gru-forecast-test:{uuid.uuid4().hex[:8]}"
    volume = f"gru-forecast-test-{uuid.uuid4().hex[:8]}"
    name = f"gru-forecast-test-{uuid.uuid4().hex[:8]}"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    try:
        docker("build", "-t", tag, str(ROOT), timeout=900)
        docker("run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:8000", "-v", f"{volume}:/data",
               "-e", "GRU_FORECAST_WORKERS=2", tag)
        wait_ready(url)
        assert docker("exec", name, "id", "-u").stdout.strip() != "0"  # not root
        # two worker processes answer, and /metrics counts both
        pids = {httpx.get(url + "/health/ready", timeout=5).json()["pid"] for _ in range(100)}
        assert len(pids) == 2, pids
        assert "gru_processes 2.0" in httpx.get(url + "/metrics").text
        stock = DATASETS["stock"].load()["close"].tolist()
        ecg = DATASETS["ecg"].load()["mv"].tolist()
        weather = DATASETS["weather"].load().iloc[-28:]
        bodies = {
            "stock": {"series": [{"values": stock[-30:]}]},
            "ecg": {"series": [{"values": ecg[:180]}]},
            "weather": {"series": [{"values": weather["temp_max"].tolist(), "timestamps": weather["date"].tolist(),
                                    "covariates": {c: weather[c].tolist() for c in ("temp_min", "precipitation",
                                                                                     "wind")}}]},
        }
        for model, body in bodies.items():
            r = httpx.post(f"{url}/v1/models/{model}/forecast", json=body, timeout=30)
            assert r.status_code == 200, (model, r.text)
        page = httpx.get(url + "/").text  # the page and its script come from the image itself
        assert 'data-model="stock"' in page and httpx.get(url + "/static/page.js").status_code == 200
        assert httpx.get(url + "/v1/models/stock/plot.svg").headers["content-type"].startswith("image/svg+xml")
        infer = httpx.post(url + "/v2/models/stock/infer", json={"inputs": [{
            "name": "INPUT", "shape": [1, 30, 1], "datatype": "FP32", "data": stock[-30:]}]}).json()
        assert {o["name"] for o in infer["outputs"]} >= {"FORECAST", "LOWER_80", "UPPER_95"}
        docs = httpx.get(url + "/docs").text
        assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs
        assert httpx.get(url + "/docs-assets/swagger-ui-bundle.js").status_code == 200
        frame = DATASETS["stock"].load().iloc[:300]
        job = httpx.post(url + "/v1/train", json={
            "name": "in-container", "data": {"close": frame["close"].tolist()},
            "options": {"targets": ["close"], "input_size": 16, "horizon": 2, "epochs": 1, "hidden_size": 4}}).json()
        deadline = time.monotonic() + 180
        while (status := httpx.get(f"{url}/v1/jobs/{job['id']}").json()["status"]) in ("queued", "running"):
            assert time.monotonic() < deadline
            time.sleep(0.5)
        assert status == "succeeded"
        docker("restart", name, timeout=120)
        wait_ready(url)
        models = {m["name"]: m for m in httpx.get(url + "/v1/models").json()}
        assert models["in-container"]["available"] and models["in-container"]["live_version"] == "v1"
        r = httpx.post(url + "/v1/models/in-container/forecast", json={"series": [{"values": stock[-16:]}]})
        assert r.status_code == 200
    finally:
        docker("rm", "-f", name, check=False)
        docker("volume", "rm", "-f", volume, check=False)
        docker("rmi", "-f", tag, check=False)
