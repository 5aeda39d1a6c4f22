"""The GPU path, on a machine with CUDA (skipped elsewhere, with the reason). benchmarks/gpu_check.sh
runs these on the GPU machine together with its timings."""

import copy

import numpy as np
import pytest
import torch

from model.artifact import load_artifact
from model.cli import PRETRAINED
from model.config import TrainConfig
from model.datasets import DATASETS
from model.evaluate import forecast_windows
from model.windows import prepare_series

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device on this machine")


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_every_default_forecasts_the_same_on_cuda_as_on_the_cpu(name):
    dataset = DATASETS[name]
    cpu = load_artifact(PRETRAINED / name / "v1", "cpu")
    gpu = load_artifact(PRETRAINED / name / "v1", "cuda")
    assert next(gpu.predictor.net.parameters()).is_cuda
    series = prepare_series(dataset.load(), copy.deepcopy(cpu.config), dataset.time_column)
    x, _, _ = forecast_windows(series, cpu.config.input_size, max(cpu.config.horizon, 1))
    x = x[np.linspace(0, len(x) - 1, 300).astype(int)]
    if cpu.config.task == "classify":
        np.testing.assert_allclose(gpu.predictor.classify(x), cpu.predictor.classify(x), atol=1e-3)
        return
    a, b = cpu.predictor.predict(x, (80,)), gpu.predictor.predict(x, (80,))
    scale = float(np.abs(a.mean).mean()) or 1.0
    assert np.abs(a.mean - b.mean).max() / scale < 1e-3
    assert np.abs(a.intervals[80][1] - b.intervals[80][1]).max() / scale < 1e-3


def test_a_batch_bigger_than_the_gpu_chunk_is_split_and_joined():
    gpu = load_artifact(PRETRAINED / "stock" / "v1", "cuda")
    gpu.predictor.chunk = 100
    x = (500 + np.random.default_rng(0).standard_normal((250, 30, 1)).cumsum(axis=1)).astype(np.float32)
    chunked = gpu.predictor.predict(x).mean
    gpu.predictor.chunk = 1000
    np.testing.assert_allclose(chunked, gpu.predictor.predict(x).mean, rtol=1e-4, atol=1e-3)


def test_training_on_cuda_gives_a_model_that_loads_on_either_device(tmp_path):
    from model.artifact import save_artifact
    from model.train import train

    d = DATASETS["stock"]
    config = copy.deepcopy(d.model)
    config.hidden_size = 16
    artifact = train(d.load(), config, TrainConfig(epochs=2, device="cuda"), d.time_column)
    # fitted on CUDA, then calibrated, evaluated and saved on the CPU (model/train.py)
    assert not next(artifact.predictor.net.parameters()).is_cuda
    save_artifact(artifact, tmp_path / "v1")
    x = np.asarray(d.load()["close"].to_numpy()[-30:], np.float32).reshape(1, 30, 1)
    for device in ("cpu", "cuda"):
        back = load_artifact(tmp_path / "v1", device)
        np.testing.assert_allclose(back.predictor.predict(x).mean, artifact.predictor.predict(x).mean, rtol=1e-4)
