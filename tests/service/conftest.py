import shutil

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
