"""The registry against a temporary store, in one process: seeding, following the store, promote,
pinning, delete; and the one definition of the bundled list and of the name and version patterns."""

import shutil

from model import store
from model.datasets import BUNDLED, DATASETS, PRETRAINED
from service.app import create_app
from service.registry import seed_defaults
from service.settings import Settings


def test_the_bundled_models_are_the_datasets_and_only_they_are_seeded(tmp_path):
    assert BUNDLED == tuple(DATASETS)
    assert {p.name for p in PRETRAINED.iterdir() if p.is_dir()} == set(BUNDLED)
    source = tmp_path / "pretrained"
    shutil.copytree(PRETRAINED / "stock", source / "stock")
    shutil.copytree(PRETRAINED / "stock", source / "stray")  # a folder that is no bundled model
    assert seed_defaults(tmp_path / "store", source) == ["stock"]
    assert store.live_version(tmp_path / "store", "stock") == "v1"
    assert seed_defaults(tmp_path / "store", source) == []  # the store has it now


def _patterns(node, found):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "pattern" and isinstance(value, str):
                found.add(value)
            else:
                _patterns(value, found)
    elif isinstance(node, list):
        for value in node:
            _patterns(value, found)
    return found


def test_every_name_and_version_pattern_of_the_api_is_the_stores(tmp_path):
    schema = create_app(Settings(store=tmp_path / "store")).openapi()
    assert _patterns(schema, set()) == {store.NAME_REGEX, store.VERSION_REGEX}
    assert store.NAME_PATTERN.pattern == store.NAME_REGEX and store.VERSION_PATTERN.pattern == store.VERSION_REGEX
