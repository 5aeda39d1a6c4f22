import copy

import numpy as np
import pytest

from model.predictor import Forecasts, conformal_quantiles


def test_conformal_quantile_is_the_corrected_order_statistic():
    residuals = np.arange(1, 11, dtype=float).reshape(10, 1, 1)  # |r| = 1..10
    q = conformal_quantiles(residuals, levels=[80, 50])
    # ceil((10 + 1) * 0.8) = 9th smallest; ceil(11 * 0.5) = 6th smallest
    assert q[80][0, 0] == 9 and q[50][0, 0] == 6
    assert conformal_quantiles(residuals, levels=[99])[99][0, 0] == 10  # capped at the largest


def test_intervals_widen_with_the_level_and_the_window_scale(stock_artifact):
    p = stock_artifact.predictor
    calm = np.full((1, 30, 1), 500, np.float32) + np.linspace(0, 3, 30, dtype=np.float32)[None, :, None]
    wild = calm.copy()
    wild[0, ::2, 0] += 20  # same level, much larger steps
    out = p.predict(np.concatenate([calm, wild]), (80, 95))
    width80 = out.intervals[80][1] - out.intervals[80][0]
    width95 = out.intervals[95][1] - out.intervals[95][0]
    assert (width95 >= width80).all()
    assert (width80[1] > width80[0]).all()  # scaled per window


def test_split_gives_each_block_its_own_rows():
    f = Forecasts(np.arange(12.0).reshape(6, 2, 1), {80: (np.zeros((6, 2, 1)), np.ones((6, 2, 1)))})
    a, b, c = f.split([1, 3, 2])
    assert a.mean.shape == (1, 2, 1) and b.mean[0, 0, 0] == 2 and c.mean[-1, -1, 0] == 11
    assert c.intervals[80][1].shape == (2, 2, 1)
    assert c.guarded is None and c.guarded_mask().tolist() == [False, False]  # no guard: nothing guarded
    flagged = Forecasts(f.mean, guarded=np.array([False, True, False, False, True, True]))
    assert [part.guarded_mask().tolist() for part in flagged.split([1, 3, 2])] == [[False], [True, False, False],
                                                                                  [True, True]]


def test_classify_returns_probabilities():
    import copy

    from model.config import TrainConfig
    from model.datasets import DATASETS
    from model.train import train

    d = DATASETS["weather-type"]
    config = copy.deepcopy(d.model)
    config.hidden_size = 4
    artifact = train(d.load(), config, TrainConfig(epochs=1), d.time_column)
    probabilities = artifact.predictor.classify(np.zeros((3, 14, len(artifact.config.features)), np.float32))
    assert probabilities.shape == (3, 5)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1, rtol=1e-5)
    assert pytest.approx(probabilities[0]) == probabilities[1]


def test_the_base_is_naive_or_one_season_back():
    from model.config import ModelConfig
    from model.predictor import base_forecast

    history = np.arange(12, dtype=np.float32).reshape(1, 12, 1)
    naive = base_forecast(history, ModelConfig(input_size=12, horizon=5, base="naive", season_length=4))
    assert naive[0, :, 0].tolist() == [11] * 5
    seasonal = base_forecast(history, ModelConfig(input_size=12, horizon=5, base="seasonal", season_length=4))
    assert seasonal[0, :, 0].tolist() == [8, 9, 10, 11, 8]


def test_seasonal_level_is_the_last_season_started_at_the_last_value():
    """x[t] + (x[t+h-m] - x[t-m]), the change over the last season added once more each season ahead."""
    from model.config import ModelConfig
    from model.predictor import base_forecast

    history = np.array([[0, 5, 1, 2, 10, 16, 12, 13]], np.float32)[:, :, None]  # a season of 4, a level +10
    level = base_forecast(history, ModelConfig(input_size=8, horizon=6, base="seasonal_level", season_length=4))
    # the value a season back plus the rise over the last season (2 -> 13: 11), twice in the second season
    assert level[0, :, 0].tolist() == [10 + 11, 16 + 11, 12 + 11, 13 + 11, 10 + 22, 16 + 22]
    assert level[0, 0, 0] == 13 + (history[0, 4, 0] - history[0, 3, 0])  # x[t] + (x[t+1-m] - x[t-m])


@pytest.mark.parametrize("base", ["naive", "seasonal", "seasonal_level"])
def test_every_base_is_the_naive_base_plus_a_fixed_map_of_the_scaled_window(base):
    """What lets a ridge on one base, an ensemble of two bases and a combination be one linear skip."""
    from model.config import ModelConfig
    from model.predictor import base_forecast, base_shift
    from model.scaling import fit_scaler, scale_inputs

    config = ModelConfig(targets=["a"], covariates=["b"], input_size=10, horizon=9, season_length=4, base=base)
    windows = np.random.default_rng(0).standard_normal((5, 10, 2)).cumsum(axis=1).astype(np.float32)
    scaled, _, scale = scale_inputs(windows, fit_scaler(windows.reshape(-1, 2), "window"))
    naive = base_forecast(windows[:, :, :1], ModelConfig.from_dict({**config.to_dict(), "base": "naive"}))
    shifted = naive + (scaled.reshape(5, -1) @ base_shift(config, base).T).reshape(5, 9, 1) * scale[:, None, :1]
    np.testing.assert_allclose(shifted, base_forecast(windows[:, :, :1], config), atol=1e-5)


