"""Model registry: name -> live version with its batcher; load, swap, list; the store on disk."""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from model import store
from model.artifact import Artifact, ArtifactError, Manifest, load_artifact
from model.datasets import BUNDLED, PRETRAINED
from model.fit import choose_device
from model.predictor import Forecasts
from service.batcher import Batcher, Observer

log = logging.getLogger(__name__)


@dataclass
class ForecastItem:
    windows: np.ndarray  # (n, input_size, features), raw units: a block of one request's series
    levels: tuple[int, ...]  # interval levels wanted

    @property
    def size(self) -> int:
        return len(self.windows)


@dataclass
class LoadedModel:
    name: str
    version: str
    artifact: Artifact
    batcher: Batcher[Any, Any]

    @property
    def manifest(self) -> Manifest:
        return self.artifact.manifest


class UnknownModel(LookupError):
    pass


class ModelUnavailable(RuntimeError):
    pass


def seed_defaults(root: Path, source: Path = PRETRAINED, names: tuple[str, ...] = BUNDLED) -> list[str]:
    """Copy each bundled default into the store unless the store already has that name."""
    copied: list[str] = []
    for folder in (source / name for name in sorted(names)):
        if not folder.is_dir() or (root / folder.name).exists():
            continue  # a default not built yet (rebuild-defaults writes it) or already in the store
        staging = root / f".tmp-seed-{folder.name}"
        shutil.rmtree(staging, ignore_errors=True)
        shutil.copytree(folder, staging)
        (staging / store.LIVE).write_text("v1\n")  # a LIVE record like every other model's
        staging.rename(root / folder.name)
        copied.append(folder.name)
    return copied


