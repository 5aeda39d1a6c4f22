"""The model store on disk: <store>/<name>/<version>/ plus a LIVE file naming the version served."""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from model.artifact import Artifact, save_artifact

# The one definition of a model name and a version: the store, the API schemas, the routes and the page
# read these (the *_REGEX strings for pydantic's and HTML's pattern attributes). The - is escaped because
# browsers compile an HTML pattern with JavaScript's v flag, where a bare - in a class is a syntax error.
NAME_REGEX = r"^[A-Za-z0-9][A-Za-z0-9_\-]{0,63}$"
VERSION_REGEX = r"^v[1-9][0-9]{0,8}$"
NAME_PATTERN = re.compile(NAME_REGEX)
VERSION_PATTERN = re.compile(VERSION_REGEX)
LIVE = "LIVE"


def check_name(name: str) -> str:
    """Letters, digits, - and _ only: a name never becomes a path trick like ../."""
    if not NAME_PATTERN.match(name):
        raise ValueError(f"invalid model name {name!r}: use 1-64 letters, digits, - or _ (not first)")
    return name


def versions(store: Path, name: str) -> list[str]:
    """Complete versions, oldest first (temporary .tmp-* directories are never listed)."""
    folder = store / check_name(name)
    if not folder.is_dir():
        return []
    found = [p.name for p in folder.iterdir() if p.is_dir() and VERSION_PATTERN.match(p.name)]
    return sorted(found, key=lambda v: int(v[1:]))


def live_version(store: Path, name: str) -> str | None:
    """The version LIVE names. Without a LIVE file (a store from before LIVE was always written) the
    first version: a model's first version goes live, later ones only when promoted."""
    try:
        version = (store / check_name(name) / LIVE).read_text().strip()
    except FileNotFoundError:
        existing = versions(store, name)
        return existing[0] if existing else None
    return version if VERSION_PATTERN.match(version) else None


def ensure_live(store: Path, name: str) -> str | None:
    """Write the LIVE record a model lacks (every model has one, so every process agrees)."""
    version = live_version(store, name)
    if version is not None and not (store / name / LIVE).exists():
        set_live(store, name, version)
    return version


@contextmanager
def file_lock(path: Path) -> Iterator[None]:
    """An exclusive flock on path (created if missing), held for the block, across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def model_lock(store: Path, name: str) -> contextlib.AbstractContextManager[None]:
    """One writer of a model's LIVE record at a time, across processes (server workers, the CLI):
    a promotion and a deletion of the same version cannot interleave."""
    return file_lock(store / check_name(name) / ".lock")


def set_live(store: Path, name: str, version: str) -> None:
    """Atomically point LIVE at an existing version."""
    folder = store / check_name(name)
    with model_lock(store, name):
        if version not in versions(store, name):
            raise FileNotFoundError(f"model {name!r} has no version {version!r}")
        tmp = folder / f".{LIVE}.tmp"
        tmp.write_text(version + "\n")
        os.replace(tmp, folder / LIVE)


def save_version(store: Path, name: str, artifact: Artifact) -> str:
    """Save as the next version number; never overwrites one that exists."""
    folder = store / check_name(name)
    while True:
        existing = versions(store, name)
        version = f"v{int(existing[-1][1:]) + 1 if existing else 1}"
        artifact.manifest = replace(artifact.manifest, name=name, version=version)
        try:
            save_artifact(artifact, folder / version)
            ensure_live(store, name)  # the first version is live from the moment it exists
            return version
        except OSError as exc:
            if not (folder / version).exists():
                _remove_if_empty(folder)
                raise
            del exc  # a concurrent writer took this number: try the next
        except BaseException:
            _remove_if_empty(folder)
            raise


def _remove_if_empty(folder: Path) -> None:
    """A first save that failed leaves no empty model folder (it would list as a model with no versions)."""
    with contextlib.suppress(OSError):  # not empty: another version or writer is there
        folder.rmdir()


def delete_version(store: Path, name: str, version: str) -> None:
    with model_lock(store, name):
        if version == live_version(store, name):
            raise ValueError(f"version {version} of {name!r} is live: promote another version first")
        if version not in versions(store, name):
            raise FileNotFoundError(f"model {name!r} has no version {version!r}")
        target = store / name / version
        trash = store / name / f".tmp-delete-{version}"
        os.rename(target, trash)  # disappears at once; the removal may take its time
    shutil.rmtree(trash, ignore_errors=True)


def clean_temporary(store: Path) -> int:
    """Remove leftovers of interrupted saves; returns how many."""
    removed = 0
    if store.is_dir():
        for leftover in store.glob("*/.tmp-*"):
            shutil.rmtree(leftover, ignore_errors=True)
            removed += 1
    return removed


def delete_model(store: Path, name: str) -> None:
    """Remove a whole model (every version and LIVE) at once: one rename takes it out of the store,
    so a reader finds the whole model or nothing; the removal of the renamed folder may take its time.
    A crash between the two leaves only a hidden .tmp-delete-* folder, swept by the next delete."""
    folder = store / check_name(name)
    if not folder.is_dir():  # checked before the lock, which would create the folder
        raise FileNotFoundError(f"unknown model {name!r}")
    for leftover in store.glob(".tmp-delete-*"):  # from a delete that crashed before its rmtree
        shutil.rmtree(leftover, ignore_errors=True)
    with model_lock(store, name):  # no promotion or version delete of this model half-way meanwhile
        if not versions(store, name):
            raise FileNotFoundError(f"unknown model {name!r}")
        trash = store / f".tmp-delete-{name}-{os.urandom(4).hex()}"
        os.rename(folder, trash)
    shutil.rmtree(trash, ignore_errors=True)
