"""The choice of start: scalings, bases, ridge penalties and their combination, over the choice blocks."""

import copy
from dataclasses import replace

import numpy as np
import pytest

from model import metrics
from model.choice import bases_tried, choose, combine, season_helps
from model.config import ModelConfig, TrainConfig
from model.datasets import DATASETS
from model.predictor import base_forecast
from model.resolve import CHOICE_BLOCKS
from model.scaling import fit_scaler, scale_inputs
from model.train import train
from model.windows import DataError, make_windows, prepare_series
from tests.model.helpers import resolved


def test_the_mean_of_the_best_naive_and_seasonal_starts_is_one_map_on_the_naive_base():
    """A combination is scored on validation like any start and served as the naive base plus one map."""
    d = DATASETS["weather"]
    config = replace(d.model, season_length=7, hidden_size=8)
    series = prepare_series(d.load(), copy.deepcopy(config), d.time_column)
    x, _ = make_windows(series.values, config.input_size, config.horizon)
    rng = np.random.default_rng(0)
    maps = [(base, rng.standard_normal((7, 28 * 4)), rng.standard_normal(7)) for base in ("naive", "seasonal")]
    weight, bias = combine(config, maps)
    scaler = fit_scaler(series.values[:1000], "standard")
    windows = x[:50]
    xs, _, scale = scale_inputs(windows, scaler)
    flat = xs.reshape(50, -1)

    def forecast(base, w, b):
        return base_forecast(windows[:, :, :1], replace(config, base=base)) + (flat @ w.T + b)[:, :, None] * scale[
            :, None, :1]

    forecasts = [forecast(*m) for m in maps]
    combined = forecast("naive", weight, bias)
    np.testing.assert_allclose(combined, (forecasts[0] + forecasts[1]) / 2, rtol=1e-6, atol=1e-6)

    artifact = train(d.load(), d.model, TrainConfig(epochs=1), d.time_column)
    candidates, choice = artifact.manifest.validation["candidates"], artifact.manifest.choice
    assert "standard/combined" in candidates  # scored beside the single starts
    if choice["combined"]:  # chosen only when it beats every single start (of its calendar) over the blocks
        assert choice["base"] == "naive" and artifact.config.linear_skip
        prefix = "year/" if choice["calendar"] == "year" else ""
        singles = [v for k, v in candidates.items() if k.startswith(prefix) == bool(prefix)
                   and not k.endswith("combined") and v is not None]
        assert candidates[f"{prefix}{choice['scaling']}/combined"] < min(singles)


@pytest.mark.parametrize("input_size", [28, 60])
def test_the_bare_run_takes_the_best_starts_scaling_so_the_race_can_be_served_as_one_network(input_size):
    d = DATASETS["weather"]
    data = resolved(d.load(), replace(d.model, input_size=input_size), d.time_column)
    picked = choose(replace(data, blocks=[]))
    best, bare = picked.best, picked.bare
    assert best.linear and not bare.linear and bare.scaling == best.scaling
    # The bare base is one forecast whatever the scaling: every scaling scores it the same.
    bare_scores = {v for k, v in picked.scores.items() if k.endswith(f"/{bare.base}/inf")}
    assert len(bare_scores) == 1


def test_the_start_is_chosen_over_blocks_of_the_training_part_not_the_validation_part_alone():
    """SF temperatures cut at 85%: validation in late summer, when yesterday's hours repeat and the bare
    seasonal base wins; before it and after it the ridge does (docs/experiments.md T3)."""
    d = DATASETS["sf-temps"]
    data = resolved(d.load().iloc[:7446], d.model, d.time_column, d.training)
    split, train_rows, config = data.split, data.train_rows, data.config
    window = config.input_size + config.horizon
    length = split.val.stop - split.val.start
    assert len(data.blocks) == CHOICE_BLOCKS - 1
    for k, (fit_rows, rows) in enumerate(data.blocks):  # consecutive, the last just before validation
        first = split.val.start - (len(data.blocks) - k) * length
        assert rows[0] == first and rows[-1] == first + length - 1
        # fitted on the training windows before and after it that share no row with its windows
        shares = (train_rows + window > first) & (train_rows < rows[-1] + window)
        np.testing.assert_array_equal(fit_rows, train_rows[~shares])
    assert (data.blocks[0][0] > data.blocks[0][1][-1]).any()  # the oldest block's fit has windows after it too

    alone = choose(replace(data, blocks=[])).best
    picked = choose(data)
    best, bare = picked.best, picked.bare
    assert not alone.linear and alone.base == "seasonal"  # validation alone: the bare seasonal base
    assert best.linear and best.score < bare.score  # over the blocks: a ridge, though behind on validation
    assert best.val_mase > bare.val_mase
    key = f"{best.scaling}/combined" if best.parts else f"{best.scaling}/{best.base}/{best.penalty:g}"
    assert picked.scores[key] == round(best.score, 5)

    # and on the autumn weeks after the calibration part, the ridge (fitted on the training part, not
    # yet refitted) is ahead of the bare base
    x, y, scale = data.x, data.y, data.mase_scale
    later = np.arange(split.test.start, split.test.stop)
    scaler = fit_scaler(data.train_values, best.scaling)
    scaled, _, unit = scale_inputs(x[later], scaler)
    base = base_forecast(x[later, :, :1], replace(config, base=best.base))
    ridge = base + (scaled.reshape(len(later), -1) @ best.weight.T + best.bias).reshape(base.shape) * unit[:, None, :1]
    seasonal = base_forecast(x[later, :, :1], replace(config, base="seasonal"))
    assert metrics.mase(y[later], ridge, scale) < 0.8 * metrics.mase(y[later], seasonal, scale)


def test_seasonal_level_is_tried_only_where_seasonal_naive_beats_naive_on_the_training_windows():
    config = ModelConfig(targets=["temp"], input_size=48, horizon=24, season_length=24)
    hourly = DATASETS["sf-temps"].load()[["temp"]].iloc[: 24 * 60].reset_index(drop=True)  # a daily cycle
    walk = np.random.default_rng(0).standard_normal(24 * 60).cumsum()  # none
    for frame, helps in ((hourly, True), (hourly.assign(temp=walk), False)):
        data = resolved(frame, config, None)
        assert season_helps(config, data) is helps
        assert ("seasonal_level" in bases_tried(config, helps)) is helps
    assert bases_tried(config, True) == ["naive", "seasonal", "seasonal_level"]
    assert bases_tried(ModelConfig(input_size=24, season_length=24), True) == ["naive", "seasonal"]  # m = L
    with pytest.raises(DataError, match="seasonal_level"):
        bases_tried(ModelConfig(input_size=24, season_length=24, base="seasonal_level"))


def test_seasonal_level_comes_with_a_ridge_under_auto_and_bare_only_when_asked_for():
    frame = DATASETS["sf-temps"].load().iloc[: 24 * 60]
    config = ModelConfig(targets=["temp"], input_size=48, horizon=24, hidden_size=4, frequency="h")
    options = TrainConfig(epochs=1, max_steps=2)
    candidates = train(frame, config, options, "date").manifest.validation["candidates"]
    level = [key for key in candidates if "/seasonal_level/" in key]
    assert level and not [key for key in level if key.endswith("/inf")]
    assert any(key.endswith("/seasonal/inf") for key in candidates)  # the other bases keep their bare start
    asked = train(frame, replace(config, base="seasonal_level"), options, "date")
    assert any(key.endswith("/seasonal_level/inf") for key in asked.manifest.validation["candidates"])
    assert asked.config.base == "seasonal_level"
