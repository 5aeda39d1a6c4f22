"""The model without HTTP: forecasts/s by batch size, achieved GFLOP/s against the measured matmul peak.

    .venv/bin/python -m benchmarks.raw_model [--threads 1 2] [--models stock weather] [--members 1 2]

Times Predictor.forecast_array (scaling + GRU + head + unscaling) on the bundled stock and ECG
models, under torch.inference_mode, on the CPU (and CUDA when present). Writes benchmarks/out/raw_model.md.
--members times each model's shape with that many GRU bodies (an ensemble served as one network,
model/ensemble.py; fresh weights, which do not change the speed) beside the others in the same run.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from benchmarks.output import save
from model.artifact import load_artifact
from model.cli import PRETRAINED
from model.config import ModelConfig
from model.network import GRUNet
from model.predictor import Predictor

BATCHES = [1, 8, 64, 256, 1024]


def gru_flops(input_size: int, features: int, hidden: int, layers: int, outputs: int) -> float:
    """Multiply-adds x 2 of one window: 3 gates x (input + hidden matmuls) per step, plus the head."""
    per_step = 0.0
    width = features
    for _ in range(layers):
        per_step += 2 * 3 * hidden * (width + hidden)
        width = hidden
    return per_step * input_size + 2 * hidden * outputs


def timed(fn, min_seconds: float = 0.5) -> float:
    """Median seconds per call over repeated runs of at least min_seconds in all."""
    fn()
    times = []
    started = time.perf_counter()
    while time.perf_counter() - started < min_seconds or len(times) < 5:
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return float(np.median(times))


def matmul_peak(device: torch.device, n: int = 1024) -> float:
    a = torch.randn(n, n, device=device)
    b = torch.randn(n, n, device=device)

    def run() -> None:
        (a @ b).sum().item()

    return 2 * n**3 / timed(run) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--models", nargs="*", default=["stock", "ecg"])
    parser.add_argument("--batches", type=int, nargs="*", default=BATCHES, help="windows per forward pass")
    parser.add_argument("--members", type=int, nargs="*", default=[], help="bodies to time (default: the model's)")
    args = parser.parse_args()
    devices = [torch.device("cpu")] + ([torch.device("cuda")] if torch.cuda.is_available() else [])
    lines = ["| device | threads | model | batch | forecasts/s | ms per batch | GFLOP/s | % of matmul peak |",
             "|---|---|---|---|---|---|---|---|"]
    peaks = []
    for device in devices:
        for threads in args.threads if device.type == "cpu" else [0]:
            if threads:
                torch.set_num_threads(threads)
            peak = matmul_peak(device)
            name = torch.cuda.get_device_name() if device.type == "cuda" else f"cpu x{threads}"
            peaks.append(f"{name}: {peak:.1f} GFLOP/s (float32 1024x1024 matmul)")
            for model, members in [(m, k) for m in args.models for k in (args.members or [0])]:
                artifact = load_artifact(PRETRAINED / model / "v1", device)
                if members and members != artifact.config.members:
                    config = ModelConfig.from_dict({**artifact.config.to_dict(), "members": members})
                    artifact.predictor = Predictor(config=config, net=GRUNet(config).eval(),
                                                   scaler=artifact.predictor.scaler).to(device)
                config = artifact.config
                # An ensemble runs each member's body and reads all their states: about members x the work.
                flops = config.members * gru_flops(config.input_size, len(config.features), config.hidden_size,
                                                   config.num_layers, config.horizon * len(config.targets))
                members = f" x{config.members}" if config.members > 1 else ""
                rng = np.random.default_rng(0)
                for batch in args.batches:
                    windows = rng.standard_normal((batch, config.input_size, len(config.features))).astype(np.float32)
                    predictor = artifact.predictor
                    seconds = timed(lambda w=windows, p=predictor: p.forecast_array(w))
                    gflops = flops * batch / seconds / 1e9
                    lines.append(f"| {device.type} | {threads or '-'} | {model} (L={config.input_size}, "
                                 f"H={config.hidden_size}{members}) | {batch} | {batch / seconds:,.0f} | "
                                 f"{seconds * 1000:.3f} | {gflops:.2f} | {100 * gflops / peak:.1f}% |")
    save("raw_model", "Matmul peak measured in the same run: " + "; ".join(peaks) + "\n\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
