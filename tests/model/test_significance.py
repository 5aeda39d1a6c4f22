import numpy as np
import pytest

from model import metrics
from model.significance import coverage_interval, diebold_mariano, student_t_two_sided


@pytest.mark.parametrize(("t", "df", "p"), [(2.0, 10, 0.0733880347707), (3.5, 5, 0.0172844317853),
                                             (-2.5, 20, 0.0212335454391), (0.5, 30, 0.6207230048851),
                                             (1.96, 1e6, 0.0499960675853), (0.0, 12, 1.0)])
def test_student_t_tail_matches_the_tables(t, df, p):  # values from scipy.stats.t.sf
    assert student_t_two_sided(t, df) == pytest.approx(p, rel=1e-6)


def test_identical_forecasts_or_too_few_windows_are_no_evidence():
    loss = np.random.default_rng(0).gamma(2.0, size=30)
    assert diebold_mariano(loss, loss) == {"relative": 0.0, "statistic": 0.0, "p_value": 1.0}
    assert diebold_mariano(loss[:2], loss[:2] + 1)["p_value"] == 1.0
    assert diebold_mariano(loss[:0], loss[:0])["p_value"] == 1.0


def test_a_clearly_better_system_is_told_apart_and_the_sign_says_which():
    rng = np.random.default_rng(1)
    other = rng.gamma(2.0, size=40)
    better = other * 0.8 + rng.normal(0, 0.05, size=40)
    first, second = diebold_mariano(better, other), diebold_mariano(other, better)
    assert first["relative"] < -0.15 and first["statistic"] < 0 and first["p_value"] < 0.001
    assert second["statistic"] == pytest.approx(-first["statistic"]) and second["p_value"] == first["p_value"]


def test_equal_systems_are_rejected_about_as_often_as_the_level_says():
    rng = np.random.default_rng(2)
    rejected = 0
    for _ in range(500):
        a, b = rng.gamma(2.0, size=(2, 30))  # the same expected loss
        rejected += diebold_mariano(a, b)["p_value"] < 0.05
    assert 0.02 <= rejected / 500 <= 0.09


def test_overlapping_windows_are_rejected_about_as_often_as_the_level_says_given_their_overlap():
    """Windows a step of 1 apart with a horizon of 5 share actual values: a difference that is a moving
    sum of 5 shocks. Taken as non-overlapping they are rejected far too often."""
    rng = np.random.default_rng(4)
    rejected = {1: 0, 5: 0}
    for _ in range(400):
        shocks = rng.standard_normal(124)
        d = np.convolve(shocks, np.ones(5), "valid")  # (120,) overlapping sums, expected difference 0
        base = rng.gamma(20.0, size=120)
        for overlap in rejected:
            rejected[overlap] += diebold_mariano(base + d, base, overlap)["p_value"] < 0.05
    assert rejected[1] / 400 > 0.2  # what the one-lag variance would claim
    assert 0.02 <= rejected[5] / 400 <= 0.10


def test_one_lag_is_the_variance_non_overlapping_windows_always_had():
    rng = np.random.default_rng(5)
    a, b = rng.gamma(2.0, size=(2, 40))
    d = a - b
    centred = d - d.mean()
    variance = (centred @ centred + centred[1:] @ centred[:-1]) / 40**2
    expected = d.mean() / np.sqrt(variance) * np.sqrt(39 / 40)
    assert diebold_mariano(a, b)["statistic"] == pytest.approx(expected)
    assert diebold_mariano(a, b, 1) == diebold_mariano(a, b)


def test_the_same_difference_on_every_window_is_certain():
    loss = np.arange(10.0)
    result = diebold_mariano(loss, loss + 0.5)
    assert result["relative"] == pytest.approx(-0.1) and -np.inf < result["statistic"] < -1e6
    assert result["p_value"] < 1e-12
    assert diebold_mariano(np.linspace(1, 2, 10), np.linspace(1, 2, 10) + 0.5)["p_value"] < 1e-12  # up to rounding


def test_the_coverage_interval_holds_the_true_share_about_as_often_as_claimed():
    rng = np.random.default_rng(3)
    hits = 0
    for seed in range(200):
        inside = rng.random((40, 5, 1)) < 0.8
        low, high = coverage_interval(inside, 0.9, resamples=500, seed=seed)
        assert low <= inside.mean() <= high
        hits += low <= 0.8 <= high
    assert 0.8 <= hits / 200 <= 0.97


def test_a_calm_and_a_wild_stretch_widen_the_coverage_interval():
    rng = np.random.default_rng(4)
    mixed = rng.random((60, 5)) < 0.8
    stretches = np.concatenate([np.ones((30, 5), bool), rng.random((30, 5)) < 0.6])  # same mean, in two regimes
    width = [np.diff(coverage_interval(x)).item() for x in (mixed, stretches)]
    assert width[1] > width[0]
    assert coverage_interval(np.ones((20, 3), bool)) == (1.0, 1.0)


def test_window_mase_averages_to_mase():
    rng = np.random.default_rng(5)
    actual, forecast = rng.normal(size=(2, 12, 4, 2))
    scale = np.array([0.5, 2.0])
    per_window = metrics.window_mase(actual, forecast, scale)
    assert per_window.shape == (12,) and per_window.mean() == pytest.approx(metrics.mase(actual, forecast, scale))
