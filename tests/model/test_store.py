"""The model store against a temporary directory: versions, LIVE, promotion, deletion, failed saves."""

import os
import re

import pytest

from model import store
from model.artifact import load_artifact
from model.datasets import PRETRAINED


@pytest.fixture(scope="module")
def artifact():
    return load_artifact(PRETRAINED / "stock" / "v1")  # built already: no training here


def test_names_and_versions_follow_the_one_pattern_each():
    for good in ("stock", "sf-temps", "A_1", "x" * 64):
        assert store.check_name(good) == good and re.fullmatch(store.NAME_REGEX, good)
    for bad in ("", "-x", "_x", "../x", "a/b", "x" * 65, "a.b", "é"):
        assert not store.NAME_PATTERN.match(bad) and not re.fullmatch(store.NAME_REGEX, bad)
        with pytest.raises(ValueError, match="invalid model name"):
            store.check_name(bad)
    for good in ("v1", "v10", "v999999999"):
        assert store.VERSION_PATTERN.match(good)
    for bad in ("v0", "v01", "1", "v", "v1000000000", "V1", "v1 "):
        assert not store.VERSION_PATTERN.match(bad)


def test_versions_number_up_and_only_the_first_goes_live(artifact, tmp_path):
    assert store.versions(tmp_path, "m") == [] and store.live_version(tmp_path, "m") is None
    assert [store.save_version(tmp_path, "m", artifact) for _ in range(3)] == ["v1", "v2", "v3"]
    assert artifact.manifest.version == "v3" and artifact.manifest.name == "m"
    assert store.live_version(tmp_path, "m") == "v1"
    (tmp_path / "m" / ".tmp-v4-half").mkdir()  # an interrupted save: never listed, cleaned at start-up
    (tmp_path / "m" / "v10").mkdir()
    assert store.versions(tmp_path, "m") == ["v1", "v2", "v3", "v10"]  # by number, not by text
    assert store.clean_temporary(tmp_path) == 1 and not (tmp_path / "m" / ".tmp-v4-half").exists()


def test_set_live_is_an_atomic_replace_of_an_existing_version(artifact, tmp_path):
    store.save_version(tmp_path, "m", artifact)
    store.save_version(tmp_path, "m", artifact)
    before = os.stat(tmp_path / "m" / store.LIVE).st_ino
    store.set_live(tmp_path, "m", "v2")
    assert store.live_version(tmp_path, "m") == "v2"
    assert os.stat(tmp_path / "m" / store.LIVE).st_ino != before  # a new file: readers see old or new
    with pytest.raises(FileNotFoundError, match="no version 'v9'"):
        store.set_live(tmp_path, "m", "v9")
    assert store.live_version(tmp_path, "m") == "v2"


def test_a_store_without_live_records_serves_the_first_version_and_writes_the_record(artifact, tmp_path):
    store.save_version(tmp_path, "m", artifact)
    store.save_version(tmp_path, "m", artifact)
    (tmp_path / "m" / store.LIVE).unlink()
    assert store.live_version(tmp_path, "m") == "v1"
    assert store.ensure_live(tmp_path, "m") == "v1" and (tmp_path / "m" / store.LIVE).read_text() == "v1\n"
    (tmp_path / "m" / store.LIVE).write_text("garbage\n")
    assert store.live_version(tmp_path, "m") is None  # a damaged record names nothing


def test_delete_refuses_the_live_version_and_removes_another_at_once(artifact, tmp_path):
    store.save_version(tmp_path, "m", artifact)
    store.save_version(tmp_path, "m", artifact)
    with pytest.raises(ValueError, match="v1 of 'm' is live"):
        store.delete_version(tmp_path, "m", "v1")
    store.delete_version(tmp_path, "m", "v2")
    assert store.versions(tmp_path, "m") == ["v1"] and not list((tmp_path / "m").glob(".tmp-*"))
    with pytest.raises(FileNotFoundError):
        store.delete_version(tmp_path, "m", "v2")


def test_a_failed_first_save_leaves_no_model_folder_and_a_later_one_keeps_the_others(artifact, tmp_path,
                                                                                      monkeypatch):
    import model.artifact as artifact_module

    def out_of_range(*args, **kwargs):
        raise ValueError("Out of range float values are not JSON compliant: inf")

    monkeypatch.setattr(artifact_module.json, "dump", out_of_range)
    with pytest.raises(ValueError, match="Out of range"):
        store.save_version(tmp_path, "m", artifact)
    assert not (tmp_path / "m").exists()  # no model that lists with no versions
    monkeypatch.undo()
    store.save_version(tmp_path, "m", artifact)
    monkeypatch.setattr(artifact_module.json, "dump", out_of_range)
    with pytest.raises(ValueError):
        store.save_version(tmp_path, "m", artifact)
    assert store.versions(tmp_path, "m") == ["v1"] and store.live_version(tmp_path, "m") == "v1"


def test_the_patterns_work_as_html_pattern_attributes_too():
    """A browser compiles <input pattern> as ^(?:...)$ with the v flag; an invalid one is silently ignored."""
    import shutil
    import subprocess

    if not shutil.which("node"):
        pytest.skip("node is not installed")
    script = ("for (const p of process.argv.slice(1)) { const r = new RegExp('^(?:' + p + ')$', 'v');"
              " console.log(r.test('sf-temps'), r.test('v12'), r.test('../x')) }")
    out = subprocess.run(["node", "-e", script, store.NAME_REGEX, store.VERSION_REGEX], capture_output=True,
                         text=True, check=True).stdout.split("\n")
    assert out[:2] == ["true true false", "false true false"]  # v12 is a fine name too
