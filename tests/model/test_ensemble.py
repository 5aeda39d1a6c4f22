"""Forecasters merged into one network: exactly the mean of their forecasts, saved and loaded whole."""

import numpy as np
import pytest
import torch

from model.artifact import Artifact, build_manifest, load_artifact, save_artifact
from model.config import ModelConfig
from model.ensemble import merge, mergeable
from model.network import GRUNet
from model.predictor import Predictor
from model.scaling import fit_scaler


def _member(base: str, skip: bool, seed: int, scaling: str = "window") -> Predictor:
    config = ModelConfig(input_size=12, horizon=3, hidden_size=5, covariates=["x"], targets=["y"], base=base,
                         season_length=4, linear_skip=skip, scaling=scaling)
    torch.manual_seed(seed)
    net = GRUNet(config)
    with torch.no_grad():  # trained-looking weights: the head and skip start at zero
        for p in net.parameters():
            p.copy_(torch.randn_like(p) * 0.3)
    values = np.random.default_rng(seed).standard_normal((200, 2)).cumsum(axis=0)
    return Predictor(config=config, net=net.eval(), scaler=fit_scaler(values, scaling))


def _windows() -> np.ndarray:
    return (10 + np.random.default_rng(9).standard_normal((40, 12, 2)).cumsum(axis=1)).astype(np.float32)


@pytest.mark.parametrize("bases", [("naive", "seasonal"), ("seasonal", "seasonal"), ("naive", "naive"),
                                   ("seasonal_level", "seasonal"), ("seasonal_level", "seasonal_level")])
def test_the_merged_network_forecasts_the_mean_of_its_members(bases):
    members = [_member(bases[0], True, 1), _member(bases[1], False, 2)]
    members[1].scaler = members[0].scaler  # one scaling: what the race's two runs share
    merged = merge(members)
    windows = _windows()
    mean = np.mean([m.forecast_array(windows)[0] for m in members], axis=0)
    np.testing.assert_allclose(merged.forecast_array(windows)[0], mean, rtol=1e-4, atol=1e-4)
    assert merged.config.members == 2 and merged.config.base == (bases[0] if len(set(bases)) == 1 else "naive")


def test_members_without_a_skip_on_one_base_need_none():
    members = [_member("seasonal", False, 1), _member("seasonal", False, 2)]
    members[1].scaler = members[0].scaler
    assert merge(members).net.skip is None


def test_different_scalings_cannot_be_merged():
    a, b = _member("naive", True, 1, "window"), _member("naive", False, 2, "robust")
    assert not mergeable([a, b])
    with pytest.raises(AssertionError):
        merge([a, b])


def test_a_merged_model_is_saved_and_loaded_with_its_members(tmp_path):
    members = [_member("naive", True, 1), _member("seasonal", False, 2)]
    members[1].scaler = members[0].scaler
    merged = merge(members)
    merged.quantiles = {80: np.ones((3, 1), np.float32)}
    save_artifact(Artifact(merged, build_manifest(merged, metrics={})), tmp_path / "v1")
    loaded = load_artifact(tmp_path / "v1").predictor
    assert loaded.config.members == 2
    windows = _windows()
    np.testing.assert_array_equal(loaded.forecast_array(windows)[0], merged.forecast_array(windows)[0])
