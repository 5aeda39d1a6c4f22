"""Calendar inputs: where in the year each point lies, as two extra input columns.

A daily series has two cycles: the week, which the seasonal base covers (D -> season 7), and the
year, which a 28- or 60-day window cannot show. "year" adds sin and cos of the point's phase in the
year (days since 1970 / 365.2425, so the phase runs on across New Year), and the GRU and the ridge
learn what the season does to the next days (docs/experiments.md T13). The columns are exact, not
measurements, so no scaling touches them (model/scaling.py, `fixed`) and the guard does not read them.

Offered by "auto" only when the training part spans two years on a calendar frequency: with one
year, each time of year is seen once and its effect cannot be told from that year's weather. Nor
when the season is the year already (monthly 12, weekly 52; T13).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

Calendar = Literal["auto", "year", "none"]
CALENDARS = ("auto", "year", "none")
COLUMNS = {"year": ["calendar:year_sin", "calendar:year_cos"]}  # "none" and "auto" (unresolved) add none
YEAR_DAYS = 365.2425
MIN_SPAN_DAYS = 2 * YEAR_DAYS  # training data "auto" needs before it tries the year
YEAR_SEASON_DAYS = 360  # a season this long is the year already (52 weeks are 364 days)


def columns(calendar: str) -> list[str]:
    """The input columns a calendar adds, in feature order."""
    return list(COLUMNS.get(calendar, []))


def values(index: pd.DatetimeIndex, calendar: str) -> np.ndarray:
    """(T,) timestamps -> (T, len(columns(calendar))) float32."""
    if calendar != "year":
        return np.zeros((len(index), 0), np.float32)
    stamps = index.tz_convert(None) if index.tz is not None else index
    days = (stamps - pd.Timestamp("1970-01-01")) / pd.Timedelta(days=1)
    phase = 2 * np.pi * np.asarray(days, dtype=np.float64) / YEAR_DAYS
    return np.stack([np.sin(phase), np.cos(phase)], axis=1).astype(np.float32)


def offered(index: pd.Index, train_rows: int, frequency: str | None, season_length: int | None = None) -> bool:
    """Whether "auto" tries the year: timestamps on a frequency, two years of training rows, and a
    season shorter than a year (monthly data's 12 and weekly data's 52 already are the year: the
    seasonal base covers it)."""
    if frequency is None or not isinstance(index, pd.DatetimeIndex) or train_rows < 2:
        return False
    season = season_length or 1
    if season < train_rows and (index[season] - index[0]) / pd.Timedelta(days=1) >= YEAR_SEASON_DAYS:
        return False
    return bool((index[train_rows - 1] - index[0]) / pd.Timedelta(days=1) >= MIN_SPAN_DAYS)
