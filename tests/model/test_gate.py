import copy

import torch

from model.datasets import DATASETS
from model.gate import judge


def test_the_gate_promotes_only_a_version_that_beats_the_live_one_on_the_same_part(stock_artifact):
    d = DATASETS["stock"]
    frame, train_config = d.load(), stock_artifact.manifest.train_config
    from model.config import TrainConfig

    tc = TrainConfig(**train_config)
    same = judge(stock_artifact, stock_artifact, "v1", frame, d.time_column, tc)
    assert same["promote"] is False and same["live"] == same["new"]  # equal is not better
    assert "does not beat v1" in same["reason"]

    worse = copy.deepcopy(stock_artifact)
    with torch.no_grad():
        worse.predictor.net.head.bias.fill_(5.0)  # five volatility units off on every step
    decision = judge(stock_artifact, worse, "v1", frame, d.time_column, tc)
    assert decision["promote"] is True and decision["live"] > decision["new"]
    assert decision["metric"] == "mase" and decision["live_version"] == "v1"


def test_no_live_version_or_an_incomparable_one(stock_artifact):
    from model.config import TrainConfig

    d = DATASETS["stock"]
    assert judge(stock_artifact, None, None, d.load(), d.time_column, TrainConfig())["promote"] is True
    other = copy.deepcopy(stock_artifact)
    other.predictor.config.horizon = 2
    decision = judge(stock_artifact, other, "v3", d.load(), d.time_column, TrainConfig())
    assert decision["promote"] is False and "horizon" in decision["reason"]
