import copy

import numpy as np
import pandas as pd
import pytest

from model.config import ModelConfig
from model.windows import DataError, check_timestamps, make_windows, parse_timestamps, prepare_series, split_windows


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
    with pytest.raises(DataError, match="column 'v' has a non-numeric value 'x' at line 4 \\(header = line 1\\)"):
        prepare_series(frame(v=values), ModelConfig(targets=["v"], input_size=3), "date")
    missing = [1.0, None] + [2.0] * 18
    with pytest.raises(DataError, match="column 'v' is missing a value at line 3"):
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
    with pytest.raises(DataError, match="irregular timestamp 2024-01-01 01:30:00 \\(line 3\\).*off it") as asked:
        prepare_series(off_grid, ModelConfig(targets=["v"], input_size=2, horizon=1, frequency="h"), "date",
                       interpolate=True)
    assert "ask for interpolation" not in str(asked.value)  # it was asked
    # A holiday is not a gap: trading days keep their rows as they are.
    days = pd.DataFrame({"date": ["2024-12-23", "2024-12-24", "2024-12-26", "2024-12-27"], "v": [1.0, 2.0, 3.0, 4.0]})
    series = prepare_series(days, ModelConfig(targets=["v"], input_size=2, horizon=1, frequency="B"), "date",
                            interpolate=True)
    assert len(series.values) == 4


def test_values_beyond_the_limit_are_refused_with_the_column_line_and_a_plain_number():
    values = [1.0] * 20
    values[4] = 1e30
    with pytest.raises(DataError, match=r"column 'v' has 1e\+30 at line 6 \(header = line 1\), beyond \+-1e\+15") as e:
        prepare_series(frame(v=values), ModelConfig(targets=["v"], input_size=3), "date")
    assert "np." not in str(e.value)
    values[4] = 1e308
    with pytest.raises(DataError, match=r"1e\+308 at line 6") as e:
        prepare_series(frame(v=values), ModelConfig(targets=["v"], input_size=3), "date")
    assert "np.float64" not in str(e.value)


def test_offsets_that_change_at_daylight_saving_are_one_clock():
    # New York, spring 2024: 01:00-05:00 is followed by 03:00-04:00, one hour later.
    hourly = ["2024-03-10T00:00:00-05:00", "2024-03-10T01:00:00-05:00", "2024-03-10T03:00:00-04:00",
              "2024-03-10T04:00:00-04:00", "2024-03-10T05:00:00-04:00"]
    index = parse_timestamps(hourly, "t", "h")
    check_timestamps(index, "h")
    assert str(index.tz) == "UTC-04:00" and index[-1] == pd.Timestamp("2024-03-10T05:00:00-04:00")
    # A daily series keeps its wall clock: midnight stays midnight across the change.
    daily = ["2024-03-09T00:00:00-05:00", "2024-03-10T00:00:00-05:00", "2024-03-11T00:00:00-04:00"]
    check_timestamps(parse_timestamps(daily, "t", "D"), "D")
    series = prepare_series(pd.DataFrame({"t": hourly, "v": [1.0, 2.0, 3.0, 4.0, 5.0]}),
                            ModelConfig(targets=["v"], input_size=2, horizon=1, frequency="h"), "t")
    assert len(series.values) == 5
    with pytest.raises(DataError, match="some timestamps have a UTC offset and some do not"):
        parse_timestamps(["2024-03-09T00:00:00-05:00", "2024-03-10", "2024-03-11T00:00:00-04:00"], "t")


def test_naive_local_times_at_the_autumn_repeat_say_to_send_offsets():
    times = ["2024-11-03 00:00", "2024-11-03 01:00", "2024-11-03 01:00", "2024-11-03 02:00"]
    f = pd.DataFrame({"date": times, "v": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(DataError, match=r"duplicate timestamp 2024-11-03 01:00:00 \(line 4\).*UTC offset"):
        prepare_series(f, ModelConfig(targets=["v"], input_size=2, horizon=1, frequency="h"), "date",
                       interpolate=True)


@pytest.mark.parametrize("frequency", ["YE", "A", "Y"])
def test_years_under_an_end_frequency_suggest_ys(frequency):
    f = pd.DataFrame({"year": [str(y) for y in range(1700, 1720)], "v": [float(y) for y in range(20)]})
    with pytest.raises(DataError, match="use frequency YS"):
        prepare_series(f, ModelConfig(targets=["v"], input_size=3, horizon=1, frequency=frequency), "year")


def test_an_unreadable_timestamp_is_named_by_its_file_line():
    f = pd.DataFrame({"date": ["2020-01-01", "2020-01-02", "2020-13-45", "2020-01-04"], "v": [1.0, 2.0, 3.0, 4.0]})
    with pytest.raises(DataError, match=r"at line 4 \(header = line 1\)"):
        prepare_series(f, ModelConfig(targets=["v"], input_size=2, horizon=1), "date")
