import copy

import pytest
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


def test_a_calendar_version_and_one_without_are_each_scored_on_their_own_inputs():
    """The bundled weather model reads the time of year; a version without it reads four columns
    where the new one reads six. Each is scored on the inputs its own config asks for."""
    from model.artifact import load_artifact
    from model.cli import PRETRAINED
    from model.config import TrainConfig
    from model.train import train

    d = DATASETS["weather"]
    live = load_artifact(PRETRAINED / "weather" / "v1")
    assert live.config.calendar == "year"
    config = copy.deepcopy(d.model)
    config.calendar, config.hidden_size = "none", 8
    plain = train(d.load(), config, TrainConfig(epochs=1), d.time_column)
    decision = judge(plain, live, "v1", d.load(), d.time_column, TrainConfig())
    assert decision["live"] == pytest.approx(live.manifest.metrics["model"]["mase"], rel=1e-6)  # recomputed
    assert decision["promote"] is (decision["new"] < decision["live"])
    # A new version trained without timestamps: the live calendar version cannot read its data.
    undated = d.load().drop(columns="date")
    blind = train(undated, copy.deepcopy(config), TrainConfig(epochs=1))
    back = judge(blind, live, "v1", undated, None, TrainConfig())
    assert back["promote"] is False and "v1 cannot read this data: calendar 'year'" in back["reason"]
