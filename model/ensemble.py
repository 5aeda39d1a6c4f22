"""Trained forecasters as one: the mean of their forecasts, computed by one network in one pass."""

from __future__ import annotations

import copy

import numpy as np
import torch

from model.config import ModelConfig
from model.network import GRUNet, Members
from model.predictor import Predictor, base_shift


def mergeable(predictors: list[Predictor]) -> bool:
    """Whether the forecasters share what a merged network cannot hold twice: the scaling and the shape."""
    first = predictors[0]
    shape = ("input_size", "horizon", "targets", "covariates", "calendar", "hidden_size", "num_layers", "cell",
             "season_length")

    def key(p: Predictor) -> tuple[object, ...]:
        return tuple(getattr(p.config, name) for name in shape) + (p.config.task, p.config.members)

    return all(p.scaler == first.scaler and key(p) == key(first) for p in predictors) and first.config.members == 1


def merge(predictors: list[Predictor]) -> Predictor:
    """One Predictor whose forecast is exactly the mean of these forecasters' (mergeable ones).

    Each forecast is base + skip(scaled window) + head(GRU state), all times the window's scale. A
    base other than the merged one is the merged base plus a fixed linear map of the scaled window
    (base_shift), so it moves into the skip; the bodies run side by side (Members) and the joined head
    holds each member's head weights divided by k: the sum over members is the mean.
    """
    assert mergeable(predictors), "forecasters with different scalings or shapes cannot be merged"
    k = len(predictors)
    bases = {p.config.base for p in predictors}
    base = predictors[0].config.base if len(bases) == 1 else "naive"
    has_skip = len(bases) > 1 or any(p.net.skip is not None for p in predictors)
    config = ModelConfig.from_dict({**predictors[0].config.to_dict(), "base": base, "linear_skip": has_skip,
                                    "members": k})
    net = GRUNet(config)
    assert isinstance(net.body, Members)
    with torch.no_grad():
        for body, p in zip(net.body.bodies, predictors, strict=True):
            body.load_state_dict(copy.deepcopy(p.net.body.state_dict()))
        net.head.weight.copy_(torch.cat([p.net.head.weight for p in predictors], dim=1) / k)
        net.head.bias.copy_(torch.stack([p.net.head.bias for p in predictors]).mean(dim=0))
        if net.skip is not None:
            weight = np.mean([_skip_weight(p) + base_shift(config, p.config.base) - base_shift(config, base)
                              for p in predictors], axis=0)
            bias = np.mean([_skip_bias(p) for p in predictors], axis=0)
            net.skip.weight.copy_(torch.from_numpy(weight.astype(np.float32)))
            net.skip.bias.copy_(torch.from_numpy(bias.astype(np.float32)))
    return Predictor(config=config, net=net.eval(), scaler=predictors[0].scaler, device=predictors[0].device)


def _skip_weight(p: Predictor) -> np.ndarray:
    """A member's skip map (H*T, L*F); zeros for a member without one."""
    if p.net.skip is None:
        return np.zeros((p.config.horizon * len(p.config.targets), p.config.input_size * len(p.config.features)))
    return p.net.skip.weight.detach().cpu().double().numpy()


def _skip_bias(p: Predictor) -> np.ndarray:
    if p.net.skip is None:
        return np.zeros(p.config.horizon * len(p.config.targets))
    return p.net.skip.bias.detach().cpu().double().numpy()
