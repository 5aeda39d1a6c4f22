import math

import numpy as np
import pytest

from model import metrics

A = np.array([1.0, 2.0, 4.0])
F = np.array([2.0, 2.0, 1.0])


def test_regression_metrics_by_hand():
    assert metrics.mse(A, F) == pytest.approx((1 + 0 + 9) / 3)
    assert metrics.mae(A, F) == pytest.approx(4 / 3)
    assert metrics.rmse(A, F) == pytest.approx(math.sqrt(10 / 3))
    # 2|f-a|/(|a|+|f|): 2/3, 0, 6/5
    assert metrics.smape(A, F) == pytest.approx(100 * (2 / 3 + 0 + 6 / 5) / 3)
    assert metrics.smape(np.zeros(2), np.zeros(2)) == 0


def test_mase_scale_is_in_sample_naive_error():
    train = np.array([[1.0], [3.0], [2.0], [6.0]])  # steps 2, 1, 4 -> 7/3
    scale = metrics.naive_scale(train)
    assert scale[0] == pytest.approx(7 / 3)
    assert metrics.mase(A, F, scale[0]) == pytest.approx((4 / 3) / (7 / 3))
    seasonal = metrics.naive_scale(train, season_length=2)  # |2-1|, |6-3| -> 2
    assert seasonal[0] == pytest.approx(2)


def test_baselines():
    history = np.arange(12, dtype=float).reshape(1, 6, 2)  # one window, 6 steps, 2 targets
    assert metrics.naive_forecast(history, 3).tolist() == [[[10, 11]] * 3]
    seasonal = metrics.seasonal_naive_forecast(history, 5, season_length=2)
    # steps copy positions 4, 5, 4, 5, 4
    assert seasonal[0, :, 0].tolist() == [8, 10, 8, 10, 8]


def test_classification_metrics_by_hand():
    labels = np.array([0, 0, 1, 2])
    predicted = np.array([0, 1, 1, 1])
    assert metrics.accuracy(labels, predicted) == 0.5
    assert metrics.confusion_matrix(labels, predicted, 3).tolist() == [[1, 1, 0], [0, 1, 0], [0, 1, 0]]
    # F1: class0 2*1/(2+1)=2/3, class1 2*1/(1+3)=1/2, class2 0 -> mean 7/18
    assert metrics.macro_f1(labels, predicted, 3) == pytest.approx(7 / 18)
    uniform = np.full((4, 3), 1 / 3)
    assert metrics.perplexity(uniform, labels) == pytest.approx(3)
