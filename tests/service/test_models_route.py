"""Model management routes: DELETE /v1/models/{name} (a whole model), and the list following the store."""

import os
import shutil

import pytest

from model import store
from service.job_state import JobState
from service.registry import Registry
from tests.service.conftest import copy_pretrained
from tests.service.test_api import stock_body


def two_versions(root, name="stock"):
    """A second version of a seeded default, as a training job would add."""
    shutil.copytree(root / name / "v1", root / name / "v2")


def test_deleting_a_model_removes_every_version_and_live_at_once(client):
    registry: Registry = client.app.state.registry
    root = registry.root
    two_versions(root)
    assert client.post("/v1/models/stock/promote", json={"version": "v2"}).status_code == 200
    batcher = registry.models["stock"].batcher
    assert client.post("/v1/models/stock/forecast", json=stock_body()).status_code == 200

    response = client.delete("/v1/models/stock")
    assert response.status_code == 204, response.text
    assert not (root / "stock").exists()
    assert [p.name for p in root.iterdir() if p.name.startswith(".tmp")] == []  # nothing left behind
    assert "stock" not in registry.models and "stock" not in registry.stamps and batcher._closed
    assert client.get("/v1/models/stock").status_code == 404
    assert client.post("/v1/models/stock/forecast", json=stock_body()).status_code == 404
    assert "stock" not in [m["name"] for m in client.get("/v1/models").json()]
    assert client.delete("/v1/models/stock").status_code == 404


@pytest.mark.parametrize("name", ["nothing-here", ".tmp-x", "jobs.sqlite3"])
def test_deleting_an_unknown_model_is_a_404(client, name):
    root = client.app.state.registry.root
    before = sorted(p.name for p in root.iterdir() if p.is_dir())
    assert client.delete(f"/v1/models/{name}").status_code == 404
    assert sorted(p.name for p in root.iterdir() if p.is_dir()) == before


def test_deleting_a_model_needs_the_api_key(make_client):
    c, settings = make_client(api_key="sesame")
    with c:
        assert c.delete("/v1/models/stock").status_code == 401
        assert (settings.store / "stock" / "v1").is_dir()
        assert c.delete("/v1/models/stock", headers={"X-API-Key": "sesame"}).status_code == 204


def test_a_model_with_a_job_queued_or_running_is_not_deleted(client):
    client.portal.call(client.app.state.runner.stop)  # the job stays as it is put below
    jobs = client.app.state.jobs
    job_id = jobs.create("stock", {"name": "stock", "options": {}}, 1)
    response = client.delete("/v1/models/stock")
    assert response.status_code == 409 and job_id in response.json()["detail"] and "cancel" in response.json()["detail"]
    jobs.move(job_id, JobState.RUNNING)
    assert client.delete("/v1/models/stock").status_code == 409
    jobs.move(job_id, JobState.FAILED)
    assert client.delete("/v1/models/stock").status_code == 204


def test_a_model_deleted_by_another_worker_leaves_the_list(client):
    registry: Registry = client.app.state.registry
    assert "weather" in registry.models
    store.delete_model(registry.root, "weather")  # another worker's DELETE: this registry still holds it
    assert "weather" not in [m["name"] for m in client.get("/v1/models").json()]
    assert "weather" not in registry.models


def test_store_delete_model_is_one_rename_and_a_crash_leaves_only_a_hidden_folder(tmp_path, monkeypatch):
    root = tmp_path / "store"
    copy_pretrained(root, "stock")
    store.ensure_live(root, "stock")
    two_versions(root)

    def crash(path, ignore_errors=False):
        raise KeyboardInterrupt  # the process dies after the rename, before the removal

    monkeypatch.setattr(shutil, "rmtree", crash)
    with pytest.raises(KeyboardInterrupt):
        store.delete_model(root, "stock")
    monkeypatch.undo()
    assert store.versions(root, "stock") == [] and store.live_version(root, "stock") is None
    leftovers = [p.name for p in root.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".tmp-delete-stock-")
    assert not store.NAME_PATTERN.match(leftovers[0])  # never listed as a model

    copy_pretrained(root, "stock")
    (root / "stock").rename(root / "other")
    store.delete_model(root, "other")  # the next delete sweeps what the crashed one left
    assert list(root.iterdir()) == []
    with pytest.raises(FileNotFoundError):
        store.delete_model(root, "other")
    assert list(root.iterdir()) == []  # an unknown name creates no folder (nor a lock file)


def test_the_model_leaves_the_store_whole_before_any_file_is_removed(tmp_path, monkeypatch):
    root = tmp_path / "store"
    copy_pretrained(root, "stock")
    shutil.copytree(root / "stock" / "v1", root / "stock" / "v2")
    store.set_live(root, "stock", "v2")
    whole = sorted(os.listdir(root / "stock"))
    removed, rmtree = [], shutil.rmtree

    def watched(path, ignore_errors=False):  # the store as any reader sees it when the removal starts
        assert not (root / "stock").exists() and store.versions(root, "stock") == []
        assert store.live_version(root, "stock") is None
        removed.append(sorted(os.listdir(path)))
        rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(shutil, "rmtree", watched)
    store.delete_model(root, "stock")
    assert removed == [whole]  # the whole model, moved aside in one rename, is what gets removed
