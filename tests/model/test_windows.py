import copy

import numpy as np
import pandas as pd
import pytest

from model.config import ModelConfig
from model.windows import DataError, make_windows, prepare_series, split_windows


def test_make_windows_is_every_window_in_order():
    values = np.arange(20, dtype=np.float32).reshape(10, 2)
    x, y = make_windows(values, input_size=3, horizon=2)
    assert x.shape == (6, 3, 2) and y.shape == (6, 2, 2)
    assert x[1, :, 0].tolist() == [2, 4, 6] and y[1, :, 0].tolist() == [8, 10]
    x2, _ = make_windows(values, 3, 2, stride=2)
    assert x2[:, 0, 0].tolist() == [0, 4, 8]


def test_split_keeps_each_horizon_inside_its_part():
    split = split_windows(100, input_size=10, horizon=5, val_fraction=0.2, test_fraction=0.2)
    assert split.train_rows == 60
    last_train = split.train.stop - 1
    assert last_train + 10 + 5 <= 60  # its horizon ends in the training part
    assert split.val.start + 10 == 60  # first validation target is the first validation row
    assert split.test.start + 10 == 80 and split.test.stop - 1 + 15 == 100


def test_split_with_a_calibration_part_between_validation_and_test():
    split = split_windows(100, input_size=10, horizon=5, val_fraction=0.1, test_fraction=0.2,
                          calibration_fraction=0.1)
    assert split.train_rows == 60
    assert split.val.start + 10 == 60 and split.val.stop - 1 + 15 == 70
    assert split.calibration.start + 10 == 70 and split.calibration.stop - 1 + 15 == 80
    assert split.test.start + 10 == 80 and split.test.stop - 1 + 15 == 100


def frame(**columns):
    return pd.DataFrame({"date": pd.date_range("2020-01-01", periods=len(next(iter(columns.values())))), **columns})


def test_too_short_names_both_numbers():
    with pytest.raises(DataError, match="input_size 8 \\+ horizon 4 needs at least 12"):
        prepare_series(frame(v=range(5)), ModelConfig(targets=["v"], input_size=8, horizon=4), "date")


def test_non_numeric_and_missing_values_name_column_and_row():
    values = [1.0, 2.0, "x", 4.0] * 5
    with pytest.raises(DataError, match="column 'v' has a non-numeric value 'x' at row 2"):
        prepare_series(frame(v=values), ModelConfig(targets=["v"], input_size=3), "date")
    missing = [1.0, None] + [2.0] * 18
    with pytest.raises(DataError, match="column 'v' is missing a value at row 1"):
        prepare_series(frame(v=missing), ModelConfig(targets=["v"], input_size=3), "date")
    filled = prepare_series(frame(v=missing), ModelConfig(targets=["v"], input_size=3), "date", interpolate=True)
    assert filled.values[1, 0] == pytest.approx(1.5)


def test_duplicate_irregular_and_unknown():
    f = frame(v=range(20))
    dup = f.copy()
    dup.loc[5, "date"] = dup.loc[4, "date"]
    with pytest.raises(DataError, match="duplicate timestamp 2020-01-05"):
        prepare_series(dup, ModelConfig(targets=["v"], input_size=3), "date")
    gap = f.drop(index=7)
    with pytest.raises(DataError, match="irregular timestamp 2020-01-09"):
        prepare_series(gap, ModelConfig(targets=["v"], input_size=3, frequency="D"), "date")
    with pytest.raises(DataError, match="unknown column\\(s\\) \\['w'\\]"):
        prepare_series(f, ModelConfig(targets=["w"], input_size=3), "date")


def test_trading_days_allow_holidays_not_weekends():
    days = pd.bdate_range("2020-01-01", periods=30).delete(5)  # a holiday
    f = pd.DataFrame({"date": days, "v": range(29)})
    prepare_series(f, ModelConfig(targets=["v"], input_size=3, frequency="B"), "date")
    f.loc[3, "date"] = pd.Timestamp("2020-01-04")  # a Saturday, still increasing
    with pytest.raises(DataError, match="irregular timestamp 2020-01-04"):
        prepare_series(f, ModelConfig(targets=["v"], input_size=3, frequency="B"), "date")


def test_interpolation_fills_the_times_a_regular_series_skips():
    # Local-time hourly data skips the spring DST hour (Seattle 2010: 02:00, then 04:00).
    times = ["2010-03-14 00:00", "2010-03-14 01:00", "2010-03-14 02:00", "2010-03-14 04:00", "2010-03-14 05:00"]
    frame = pd.DataFrame({"date": times, "temp": [43.9, 43.5, 43.0, 42.2, 42.0]})
    config = ModelConfig(targets=["temp"], input_size=3, horizon=1, frequency="h")
    with pytest.raises(DataError, match="irregular timestamp 2010-03-14 04:00:00.*ask for interpolation"):
        prepare_series(frame, copy.deepcopy(config), "date")
    series = prepare_series(frame, copy.deepcopy(config), "date", interpolate=True)
    np.testing.assert_allclose(series.values[:, 0], [43.9, 43.5, 43.0, 42.6, 42.2, 42.0], rtol=1e-6)
    assert len(series.index) == 6 and series.index[3] == pd.Timestamp("2010-03-14 03:00")


def test_interpolation_does_not_invent_times_off_the_grid_or_between_trading_days():
    off_grid = pd.DataFrame({"date": ["2024-01-01 00:00", "2024-01-01 01:30", "2024-01-01 03:00", "2024-01-01 04:00"],
                             "v": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(DataError, match="irregular timestamp 2024-01-01 01:30:00"):
        prepare_series(off_grid, ModelConfig(targets=["v"], input_size=2, horizon=1, frequency="h"), "date",
                       interpolate=True)
    # A holiday is not a gap: trading days keep their rows as they are.
    days = pd.DataFrame({"date": ["2024-12-23", "2024-12-24", "2024-12-26", "2024-12-27"], "v": [1.0, 2.0, 3.0, 4.0]})
    series = prepare_series(days, ModelConfig(targets=["v"], input_size=2, horizon=1, frequency="B"), "date",
                            interpolate=True)
    assert len(series.values) == 4
