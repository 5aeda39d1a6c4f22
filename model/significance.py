"""Whether a backtest's differences are more than noise, on its non-overlapping test windows.

A backtest scores a few dozen windows (weather: 31), so a 3% lead in MASE or a coverage of 0.87
where 0.80 is claimed can be chance. Two measures, both over windows, the backtest's unit:

- diebold_mariano: one system's per-window error against another's (Diebold & Mariano 1995, with the
  small-sample correction of Harvey, Leybourne & Newbold 1997, Student t with n - 1 degrees of
  freedom). Non-overlapping windows still share a regime with their neighbours, so the variance of
  the mean difference has a one-lag Newey-West term. Windows that overlap (a backtest's `step`
  below the horizon) share actual values with the next overlap - 1: those lags count in full, as
  Diebold and Mariano's h - 1 for h-step forecasts, and the degrees of freedom are the effective
  windows, n / overlap - 1. Simulated with equal systems (differences a moving sum of overlap
  shocks, 40-300 windows, overlap 5 and 24), p < 0.05 came 5-10% of the time: few effective windows
  make any variance estimate a little optimistic.
- coverage_interval: a moving-block bootstrap of interval coverage (blocks of consecutive windows,
  so that a calm or a wild stretch is resampled whole; at least as long as a horizon's windows).
"""

from __future__ import annotations

import math

import numpy as np


def diebold_mariano(loss: np.ndarray, other: np.ndarray, overlap: int = 1) -> dict[str, float]:
    """Compare per-window losses (N,) of one system with another's on the same windows.

    relative: mean loss / the other's - 1 (negative: the first is better); statistic: the corrected
    DM statistic; p_value: two-sided, that both have the same expected loss. overlap: how many
    consecutive windows share an actual value (1: none)."""
    d = np.asarray(loss, np.float64) - np.asarray(other, np.float64)
    n = len(d)
    relative = float(np.mean(loss) / np.mean(other) - 1) if n and np.mean(other) > 0 else math.nan
    if n < 3 or not np.any(d):  # too few windows, or the same forecasts: no evidence either way
        return {"relative": relative, "statistic": 0.0, "p_value": 1.0}
    centred = d - d.mean()
    overlap = max(1, min(overlap, n - 1))
    autocovariance = [float(centred[k:] @ centred[: n - k]) for k in range(overlap + 1)]
    # The shared values' lags in full, the regime's next lag at half weight (Newey-West's Bartlett 1/2).
    variance = autocovariance[0] + 2 * sum(autocovariance[1:overlap]) + autocovariance[overlap]
    if variance <= 0:  # full weights can go negative on few windows; Bartlett's cannot
        variance = autocovariance[0] + 2 * sum((1 - k / (overlap + 1)) * autocovariance[k]
                                               for k in range(1, overlap + 1))
    variance /= n**2
    # The same difference on every window has no variance: floored, it gets a huge (finite, JSON-safe) statistic.
    variance = max(variance, (1e-9 * float(np.mean(np.abs(d)))) ** 2)
    h = overlap  # Harvey, Leybourne and Newbold's correction for h-step forecasts: (n - 1) / n at h = 1
    statistic = float(d.mean() / math.sqrt(variance) * math.sqrt(max(n + 1 - 2 * h + h * (h - 1) / n, 1.0) / n))
    return {"relative": relative, "statistic": statistic,
            "p_value": student_t_two_sided(statistic, max(n / overlap - 1, 1.0))}


def coverage_interval(inside: np.ndarray, confidence: float = 0.9, resamples: int = 2000,
                      seed: int = 0, least_block: int = 1) -> tuple[float, float]:
    """A moving-block bootstrap interval for the share of points inside their band.

    inside: (N, ...) booleans, one row per window in time order. Blocks of round(N ** (1/3))
    consecutive windows (at least least_block), wrapped around the end; the percentile interval
    at confidence."""
    per_window = np.asarray(inside, np.float64).reshape(len(inside), -1).mean(axis=1)
    n = len(per_window)
    if n == 0:
        return math.nan, math.nan
    block = min(n, max(1, least_block, round(n ** (1 / 3))))
    blocks = -(-n // block)
    rng = np.random.default_rng(seed)
    starts = rng.integers(0, n, size=(resamples, blocks))
    picked = (starts[:, :, None] + np.arange(block)[None, None]) % n
    means = per_window[picked.reshape(resamples, -1)[:, :n]].mean(axis=1)
    tail = (1 - confidence) / 2
    return float(np.quantile(means, tail)), float(np.quantile(means, 1 - tail))


def student_t_two_sided(t: float, df: float) -> float:
    """P(|T| >= |t|) for Student's t with df degrees of freedom: I_x(df / 2, 1 / 2), x = df / (df + t^2)."""
    return _betainc(df / 2, 0.5, df / (df + t * t))


def _betainc(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    if x > (a + 1) / (a + b + 2):  # the fraction converges fast below this point; use the symmetry
        return 1.0 - _betainc(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 300):
        for numerator in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                          -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-14:
            break
    return min(1.0, max(0.0, front * result))
