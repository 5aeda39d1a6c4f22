"""One model version on disk: weights.safetensors (no pickle) + manifest.json (+ a panel model's
tails.parquet, model/tails.py), written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import safetensors
import safetensors.torch
import torch

from model.config import ModelConfig
from model.network import GRUNet
from model.predictor import Predictor
from model.tails import TAILS, Tails, write_tails

FORMAT_VERSION = 2
# Version 1 (the first landing): per-window scaling, a naive base and no linear skip, always.
READABLE = {1: {"scaling": "window", "base": "naive", "linear_skip": False}, 2: {}}
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"


class ArtifactError(RuntimeError):
    """A model version that cannot be loaded; the message says why."""


@dataclass
class Manifest:
    """Everything about a version but its weights: the one definition, read and written only here."""

    config: dict[str, Any]  # ModelConfig.to_dict(), as resolved by training (season, scaling, base)
    scaler: dict[str, Any]  # model/scaling.py's fitted values
    metrics: dict[str, Any]  # test part: model beside naive / seasonal naive (or majority), coverage
    train_config: dict[str, Any] = field(default_factory=dict)  # TrainConfig.to_dict()
    interval_quantiles: dict[str, list[Any]] = field(default_factory=dict)  # level -> (H, T) in volatility units
    interval_exponent: float = 1.0  # half-width = quantile * volatility ** this (model/predictor.py)
    interval_lag: int | None = None  # the lag of the volatility widths follow (None: the base's)
    interval_floor: list[float] | None = None  # the least volatility, at that lag (None: the scaler's)
    training_spread: list[float] | None = None  # per feature, the widest training window (None: no guard)
    epochs_run: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)  # per epoch: train_loss, val_loss, seconds
    data_fingerprint: str = ""  # sha256 of the training data as float32
    rows: int = 0
    mase_scale: list[float] | None = None  # forecasters: one-step naive error per target on the training part
    class_prior: list[float] | None = None  # classifiers: class shares in the training part
    choice: dict[str, Any] | None = None  # what "auto" chose: scaling, base, ridge penalty, season and its source
    validation: dict[str, Any] | None = None  # validation MASE of the start candidates, the race, the result
    # A panel model's series: how many were used, which were refused and why, its parts (model/panel_train.py).
    panel: dict[str, Any] | None = None
    name: str | None = None
    version: str | None = None
    description: str | None = None
    source: str | None = None
    weights_sha256: str | None = None
    created: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))
    library_versions: dict[str, str] = field(default_factory=lambda: {
        "python": platform.python_version(), "torch": torch.__version__, "numpy": np.__version__,
        "pandas": pd.__version__})
    format_version: int = FORMAT_VERSION

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready, with the config's headline fields repeated at the top for people reading the file."""
        config = self.config
        headline = {k: config.get(k) for k in ("task", "input_size", "horizon", "targets", "covariates", "frequency")}
        return {"format_version": self.format_version, **headline,
                **{k: v for k, v in asdict(self).items() if k != "format_version"}}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> Manifest:
        """Known fields only (a newer file's extra keys are ignored); format 1 gets its implied config."""
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        known["config"] = {**values["config"], **READABLE.get(values.get("format_version", FORMAT_VERSION), {})}
        return cls(**known)


@dataclass
class Artifact:
    predictor: Predictor
    manifest: Manifest
    # A panel model's series tails (model/tails.py tails_frame): training sets this frame. A loaded version
    # leaves it None and series_tails() reads its tails.parquet on demand, so a panel loads fast.
    tails: pd.DataFrame | None = None
    path: Path | None = None  # the version's folder, once saved or loaded
    _reader: Tails | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def config(self) -> ModelConfig:
        return self.predictor.config

    def tails_file(self) -> Path | None:
        """The saved tails.parquet, where this version has one."""
        found = self.path / TAILS if self.path is not None else None
        return found if found is not None and found.is_file() else None

    def series_tails(self) -> Tails | None:
        """The tails to read by series id (the frame in memory, else the file), or None: not a panel
        model, or a version saved before panel models kept their tails."""
        if self.config.id_column is None:
            return None
        if self.tails is not None:
            if self._reader is None or self._reader.memory is not self.tails:
                self._reader = Tails(self.config, frame=self.tails)
        elif self._reader is None:
            file = self.tails_file()
            self._reader = Tails(self.config, path=file) if file is not None else None
        return self._reader


