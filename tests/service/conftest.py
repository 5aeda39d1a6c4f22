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


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {**os.environ, "GRU_FORECAST_STORE": str(tmp_path / "store"), "GRU_FORECAST_PORT": str(port)}
    process = subprocess.Popen([sys.executable, "-m", "service.cli", "serve"], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + "/health/ready", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            time.sleep(0.2)
    else:
        process.kill()
        pytest.fail(process.stdout.read().decode())
    yield url, process
    process.send_signal(signal.SIGTERM)
    process.wait(30)
