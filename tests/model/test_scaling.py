import numpy as np
import pytest

from model.datasets import DATASETS
from model.scaling import SCALINGS, fit_scaler, scale_inputs, step_floor, volatility


def test_scaler_sees_only_what_it_is_given():
    train = np.array([[1.0], [2.0], [4.0]], np.float32)
    everything = np.concatenate([train, [[1000.0]]])
    assert fit_scaler(train, "window") != fit_scaler(everything, "window")
    scaler = fit_scaler(train, "standard")
    assert scaler["floor"] == [pytest.approx(0.15)]  # a tenth of the mean absolute step, 1.5
    assert scaler["mean"] == [pytest.approx(7 / 3)] and scaler["std"] == [pytest.approx(np.std([1, 2, 4]))]


def test_window_scaling_is_level_free():
    scaler = fit_scaler(np.array([[1.0], [2.0]], np.float32), "window")
    low = np.array([[[10.0], [11.0], [13.0]]], np.float32)
    s_low, loc, scale = scale_inputs(low, scaler)
    s_high, _, _ = scale_inputs(low * 10, scaler)  # the same shape at ten times the price
    np.testing.assert_allclose(s_low, s_high, rtol=1e-5)
    assert s_low[0, -1, 0] == 0 and loc[0, 0] == 13 and scale[0, 0] == pytest.approx(1.5)


def test_robust_scaling_is_not_blown_up_by_a_spike():
    calm = np.array([[[0.0], [0.1], [0.0], [0.1], [0.0], [0.1], [0.0], [0.1]]], np.float32)
    spiky = calm.copy()
    spiky[0, 3, 0] = 50.0  # one QRS-like spike
    scaler = fit_scaler(calm[0], "robust")
    _, _, calm_scale = scale_inputs(calm, scaler)
    _, _, spike_scale = scale_inputs(spiky, scaler)
    assert spike_scale[0, 0] == pytest.approx(calm_scale[0, 0])  # IQR ignores the spike
    window = fit_scaler(calm[0], "window")
    assert scale_inputs(spiky, window)[2][0, 0] > 50 * scale_inputs(calm, window)[2][0, 0]  # mean step does not


def test_standard_scaling_is_the_same_for_every_window():
    train = np.arange(10, dtype=np.float32)[:, None]
    scaler = fit_scaler(train, "standard")
    windows = np.stack([train[:4], train[5:9] * 3])
    scaled, loc, scale = scale_inputs(windows, scaler)
    assert (loc == 4.5).all() and np.allclose(scale, np.std(train))
    np.testing.assert_allclose(scaled[0, :, 0], (train[:4, 0] - 4.5) / np.std(train), rtol=1e-6)


def test_volatility_is_the_floored_mean_absolute_step():
    scaler = fit_scaler(np.array([[0.0], [2.0]], np.float32), "window")  # floor 0.2
    windows = np.array([[[1.0], [2.0], [4.0]], [[5.0], [5.0], [5.0]]], np.float32)
    np.testing.assert_allclose(volatility(windows, scaler)[:, 0], [1.5, 0.2], rtol=1e-6)


def test_the_floor_can_be_given_at_another_lag():
    train = np.array([[0.0], [3.0], [1.0], [4.0], [2.0]])  # steps 3, 2, 3, 2 at lag 1; 1, 1, 1 at lag 2
    assert step_floor(train) == pytest.approx([0.25]) and step_floor(train, 2) == pytest.approx([0.1])
    assert step_floor(np.zeros((3, 1)), 1) == [1e-6]  # a flat column still gets a positive floor
    scaler = fit_scaler(train, "window")
    assert scaler["floor"] == step_floor(train)
    flat = np.array([[[1.0], [2.0], [1.0], [2.0]]], np.float32)  # its lag-2 steps are 0
    assert volatility(flat, scaler, lag=2)[0, 0] == pytest.approx(0.25)
    assert volatility(flat, scaler, lag=2, floor=step_floor(train, 2))[0, 0] == pytest.approx(0.1)


def test_a_smooth_seasonal_series_needs_its_floor_at_the_seasons_lag():
    """sf-temps: day-on-day changes at one hour are smaller than a tenth of the hour-to-hour steps,
    so a lag-1 floor gives most windows the same volatility and the bands cannot follow it."""
    values = DATASETS["sf-temps"].load()[["temp"]].to_numpy(np.float64)
    train, windows = values[:5000], np.lib.stride_tricks.sliding_window_view(values[:5000, 0], 168)[::24, :, None]
    scaler = fit_scaler(train, "window")
    at_lag_1 = volatility(windows, scaler, lag=24)
    at_season = volatility(windows, scaler, lag=24, floor=step_floor(train, 24))
    assert (at_lag_1 == np.float32(scaler["floor"][0])).mean() > 0.5
    assert (at_season == np.float32(step_floor(train, 24)[0])).mean() == 0.0
    assert at_season.std() > 3 * at_lag_1.std()


def test_unknown_scaling_is_refused():
    with pytest.raises(ValueError, match="unknown scaling"):
        fit_scaler(np.zeros((3, 1), np.float32), "minmax")
    assert SCALINGS == ("window", "robust", "standard")


@pytest.mark.parametrize("kind", SCALINGS)
def test_fixed_columns_pass_unscaled(kind):
    """The calendar's sin and cos (model/calendar.py) are exact: every scaling leaves them as they are."""
    rng = np.random.default_rng(0)
    values = np.column_stack([np.cumsum(rng.normal(size=400)) + 50, np.sin(np.arange(400) / 58.1),
                              np.cos(np.arange(400) / 58.1)]).astype(np.float32)
    scaler = fit_scaler(values[:300], kind, fixed=2)
    windows = np.stack([values[i:i + 28] for i in range(0, 370, 10)])
    scaled, loc, scale = scale_inputs(windows, scaler)
    np.testing.assert_array_equal(scaled[:, :, 1:], windows[:, :, 1:])
    assert (loc[:, 1:] == 0).all() and (scale[:, 1:] == 1).all()
    alone = scale_inputs(windows[:, :, :1], fit_scaler(values[:300, :1], kind))[0]  # the data column as before
    np.testing.assert_allclose(scaled[:, :, :1], alone, rtol=1e-5, atol=1e-5)
