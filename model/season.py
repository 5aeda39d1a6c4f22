"""Season length: from the frequency when one is given, else detected from the training part."""

from __future__ import annotations

import re

import numpy as np

# Steps in one season for the common pandas aliases: the cycle a user of that frequency expects
# (a day of hours, a week of days, a year of weeks or months).
_BY_ALIAS = {"h": 24, "min": 60 * 24, "s": 60, "d": 7, "b": 5, "w": 52, "m": 12, "me": 12, "ms": 12,
             "q": 4, "qe": 4, "qs": 4, "y": 1, "ye": 1, "ys": 1, "a": 1}
_MULTIPLE = re.compile(r"^(\d*)([a-z]+)(-[a-z]+)?$")


def season_from_frequency(frequency: str | None) -> int | None:
    """`h` -> 24, `30min` -> 48, `D` -> 7, `B` -> 5, `W` -> 52, `MS`/`M` -> 12; None when unknown."""
    if not frequency:
        return None
    match = _MULTIPLE.match(frequency.strip().lower())
    if not match:
        return None
    count, unit = int(match.group(1) or 1), match.group(2)
    if unit in ("t",):  # the old alias of minutes
        unit = "min"
    per_unit = _BY_ALIAS.get(unit)
    if per_unit is None:
        return None
    if unit == "min":  # a day of minutes, counted in steps of `count` minutes
        return max(1, per_unit // count) if per_unit % count == 0 else None
    if unit == "h":
        return max(1, 24 // count) if 24 % count == 0 else None
    return per_unit if count == 1 else None


def detect_season(values: np.ndarray, max_lag: int, min_correlation: float = 0.3) -> int:
    """The strongest autocorrelation peak of the differenced series (T,), or 1 when none is clear.

    Differencing first: a trend or a random walk correlates with itself at every lag, which is not
    a season. A peak must be a local maximum, reach min_correlation, and the smallest lag within
    90% of the highest peak wins (multiples of a season peak too).
    """
    x = np.diff(np.asarray(values, dtype=np.float64))
    x = x[np.isfinite(x)]
    max_lag = min(max_lag, len(x) // 3)
    if max_lag < 2 or x.std() == 0:
        return 1
    x = x - x.mean()
    size = 1 << int(np.ceil(np.log2(2 * len(x))))
    spectrum = np.fft.rfft(x, size)
    acf = np.fft.irfft(spectrum * np.conj(spectrum), size)[: max_lag + 2]
    acf = acf / acf[0]
    lags = np.arange(2, max_lag + 1)
    peaks = lags[(acf[lags] > acf[lags - 1]) & (acf[lags] >= acf[lags + 1]) & (acf[lags] >= min_correlation)]
    if len(peaks) == 0:
        return 1
    best = acf[peaks].max()
    return int(peaks[acf[peaks] >= 0.9 * best][0])


def resolve_season(given: int | None, frequency: str | None, train_values: np.ndarray, max_lag: int) -> int:
    """An explicit season_length wins, then the frequency's, then detection on the training part."""
    if given is not None:
        return given
    from_frequency = season_from_frequency(frequency)
    if from_frequency is not None:
        return from_frequency
    return detect_season(train_values, max_lag)