def _floats(values: list[Any] | None) -> list[float] | None:
    return None if values is None else [float(v) for v in values]


def _lag(value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"interval_lag must be a whole number of steps, 1 or more, not {value!r}")
    return value


def fingerprint(values: np.ndarray) -> str:
    """sha256 of the training data as the network saw it (float32, C order)."""
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float32).tobytes()).hexdigest()


def build_manifest(predictor: Predictor, **fields: Any) -> Manifest:
    """The manifest of a freshly trained predictor; fields are Manifest's (metrics, history, ...)."""
    return Manifest(config=predictor.config.to_dict(), scaler=predictor.scaler,
                    interval_quantiles={str(k): v.tolist() for k, v in predictor.quantiles.items()},
                    interval_exponent=predictor.exponent, interval_lag=predictor.interval_lag,
                    interval_floor=predictor.floor,
                    training_spread=predictor.spread, **fields)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def save_artifact(artifact: Artifact, path: Path) -> None:
    """Write to a temporary sibling directory, fsync, then rename: a crash leaves no half version."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{path.name}-", dir=path.parent))
    try:
        state = {k: v.detach().cpu().contiguous() for k, v in artifact.predictor.net.state_dict().items()}
        safetensors.torch.save_file(state, str(tmp / WEIGHTS))
        manifest = replace(artifact.manifest, weights_sha256=hashlib.sha256((tmp / WEIGHTS).read_bytes()).hexdigest())
        with open(tmp / MANIFEST, "w") as out:
            json.dump(manifest.to_dict(), out, indent=2, allow_nan=False)  # NaN is not JSON: fail here, not on load
            out.flush()
            os.fsync(out.fileno())
        with open(tmp / WEIGHTS, "rb") as weights:
            os.fsync(weights.fileno())
        _save_tails(artifact, tmp / TAILS)
        _fsync_dir(tmp)
        os.rename(tmp, path)  # atomic on one filesystem; fails if the version already exists
        _fsync_dir(path.parent)
        artifact.manifest, artifact.path = manifest, path
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _save_tails(artifact: Artifact, target: Path) -> None:
    """The frame in memory, else the file of the version this artifact was loaded from (a copy keeps it)."""
    if artifact.tails is not None:
        write_tails(artifact.tails, target, artifact.config)
        return
    source = artifact.tails_file()
    if source is not None:
        shutil.copyfile(source, target)
        with open(target, "rb") as copied:
            os.fsync(copied.fileno())


def load_artifact(path: Path, device: torch.device | str = "cpu") -> Artifact:
    """Load a version on any device, whatever it was trained on; every failure is an ArtifactError."""
    path = Path(path)
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path}: no {MANIFEST}") from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ArtifactError(f"{path}: {MANIFEST} is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict) or manifest.get("format_version") not in READABLE:
        found = manifest.get("format_version") if isinstance(manifest, dict) else None
        raise ArtifactError(f"{path}: unknown format version {found!r}; this build reads {sorted(READABLE)}")
    weights_path = path / WEIGHTS
    try:
        raw = weights_path.read_bytes()
    except FileNotFoundError as exc:
        raise ArtifactError(f"{path}: no {WEIGHTS}") from exc
    if hashlib.sha256(raw).hexdigest() != manifest.get("weights_sha256"):
        raise ArtifactError(f"{path}: {WEIGHTS} does not match the checksum in the manifest (tampered or truncated)")
    try:
        typed = Manifest.from_dict(manifest)
        config = ModelConfig.from_dict({"calendar": "none", **typed.config})  # saved before calendar inputs: none
        net = GRUNet(config)
        # safetensors holds raw tensors only: loading can never run code (no pickle).
        state = safetensors.torch.load(raw)
        net.load_state_dict(state)
        quantiles = {int(k): np.asarray(v, np.float32) for k, v in typed.interval_quantiles.items()}
        predictor = Predictor(config=config, net=net.eval(), scaler=typed.scaler, quantiles=quantiles,
                              exponent=float(typed.interval_exponent), interval_lag=_lag(typed.interval_lag),
                              floor=_floats(typed.interval_floor), spread=_floats(typed.training_spread))
    except (KeyError, TypeError, ValueError, RuntimeError, safetensors.SafetensorError) as exc:
        raise ArtifactError(f"{path}: cannot rebuild the model ({type(exc).__name__}: {exc})") from exc
    return Artifact(predictor=predictor.to(torch.device(device)), manifest=typed, path=path)
