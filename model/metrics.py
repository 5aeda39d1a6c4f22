"""Pure metric and baseline functions on NumPy arrays."""

from __future__ import annotations

import numpy as np


def mse(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean((actual - forecast) ** 2))


def mae(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.mean(np.abs(actual - forecast)))


def rmse(actual: np.ndarray, forecast: np.ndarray) -> float:
    return float(np.sqrt(mse(actual, forecast)))


def smape(actual: np.ndarray, forecast: np.ndarray) -> float:
    """Symmetric MAPE in percent (0..200); a point where both are 0 counts as 0."""
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(2 * np.abs(forecast - actual), denominator, out=np.zeros_like(denominator, dtype=float),
                      where=denominator > 0)
    return float(100 * np.mean(ratio))


def naive_scale(train: np.ndarray, season_length: int = 1) -> np.ndarray:
    """MASE's denominator per column of train (T, n): in-sample mean absolute (seasonal) naive error."""
    m = season_length if len(train) > season_length else 1
    return np.asarray(np.abs(train[m:] - train[:-m]).mean(axis=0))


def mase(actual: np.ndarray, forecast: np.ndarray, scale: float | np.ndarray) -> float:
    """MAE divided by the naive scale; scale may be one value per target (last axis)."""
    return float(np.mean(np.abs(actual - forecast) / np.asarray(scale)))


def window_mase(actual: np.ndarray, forecast: np.ndarray, scale: float | np.ndarray) -> np.ndarray:
    """(N, H, T) -> (N,): each window's MASE (their mean is mase())."""
    return np.asarray(np.mean(np.abs(actual - forecast) / np.asarray(scale), axis=(1, 2)))


def regression_metrics(actual: np.ndarray, forecast: np.ndarray, scale: float | np.ndarray) -> dict[str, float]:
    return {
        "mse": mse(actual, forecast),
        "mae": mae(actual, forecast),
        "rmse": rmse(actual, forecast),
        "smape": smape(actual, forecast),
        "mase": mase(actual, forecast, scale),
    }


def naive_forecast(history: np.ndarray, horizon: int) -> np.ndarray:
    """(N, L, T) windows -> (N, horizon, T): the last value repeated."""
    return np.repeat(history[:, -1:, :], horizon, axis=1)


def seasonal_naive_forecast(history: np.ndarray, horizon: int, season_length: int) -> np.ndarray:
    """(N, L, T) with L >= season_length -> (N, horizon, T): the value one season earlier, repeated."""
    m = season_length
    if history.shape[1] < m:
        raise ValueError(f"seasonal naive needs {m} points of history, the windows have {history.shape[1]}")
    steps = np.arange(horizon)
    # Step h (0-based) copies history position L - m + (h mod m).
    return history[:, history.shape[1] - m + (steps % m), :]


def accuracy(labels: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.mean(labels == predicted))


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Rows are true classes, columns predicted ones."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (labels, predicted), 1)
    return matrix


def macro_f1(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> float:
    """Mean F1 over the classes that occur in labels or predictions."""
    matrix = confusion_matrix(labels, predicted, n_classes)
    tp = np.diag(matrix).astype(float)
    support = matrix.sum(axis=1) + matrix.sum(axis=0)
    present = support > 0
    f1 = np.divide(2 * tp, support, out=np.zeros_like(tp), where=present)
    return float(f1[present].mean()) if present.any() else 0.0


def perplexity(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """exp(mean cross-entropy): the effective number of classes the model hesitates between."""
    picked = np.clip(probabilities[np.arange(len(labels)), labels], 1e-12, 1.0)
    return float(np.exp(-np.mean(np.log(picked))))
