import numpy as np

from model.config import ModelConfig
from model.scaling import fit_scaler, scale_inputs, scale_targets, unscale_targets


def test_scaler_sees_only_what_it_is_given():
    train = np.array([[1.0], [2.0], [4.0]], np.float32)
    everything = np.concatenate([train, [[1000.0]]])
    assert fit_scaler(train, ModelConfig()) != fit_scaler(everything, ModelConfig())
    assert fit_scaler(train, ModelConfig())["floor"] == [0.15000000596046448]


def test_window_scaling_is_level_free_and_round_trips():
    scaler = {"kind": "window", "floor": [1e-3]}
    low = np.array([[[10.0], [11.0], [13.0]]], np.float32)
    high = low * 10  # the same shape at ten times the price
    s_low, loc, scale = scale_inputs(low, scaler)
    s_high, _, _ = scale_inputs(high, scaler)
    np.testing.assert_allclose(s_low, s_high, rtol=1e-5)
    assert s_low[0, -1, 0] == 0  # centred on the last value
    y = np.array([[[14.0], [15.0]]], np.float32)
    np.testing.assert_allclose(unscale_targets(scale_targets(y, loc, scale), loc, scale), y, rtol=1e-6)
