"""The GPU half of the checks (run on the GPU machine, see ../shared/gpu/README.md):

    source .gpu/env.sh && bash benchmarks/gpu_check.sh

1. the bundled defaults forecast the same on CUDA as on the CPU (largest difference, relative);
2. training the ECG default (input 180, horizon 18) and the 360/36 variant with default options on
   CUDA: seconds, epochs, validation and test MASE beside naive (compare with `gru-forecast
   backtest --dataset ecg` on the CPU);
3. raw forecasts/s of the sf-temps default on CUDA at batch 256 and 4,096.
"""

from __future__ import annotations

import time

import numpy as np
import torch

from model.artifact import load_artifact
from model.cli import PRETRAINED
from model.config import ModelConfig, TrainConfig
from model.datasets import DATASETS
from model.evaluate import forecast_windows
from model.train import train
from model.windows import prepare_series

# Runs here too (CPU against CPU) so the script is tried before it travels.
DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
torch.set_num_threads(1)  # one intra-op thread: OpenMP spinning stalls on a busy machine (LESSONS.md)


def same_forecasts() -> None:
    for name, dataset in DATASETS.items():
        cpu = load_artifact(PRETRAINED / name / "v1", "cpu")
        gpu = load_artifact(PRETRAINED / name / "v1", DEVICE)
        series = prepare_series(dataset.load(), cpu.config, dataset.time_column)
        x, _, _ = forecast_windows(series, cpu.config.input_size, max(cpu.config.horizon, 1))
        x = x[np.linspace(0, len(x) - 1, 256).astype(int)]
        if cpu.config.task == "classify":
            a, b = cpu.predictor.classify(x), gpu.predictor.classify(x)
        else:
            a, b = cpu.predictor.predict(x, (80,)).mean, gpu.predictor.predict(x, (80,)).mean
        scale = float(np.abs(a).mean()) or 1.0
        print(f"{name}: CPU vs CUDA, 256 windows: largest difference {np.abs(a - b).max():.3g} "
              f"(relative to the mean |forecast| {np.abs(a - b).max() / scale:.2e})")


def train_ecg() -> None:
    d = DATASETS["ecg"]
    for overrides in ({}, {"input_size": 360, "horizon": 36}):
        config = ModelConfig.from_dict({**d.model.to_dict(), **overrides})
        started = time.perf_counter()
        artifact = train(d.load(), config, TrainConfig(device=DEVICE), d.time_column)
        seconds = time.perf_counter() - started
        m, v = artifact.manifest.metrics, artifact.manifest.validation or {}
        print(f"ecg ({config.input_size}, {config.horizon}) on {DEVICE}: {seconds:.1f} s, "
              f"{artifact.manifest.epochs_run} epochs, choice {artifact.manifest.choice}; "
              f"validation MASE {v['model']:.3f} (start {v['initial']:.3f}); test MASE {m['model']['mase']:.3f} "
              f"(naive {m['naive']['mase']:.3f}), coverage {m['coverage']}")


def raw_speed() -> None:
    artifact = load_artifact(PRETRAINED / "sf-temps" / "v1", DEVICE)
    x = DATASETS["sf-temps"].load()["temp"].to_numpy(np.float32)
    for batch in (256, 4096):
        windows = np.stack([x[i : i + 168] for i in range(batch)])[:, :, None]
        artifact.predictor.predict(windows, (80, 95))
        if DEVICE == "cuda":
            torch.cuda.synchronize()
        started, n = time.perf_counter(), 0
        while time.perf_counter() - started < 2:
            artifact.predictor.predict(windows, (80, 95))
            n += batch
        print(f"sf-temps raw on {DEVICE}, batch {batch}: {n / (time.perf_counter() - started):,.0f} forecasts/s "
              "(scaling, base, network, intervals)")


if __name__ == "__main__":
    import sys

    print(torch.__version__, torch.cuda.get_device_name() if DEVICE == "cuda" else "no CUDA: CPU against CPU")
    same_forecasts()
    raw_speed()
    if "--no-train" not in sys.argv:
        train_ecg()
