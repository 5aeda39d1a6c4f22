"""Forking training windows: every late position of a window is a forecast origin."""

import numpy as np
import pytest
import torch

from model.config import ModelConfig
from model.forking import ForkingWindows
from model.network import GRUNet
from model.predictor import Predictor, base_forecast
from model.scaling import fit_scaler, scale_inputs
from model.windows import make_windows


@pytest.mark.parametrize("base", ["naive", "seasonal", "seasonal_level"])
def test_forking_targets_are_the_horizon_after_each_position_minus_the_base_made_there(base):
    """Each of the last P positions is a forecast origin: its target is what base_forecast would correct."""
    config = ModelConfig(targets=["y"], input_size=12, horizon=5, season_length=4, base=base, hidden_size=4)
    values = np.random.default_rng(1).standard_normal((60, 1)).cumsum(axis=0).astype(np.float32)
    scaler = fit_scaler(values, "window")
    predictor = Predictor(config=config, net=GRUNet(config), scaler=scaler)
    x, _ = make_windows(values, 12, 5)
    rows = np.arange(len(x))
    positions = 12 - 4  # from a season in, as race.prepare starts them
    forking = ForkingWindows(values, x, rows, predictor, positions)
    _, target = forking.batch(torch.tensor([3, 20]), torch.device("cpu"))
    _, _, scale = scale_inputs(x[[3, 20]], scaler)
    for b, row in enumerate((3, 20)):
        for p, last in enumerate(range(12 - positions, 12)):  # the origin at window index `last`
            history = values[row : row + last + 1][None]  # everything up to the origin
            sub = ModelConfig.from_dict({**config.to_dict(), "input_size": last + 1})
            want = (values[row + last + 1 : row + last + 6][None] - base_forecast(history, sub)) / scale[b]
            np.testing.assert_allclose(target[b, p].numpy(), want[0], rtol=1e-5, atol=1e-5)
