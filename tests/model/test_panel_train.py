"""A panel's layout and its global model: the padding, each series' own split, and short series reported."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from model.config import OBSERVED, ModelConfig, TrainConfig
from model.datasets import DATASETS
from model.panel import MIN_POINTS, read_panel, window
from model.panel_train import lay_out, resolve_panel, training_min_rows
from model.train import train
from model.windows import DataError


def weather_panel(lengths: list[int]) -> pd.DataFrame:
    """Consecutive stretches of the bundled weather series, one per id, of the given lengths (real data)."""
    values = DATASETS["weather"].load()["temp_max"].to_numpy(dtype=float)
    parts, start = [], 0
    for i, n in enumerate(lengths):
        parts.append(pd.DataFrame({"unique_id": f"s{i}", "ds": np.arange(n), "y": values[start:start + n]}))
        start += n
    return pd.concat(parts, ignore_index=True)


CONFIG = ModelConfig(id_column="unique_id", targets=["y"], input_size=12, horizon=3, season_length=1)


def test_layout_pads_each_series_and_splits_it_at_its_own_end() -> None:
    frame = weather_panel([40, 9, 25])
    panel = read_panel(frame, CONFIG, "ds", min_rows=training_min_rows(CONFIG))
    series, layout = lay_out(panel, CONFIG, TrainConfig())
    pad = CONFIG.input_size - MIN_POINTS
    assert len(series.values) == 3 * pad + 40 + 9 + 25
    observed = series.values[:, CONFIG.features.index(OBSERVED)]
    assert observed.sum() == 40 + 9 + 25 and (observed[:pad] == 0).all()
    assert (series.values[:pad, 0] == np.float32(frame["y"].iloc[0])).all()  # padding repeats the first value
    L, H = CONFIG.input_size, CONFIG.horizon
    for i, (own, n) in enumerate(zip(layout.first, [40, 9, 25], strict=True)):
        # the test window forecasts the series' last H points, validation the H before them
        assert layout.test[i] + L + H == own + n
        assert layout.val[i] + L + 2 * H == own + n
    # calibration only where a training window is left after it (4H + MIN_POINTS points)
    assert len(layout.calibration) == 2
    # no training window's horizon reaches into a held-out part, nor into another series
    ends = layout.train + L + H
    series_of = np.searchsorted(layout.end, layout.train + L, side="right")
    held = np.where(np.isin(series_of, [0, 2]), 3 * H, 2 * H)
    assert (ends <= layout.end[series_of] - held).all()


def test_too_short_series_are_reported_by_id() -> None:
    frame = weather_panel([40, 5, 30])  # 5 < 2 * 3 + 2
    panel = read_panel(frame, CONFIG, "ds", min_rows=training_min_rows(CONFIG))
    assert panel.ids == ["s0", "s2"] and list(panel.short) == ["s1"]
    assert "too short" in panel.short["s1"]


def test_none_usable_is_a_data_error() -> None:
    with pytest.raises(DataError, match="no series of the panel can be used"):
        train(weather_panel([5, 6]), CONFIG, TrainConfig(epochs=1, max_steps=2))


def test_a_global_model_forecasts_every_series_and_reports_the_short() -> None:
    frame = weather_panel([120] * 8 + [7, 30])
    artifact = train(frame, CONFIG, TrainConfig(epochs=2, max_steps=20))
    panel = artifact.manifest.panel
    assert panel is not None and panel["series"] == 9 and list(panel["short"]) == ["s8"]
    metrics = artifact.manifest.metrics
    assert metrics["windows"] == 9  # one test window per series: its last horizon
    assert set(metrics["coverage"]) >= {"80", "95"}
    # a series shorter than input_size is forecast from its padded window
    short = frame[frame.unique_id == "s9"]["y"].to_numpy()[-5:, None]
    x = window(short.astype(np.float32), pd.RangeIndex(5), artifact.config)[None]
    forecast = artifact.predictor.predict(x, (80,))
    assert forecast.mean.shape == (1, 3, 1) and np.isfinite(forecast.mean).all()


def test_resolved_panel_scales_each_window_by_its_series() -> None:
    frame = weather_panel([60, 60])
    frame.loc[frame.unique_id == "s1", "y"] *= 1000  # same shapes, another level: MASE must not care
    panel = read_panel(frame, CONFIG, "ds", min_rows=training_min_rows(CONFIG))
    data, layout = resolve_panel(panel, CONFIG, TrainConfig())
    ratio = data.scale(layout.test[1:])[0, 0, 0] / data.scale(layout.test[:1])[0, 0, 0]
    assert 100 < ratio < 10000
