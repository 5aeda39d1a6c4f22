import copy

import pytest
import torch

from model.config import TrainConfig
from model.datasets import DATASETS

torch.set_num_threads(1)  # the other core may be busy: 2 OpenMP threads then stall (LESSONS.md)


@pytest.fixture(scope="session")
def stock_artifact():
    """A small stock model trained on the real bundled data (seconds)."""
    from model.train import train

    d = DATASETS["stock"]
    config = copy.deepcopy(d.model)
    config.hidden_size = 16
    return train(d.load(), config, TrainConfig(epochs=2), d.time_column)