@dataclass
class Registry:
    root: Path
    device: torch.device
    executor: ThreadPoolExecutor  # the one inference thread of this device
    batch_options: dict[str, Any]
    observe: Callable[[str], Observer] | None = None
    models: dict[str, LoadedModel] = field(default_factory=dict)
    pinned: dict[tuple[str, str], LoadedModel] = field(default_factory=dict)  # non-live versions asked for
    errors: dict[str, str] = field(default_factory=dict)  # name -> why it is unavailable
    stamps: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> LIVE's (inode, mtime) when read
    live_paths: dict[str, str] = field(default_factory=dict)  # name -> its LIVE file (the per-request stat)
    chunk: int = 0  # windows per forward pass, 0 = the device's best (model/predictor.py DEVICE_CHUNK)
    locks: dict[str, asyncio.Lock] = field(default_factory=dict)  # one load or promotion per model at a time
    catalog: tuple[tuple[str, int], ...] | None = None  # the store's model folders and mtimes when last followed
    follow_every_s: float = 0.5  # how often each worker looks for models added or removed by another process
    follower: asyncio.Task[None] | None = None

    @classmethod
    def create(cls, root: Path, device: str, torch_threads: int, chunk: int = 0, **batch_options: Any) -> Registry:
        def init_thread() -> None:
            torch.set_num_threads(torch_threads)

        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="inference", initializer=init_thread)
        return cls(root=root, device=choose_device(device), executor=executor, batch_options=batch_options,
                   chunk=chunk)

    def names(self) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir()
                      if p.is_dir() and store.NAME_PATTERN.match(p.name) and store.versions(self.root, p.name))

    async def load_all(self) -> None:
        for name in self.names():
            await self._load_live(name)
        self.catalog = self._catalog_stamp()
        if self.follower is None and self.follow_every_s > 0:
            self.follower = asyncio.get_running_loop().create_task(self._follow_loop())

    def known(self) -> list[str]:
        """The models this worker knows: serving, or unavailable with a reason."""
        return sorted(set(self.models) | set(self.errors))

    def _catalog_stamp(self) -> tuple[tuple[str, int], ...]:
        """Each model folder with its mtime: a new or deleted folder, version or LIVE record changes it."""
        try:
            with os.scandir(self.root) as entries:
                return tuple(sorted((e.name, e.stat().st_mtime_ns) for e in entries
                                    if store.NAME_PATTERN.match(e.name) and e.is_dir()))
        except OSError:
            return ()

    async def follow_catalog(self) -> None:
        """Serve every model the store has, and none it no longer has, whoever changed it: another
        worker's job, the CLI, a deletion. A directory scan, skipped while no model folder changed."""
        stamp = self._catalog_stamp()
        if stamp == self.catalog:
            return
        present = set(self.names())
        for name in sorted(present):
            await self.follow_store(name)  # a new model loads; a known one costs one stat
        for name in set(self.known()) - present:
            log.info("model %s: no longer in the store, not served", name)
            self.drop(name)
        self.catalog = stamp

    async def _follow_loop(self) -> None:
        while True:
            await asyncio.sleep(self.follow_every_s)
            try:
                await self.follow_catalog()
            except Exception:  # noqa: BLE001 - keep following; the log says why
                log.exception("following the model store failed")

    async def _load_live(self, name: str) -> None:
        """Serve what LIVE names (writing the record if the store lacks it)."""
        version = store.ensure_live(self.root, name)
        self._stamp(name)
        if version is None:
            return
        try:
            await self.swap(name, version)
        except ArtifactError as exc:
            self.errors[name] = str(exc)
            log.error("model %s unavailable: %s", name, exc)

    async def promote(self, name: str, version: str) -> LoadedModel:
        """The one way a version goes live: load it (ArtifactError if it cannot), write LIVE, swap in."""
        async with self._lock(name):
            loaded = await self._load(name, version)
            store.set_live(self.root, name, version)
            self._install(name, loaded)
            self._stamp(name)
            return loaded

    def _lock(self, name: str) -> asyncio.Lock:
        return self.locks.setdefault(name, asyncio.Lock())

    def _live_stamp(self, name: str) -> tuple[int, int] | None:
        path = self.live_paths.get(name) if name in self.models else None  # known names only: bounded
        if path is None:
            path = os.path.join(self.root, name, store.LIVE)
            if name in self.models:
                self.live_paths[name] = path
        try:
            stat = os.stat(path)
        except (OSError, ValueError):
            return None
        return stat.st_ino, stat.st_mtime_ns  # LIVE is replaced by a rename: a new inode at each write

    def _stamp(self, name: str) -> None:
        stamp = self._live_stamp(name)
        if stamp is not None:
            self.stamps[name] = stamp

    async def follow_store(self, name: str) -> None:
        """Serve what LIVE names from the next request on, whoever moved it: another worker, a training
        job, the CLI. One stat of the LIVE file per request (about a microsecond); it is re-read and
        the version it names loaded only when the file changed."""
        if not store.NAME_PATTERN.match(name):
            return
        stamp = self._live_stamp(name)
        if stamp is None:  # no LIVE record: a model copied in by hand, or from an older store
            if name not in self.models and name not in self.errors and store.versions(self.root, name):
                async with self._lock(name):
                    if name not in self.models:
                        await self._load_live(name)  # writes the record, so this happens once
            return
        if self.stamps.get(name) == stamp:
            return
        async with self._lock(name):
            if self.stamps.get(name) == stamp:
                return
            version = store.live_version(self.root, name)
            current = self.models.get(name)
            if version is not None and (current is None or current.version != version):
                log.info("model %s: serving %s, as LIVE in the store now says", name, version)
                await self._load_live(name)
            self.stamps[name] = stamp

    def forget(self, name: str, version: str) -> None:
        """A deleted version: stop serving it on request (other workers notice on their next request)."""
        loaded = self.pinned.pop((name, version), None)
        if loaded is not None:
            asyncio.get_running_loop().create_task(loaded.batcher.close())

    def get(self, name: str) -> LoadedModel:
        if name in self.models:
            return self.models[name]
        if name in self.errors:
            raise ModelUnavailable(f"model {name!r} is unavailable: {self.errors[name]}")
        raise UnknownModel(f"unknown model {name!r}; known: {self.known()}")

    async def get_version(self, name: str, version: str | None) -> LoadedModel:
        """The live version, or another one loaded on demand (a few are kept, oldest dropped first)."""
        await self.follow_store(name)
        if name not in self.models and name not in self.errors:
            await self.follow_catalog()  # a 404 names what the store has now, in every worker
        live = self.get(name)
        if version is None or version == live.version:
            return live
        if (name, version) in self.pinned:
            if (self.root / name / version).is_dir():
                return self.pinned[(name, version)]
            self.forget(name, version)  # deleted by another process
        if version not in store.versions(self.root, name):
            raise UnknownModel(f"model {name!r} has no version {version!r}")
        loaded = await self._load(name, version)
        self.pinned[(name, version)] = loaded
        while len(self.pinned) > 8:
            oldest = self.pinned.pop(next(iter(self.pinned)))
            asyncio.get_running_loop().create_task(oldest.batcher.close())
        return loaded

    def _make_batcher(self, artifact: Artifact) -> Batcher[Any, Any]:
        predictor = artifact.predictor
        loop = asyncio.get_running_loop()

        def forecast(items: list[ForecastItem]) -> list[Forecasts]:
            # Every block of every request in one forward pass, then split back, block by block.
            levels = tuple(sorted({level for item in items for level in item.levels}))
            windows = np.concatenate([item.windows for item in items]) if len(items) > 1 else items[0].windows
            return predictor.predict(windows, levels).split([item.size for item in items])

        def classify(items: list[ForecastItem]) -> list[np.ndarray]:
            windows = np.concatenate([item.windows for item in items])
            return np.split(predictor.classify(windows), np.cumsum([item.size for item in items])[:-1])

        function: Callable[[list[Any]], Sequence[Any]] = classify if artifact.config.task == "classify" else forecast

        async def run(items: list[Any]) -> Sequence[Any]:
            return await loop.run_in_executor(self.executor, function, items)

        name = artifact.manifest.name or ""
        return Batcher(run, observe=self.observe(name) if self.observe else None, weight=lambda item: item.size,
                       **self.batch_options)

    async def _load(self, name: str, version: str) -> LoadedModel:
        path = self.root / store.check_name(name) / version
        loop = asyncio.get_running_loop()
        artifact = await loop.run_in_executor(None, load_artifact, path, self.device)
        artifact.predictor.chunk = self.chunk
        artifact.manifest.name = artifact.manifest.name or name
        return LoadedModel(name, version, artifact, self._make_batcher(artifact))

    async def swap(self, name: str, version: str) -> LoadedModel:
        """Load a version and serve it (LIVE is not touched: promote() is the way to go live)."""
        loaded = await self._load(name, version)
        self._install(name, loaded)
        return loaded

    def _install(self, name: str, loaded: LoadedModel) -> None:
        """Serve loaded from the next request on; the previous version finishes what it has queued."""
        previous = self.models.get(name)
        self.models[name] = loaded
        self.errors.pop(name, None)
        if previous is not None:
            asyncio.get_running_loop().create_task(previous.batcher.close())

    async def close(self) -> None:
        if self.follower is not None:
            self.follower.cancel()
        await asyncio.gather(*(m.batcher.close() for m in [*self.models.values(), *self.pinned.values()]))
        self.executor.shutdown(wait=True)

    async def delete_model(self, name: str) -> None:
        """Delete a whole model from the store (FileNotFoundError if it has no version) and forget it."""
        async with self._lock(name):  # no load of this model by this worker half-way through
            await asyncio.get_running_loop().run_in_executor(None, store.delete_model, self.root, name)
            self.drop(name)

    def drop(self, name: str) -> None:
        """Forget a model that left the store: live and pinned versions stop, their batchers finish
        what they have queued. Other workers do the same on their next follow_catalog."""
        loaded = [self.models.pop(name, None), *(self.pinned.pop(key) for key in
                                                  [k for k in self.pinned if k[0] == name])]
        for model in loaded:
            if model is not None:
                asyncio.get_running_loop().create_task(model.batcher.close())
        for table in (self.errors, self.stamps, self.live_paths):
            table.pop(name, None)
