"""Rebuilds the bundled CSVs from the PyPI wheels named in SOURCES.md (run once, never at run time).

    pip download --no-deps -d wheels backtesting==0.6.6 vega-datasets==0.9.0 scipy==1.11.4
    python -m model.data.extract wheels
"""

from __future__ import annotations

import gzip
import io
import sys
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).parent


def _member(wheel_dir: Path, prefix: str, member: str) -> bytes:
    wheel = next(wheel_dir.glob(f"{prefix}-*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(member)


def _write(frame: pd.DataFrame, name: str) -> None:
    # mtime=0 keeps the gzip bytes identical from one extraction to the next.
    with gzip.GzipFile(HERE / name, "wb", mtime=0) as out:
        out.write(frame.to_csv(index=False, lineterminator="\n").encode())


def extract(wheel_dir: Path) -> None:
    goog = pd.read_csv(io.BytesIO(_member(wheel_dir, "backtesting", "backtesting/test/GOOG.csv")))
    goog = goog.rename(columns={"Unnamed: 0": "date"})
    goog.columns = [c.lower() for c in goog.columns]
    _write(goog, "stock_goog.csv.gz")

    seattle = pd.read_csv(
        io.BytesIO(_member(wheel_dir, "vega_datasets", "vega_datasets/_data/seattle-weather.csv"))
    )
    seattle["date"] = pd.to_datetime(seattle["date"]).dt.strftime("%Y-%m-%d")
    _write(seattle, "weather_seattle.csv.gz")

    sf = pd.read_csv(io.BytesIO(_member(wheel_dir, "vega_datasets", "vega_datasets/_data/sf-temps.csv")))
    # 8,759 rows: the file skips 2010-03-14 03:00 (a daylight-saving artefact). Put the series on a
    # regular hourly index and fill that one hour linearly, so frequency "h" holds for the whole year.
    sf.index = pd.DatetimeIndex(pd.to_datetime(sf["date"], format="%Y/%m/%d %H:%M:%S"))
    hours = pd.date_range("2010-01-01", "2010-12-31 23:00", freq="h")
    temps = sf["temp"].reindex(hours).interpolate().round(2)
    _write(pd.DataFrame({"date": hours.strftime("%Y-%m-%dT%H:%M:%S"), "temp": temps.to_numpy()}),
           "temps_sf_hourly.csv.gz")

    # As scipy 1.11's scipy.misc.electrocardiogram(): an .npz of raw ADC counts, (x - 1024) / 200 mV.
    raw = _member(wheel_dir, "scipy", "scipy/misc/ecg.dat")
    with np.load(io.BytesIO(raw)) as npz:
        millivolts = (npz["ecg"].astype(int) - 1024) / 200.0
    ecg = pd.DataFrame({"sample": np.arange(millivolts.size), "mv": millivolts})
    _write(ecg, "ecg_mitbih208.csv.gz")


if __name__ == "__main__":
    extract(Path(sys.argv[1]))
