"""One model version on disk: weights.safetensors (no pickle) + manifest.json, written atomically."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from dataclasses import dataclass
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

FORMAT_VERSION = 2
# Version 1 (the first landing): per-window scaling, a naive base and no linear skip, always.
READABLE = {1: {"scaling": "window", "base": "naive", "linear_skip": False}, 2: {}}
MANIFEST = "manifest.json"
WEIGHTS = "weights.safetensors"


class ArtifactError(RuntimeError):
    """A model version that cannot be loaded; the message says why."""


@dataclass
class Artifact:
    predictor: Predictor
    manifest: dict[str, Any]  # everything but the weights, JSON-ready

    @property
    def config(self) -> ModelConfig:
        return self.predictor.config


def fingerprint(values: np.ndarray) -> str:
    """sha256 of the training data as the network saw it (float32, C order)."""
    return hashlib.sha256(np.ascontiguousarray(values, dtype=np.float32).tobytes()).hexdigest()


def build_manifest(predictor: Predictor, **extra: Any) -> dict[str, Any]:
    config = predictor.config
    return {
        "format_version": FORMAT_VERSION,
        "task": config.task,
        "config": config.to_dict(),
        "input_size": config.input_size,
        "horizon": config.horizon,
        "targets": config.targets,
        "covariates": config.covariates,
        "frequency": config.frequency,
        "scaler": predictor.scaler,
        "interval_quantiles": {str(k): v.tolist() for k, v in predictor.quantiles.items()},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "library_versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "pandas": pd.__version__,
        },
        **extra,
    }


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
        manifest = dict(artifact.manifest)
        manifest["weights_sha256"] = hashlib.sha256((tmp / WEIGHTS).read_bytes()).hexdigest()
        with open(tmp / MANIFEST, "w") as out:
            json.dump(manifest, out, indent=2, allow_nan=False)  # NaN is not JSON: fail here, not on load
            out.flush()
            os.fsync(out.fileno())
        with open(tmp / WEIGHTS, "rb") as weights:
            os.fsync(weights.fileno())
        _fsync_dir(tmp)
        os.rename(tmp, path)  # atomic on one filesystem; fails if the version already exists
        _fsync_dir(path.parent)
        artifact.manifest = manifest
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


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
        config = ModelConfig.from_dict({**manifest["config"], **READABLE[manifest["format_version"]]})
        net = GRUNet(config)
        # safetensors holds raw tensors only: loading can never run code (no pickle).
        state = safetensors.torch.load(raw)
        net.load_state_dict(state)
        quantiles = {int(k): np.asarray(v, np.float32) for k, v in manifest.get("interval_quantiles", {}).items()}
        predictor = Predictor(config=config, net=net.eval(), scaler=manifest["scaler"], quantiles=quantiles)
    except (KeyError, TypeError, ValueError, RuntimeError, safetensors.SafetensorError) as exc:
        raise ArtifactError(f"{path}: cannot rebuild the model ({type(exc).__name__}: {exc})") from exc
    return Artifact(predictor=predictor.to(torch.device(device)), manifest=manifest)