def test_a_big_batch_runs_in_chunks_with_the_same_forecasts(stock_artifact, monkeypatch):
    p = stock_artifact.predictor
    rng = np.random.default_rng(3)
    windows = (500 + rng.standard_normal((150, 30, 1)).cumsum(axis=1)).astype(np.float32)
    whole = p.predict(windows, (80,))
    calls = []
    forward = p.net.forward
    monkeypatch.setattr(p.net, "forward", lambda x: calls.append(len(x)) or forward(x))
    monkeypatch.setattr(p, "chunk", 64)
    chunked = p.predict(windows, (80,))
    assert calls == [64, 64, 22]  # 150 windows as chunks of the device's best size
    np.testing.assert_allclose(chunked.mean, whole.mean, rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(chunked.intervals[80][0], whole.intervals[80][0], rtol=1e-5, atol=1e-4)


def test_the_chunk_defaults_to_the_device_best():
    from model.predictor import DEVICE_CHUNK

    assert DEVICE_CHUNK["cpu"] < DEVICE_CHUNK["cuda"]  # measured: 64 on a CPU thread, large on a GPU


def _jump(window: np.ndarray, size: float) -> np.ndarray:
    """The window with a level shift of `size` halfway: the spread of a market gap or a motion artifact."""
    out = window.copy()
    out[:, out.shape[1] // 2 :, 0] += size
    return out


def test_the_guard_gives_a_window_wider_than_any_training_window_the_base_and_skip_only(stock_artifact):
    from model.datasets import DATASETS
    from model.predictor import GUARD_MARGIN
    from model.scaling import scale_inputs

    p = stock_artifact.predictor
    assert p.spread is not None and len(p.spread) == len(p.config.features)
    close = DATASETS["stock"].load()["close"].to_numpy(np.float32)
    calm = close[:30].reshape(1, 30, 1)  # the first training window
    wild = _jump(calm, 40 * float(np.abs(np.diff(calm[0, :, 0])).mean()))
    windows = np.concatenate([calm, wild])
    scaled, _, scale = scale_inputs(windows, p.scaler)
    spread = scaled.std(axis=1)[:, 0]
    assert spread[0] <= p.spread[0] < GUARD_MARGIN * p.spread[0] < spread[1]
    assert p.outside(scaled).tolist() == [False, True]

    guarded, _ = p.forecast_array(windows)
    full = p.base(windows) + p.network_output(scaled) * scale[:, None, :1]
    linear = p.base(windows) + p.linear_output(scaled) * scale[:, None, :1]
    np.testing.assert_allclose(guarded[0], full[0], rtol=1e-6)
    np.testing.assert_allclose(guarded[1], linear[1], rtol=1e-6)
    assert np.abs(full[1] - linear[1]).max() > 1e-3  # the GRU said something the guard overrode

    p_unguarded = copy.copy(p)
    p_unguarded.spread = None  # versions saved before the guard
    np.testing.assert_allclose(p_unguarded.forecast_array(windows)[0], full, rtol=1e-6)


def test_no_training_window_is_outside_the_guard(stock_artifact):
    from model.datasets import DATASETS
    from model.scaling import scale_inputs
    from model.windows import make_windows

    p = stock_artifact.predictor
    close = DATASETS["stock"].load()["close"].to_numpy(np.float32)[:, None]
    x, _ = make_windows(close[: stock_artifact.manifest.rows // 2], 30, 5)  # within the training part
    scaled = scale_inputs(x, p.scaler)[0]
    assert not p.outside(scaled).any()
    assert scaled.std(axis=1).max() <= p.spread[0] + 1e-5


def test_the_guard_keeps_the_linear_skip_of_a_served_pair_and_watches_every_feature():
    """The bundled weather model serves two GRU bodies with one averaged skip; a storm whose rain
    spreads far wider than any training window (a covariate) is guarded, the temperatures are not."""
    from model.artifact import load_artifact
    from model.cli import PRETRAINED
    from model.datasets import DATASETS
    from model.scaling import scale_inputs
    from model.windows import prepare_series

    p = load_artifact(PRETRAINED / "weather" / "v1").predictor
    assert p.config.members == 2 and p.net.skip is not None and len(p.spread) == len(p.config.features)
    d = DATASETS["weather"]
    window = prepare_series(d.load(), copy.deepcopy(p.config), d.time_column).values[-28:][None]
    storm = window.copy()
    storm[0, ::2, p.config.features.index("precipitation")] += 400.0  # mm a day, every other day
    windows = np.concatenate([window, storm])
    mean, _, guarded = p.guarded_forecast(windows)
    assert guarded.tolist() == [False, True]
    scaled, _, scale = scale_inputs(windows, p.scaler)
    np.testing.assert_allclose(mean[1], (p.base(storm) + p.linear_output(scaled[1:]) * scale[1:, None, :1])[0],
                               rtol=1e-5)
