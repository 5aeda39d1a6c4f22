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


# Two registries on one store are two server workers: what one (or a job, or the CLI) writes, the other serves.
def _registry(root, follow_every_s=0.0):
    from service.registry import Registry

    registry = Registry.create(root, "cpu", 1, max_batch_size=8, max_wait_s=0.0, queue_limit=64)
    registry.follow_every_s = follow_every_s
    return registry


def _add_version(root, name, version):
    shutil.copytree(PRETRAINED / "stock" / "v1", root / name / f".tmp-{version}")
    (root / name / f".tmp-{version}").rename(root / name / version)  # as store.save_version: whole or absent


def _window():
    import numpy as np

    from service.registry import ForecastItem

    closes = DATASETS["stock"].load()["close"].to_numpy(np.float32)[-30:]
    return [ForecastItem(closes[None, :, None], ())]


def test_a_model_another_worker_added_or_deleted_is_known_at_once_in_every_worker(tmp_path):
    import asyncio

    import pytest

    from service.registry import UnknownModel

    async def scenario():
        one, two = _registry(tmp_path), _registry(tmp_path)
        _add_version(tmp_path, "stock", "v1")
        await one.load_all()
        await two.load_all()
        assert one.known() == two.known() == ["stock"]
        _add_version(tmp_path, "fresh", "v1")  # trained by a job in another worker
        store.ensure_live(tmp_path, "fresh")
        await two.follow_catalog()  # what the list, the page and every 404 do first
        assert two.known() == ["fresh", "stock"] and two.models["fresh"].version == "v1"
        with pytest.raises(UnknownModel, match=r"known: \['fresh', 'stock'\]"):
            await one.get_version("nope", None)  # the 404's list is the store's, in the worker that never saw it
        assert (await one.get_version("fresh", None)).version == "v1"
        shutil.rmtree(tmp_path / "fresh")  # deleted through another worker
        await two.follow_catalog()
        with pytest.raises(UnknownModel, match=r"known: \['stock'\]"):
            await two.get_version("fresh", None)
        await one.follow_catalog()
        assert one.known() == ["stock"]
        await one.close()
        await two.close()

    asyncio.run(scenario())


def test_each_worker_follows_the_store_by_itself_without_a_request(tmp_path):
    import asyncio

    async def scenario():
        registry = _registry(tmp_path, follow_every_s=0.05)
        await registry.load_all()
        assert registry.known() == []
        _add_version(tmp_path, "later", "v1")
        for _ in range(200):  # the page and the metrics read registry.models: it fills on its own
            if "later" in registry.models:
                break
            await asyncio.sleep(0.05)
        assert registry.models["later"].version == "v1"
        await registry.close()

    asyncio.run(scenario())


def test_promote_pin_and_delete_follow_the_store_across_workers(tmp_path):
    import asyncio

    import pytest

    from service.registry import UnknownModel

    async def scenario():
        one, two = _registry(tmp_path), _registry(tmp_path)
        _add_version(tmp_path, "m", "v1")
        _add_version(tmp_path, "m", "v2")
        await one.load_all()
        await two.load_all()
        assert one.models["m"].version == two.models["m"].version == "v1"  # no LIVE yet: the first version
        await one.promote("m", "v2")
        assert store.live_version(tmp_path, "m") == "v2"
        assert (await two.get_version("m", None)).version == "v2"  # the next request in the other worker
        pinned = await two.get_version("m", "v1")  # a version that is not live, on demand
        assert pinned.version == "v1" and ("m", "v1") in two.pinned
        loaded, results = pinned, await pinned.batcher.submit(_window())
        assert results[0].mean.shape == (1, 5, 1)
        store.delete_version(tmp_path, "m", "v1")  # through the first worker
        one.forget("m", "v1")
        with pytest.raises(UnknownModel, match="no version 'v1'"):
            await two.get_version("m", "v1")  # the other drops its pinned copy on its next request
        assert ("m", "v1") not in two.pinned and loaded.version == "v1"
        with pytest.raises(UnknownModel, match="no version 'v7'"):
            await one.get_version("m", "v7")
        await one.close()
        await two.close()

    asyncio.run(scenario())
