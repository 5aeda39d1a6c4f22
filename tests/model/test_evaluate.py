"""The test part's scores: one typed record per task, serialized as the manifest's `metrics`."""

import numpy as np

from model.evaluate import ClassifierMetrics, ForecastMetrics, WindowForecasts, forecast_metrics


def test_forecast_metrics_are_each_systems_scores_and_the_bands_coverage():
    actual = np.array([[[1.0], [2.0]], [[3.0], [4.0]]])  # (N=2, H=2, T=1)
    test = WindowForecasts(actual, {"model": actual + 0.5, "naive": actual + 1.0},
                           {80: np.full_like(actual, 0.6)}, np.array([False, True]))
    scores = forecast_metrics(test, np.array([1.0]))
    assert scores.systems["model"]["mae"] == 0.5 and scores.systems["naive"]["mae"] == 1.0
    assert scores.coverage == {"80": 1.0} and scores.guarded == 1 and scores.coverage_warning is None
    assert list(scores.to_dict()) == ["windows", "mase_scale", "model", "naive", "guarded", "coverage"]


def test_optional_parts_are_left_out_of_the_manifest_not_written_as_null():
    bare = ForecastMetrics(3, [1.0], {"model": {"mase": 1.0}})
    assert bare.to_dict() == {"windows": 3, "mase_scale": [1.0], "model": {"mase": 1.0}}
    warned = ForecastMetrics(3, [1.0], {"model": {"mase": 1.0}}, coverage={"80": 0.2}, coverage_warning="off")
    assert warned.to_dict()["coverage_warning"] == "off"
    classes = ClassifierMetrics(2, ["a", "b"], {"accuracy": 1.0}, {"accuracy": 0.5}, [[1, 0], [0, 1]])
    assert set(classes.to_dict()) == {"windows", "classes", "model", "majority", "confusion_matrix"}
