"""Forecast accuracy: the backtest of every bundled series beside the tutorial GRU and statsforecast.

    .venv/bin/pip install -e ".[bench]"      # statsforecast: AutoETS, AutoARIMA
    .venv/bin/python -m benchmarks.accuracy [--only ecg]

Protocol (issue #9): chronological train | validation | calibration | test (65/10/10/15), default
options, non-overlapping test windows (stride = horizon), MASE scaled by the training part's
one-step naive error. Every system forecasts the same windows:
- gru-forecast with its defaults (`gru-forecast backtest`);
- the GRU as the seed tutorial trains it: global standardization fitted on the training part,
  nn.GRU + Linear predicting the standardized horizon, Adam 0.001, MSE, batch 64, 30 epochs, no
  early stopping, on the training windows (every k-th, so that an epoch has at most 8,000);
- naive, seasonal naive, and AutoETS / AutoARIMA (statsforecast, fitted on the 4,000 points
  before the test part, applied to the history before each window).
Writes benchmarks/out/accuracy.md (benchmarks/report.py puts it into RESULTS.md, row by row).
"""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from benchmarks.output import OUT, save
from benchmarks.training import PlainGRU
from model.backtest import backtest, backtest_windows
from model.config import ModelConfig, TrainConfig
from model.datasets import DATASETS
from model.windows import make_windows, prepare_series, split_windows

CASES: list[tuple[str, dict[str, Any]]] = [
    ("stock", {}), ("weather", {}), ("sf-temps", {}), ("ecg", {}), ("ecg", {"input_size": 360, "horizon": 36}),
]
TUTORIAL_WINDOWS = 8000  # most training windows per tutorial epoch (ECG: every 9th)


def tutorial_gru(frame: Any, config: ModelConfig, train_config: TrainConfig, time_column: str | None,
                 epochs: int = 30) -> tuple[np.ndarray, float]:
    """Forecasts (N, H, T) of the tutorial GRU on the frame's test windows, and its training seconds."""
    started = time.perf_counter()
    series = prepare_series(frame, config, time_column)
    starts = backtest_windows(series, config, train_config)
    split = split_windows(len(series.values), config.input_size, config.horizon, train_config.val_fraction,
                          train_config.test_fraction, train_config.calibration_fraction)
    n = len(config.targets)
    train_values = series.values[: split.train_rows]
    mean, std = train_values.mean(axis=0), np.where(train_values.std(axis=0) > 0, train_values.std(axis=0), 1)
    scaled = (series.values - mean) / std
    x, y = make_windows(scaled, config.input_size, config.horizon)
    rows = np.arange(split.train.start, split.train.stop)
    rows = rows[:: max(1, -(-len(rows) // TUTORIAL_WINDOWS))]
    torch.manual_seed(0)
    net = PlainGRU(x.shape[2], config.hidden_size, config.horizon * n, config.horizon)
    optimizer = torch.optim.Adam(net.parameters(), lr=0.001)
    xt, yt = torch.tensor(x[rows]), torch.tensor(y[rows, :, :n])
    generator = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        net.train()
        for batch in torch.randperm(len(xt), generator=generator).split(64):
            optimizer.zero_grad()
            loss = nn.functional.mse_loss(net(xt[batch]), yt[batch])
            loss.backward()
            optimizer.step()
    net.eval()
    with torch.no_grad():
        out = net(torch.tensor(x[starts])).numpy()
    return out * std[:n] + mean[:n], time.perf_counter() - started


def run_case(name: str, overrides: dict[str, Any], origins: int = 1) -> dict[str, Any]:
    d = DATASETS[name]
    config = ModelConfig.from_dict({**d.model.to_dict(), **overrides})
    frame, train_config = d.load(), d.training

    def tutorial(cut: Any) -> dict[str, tuple[np.ndarray, float]]:
        return {"tutorial_gru": tutorial_gru(cut, config, train_config, d.time_column)}

    result = backtest(frame, config, train_config, d.time_column, others=tutorial, origins=origins)
    result["label"] = f"{name} ({config.input_size}, {config.horizon})"
    return result


def table(results: list[dict[str, Any]]) -> str:
    systems = ["model", "tutorial_gru", "naive", "seasonal_naive", "auto_ets", "auto_arima"]
    head = ["series (input, horizon)", "windows", "season", "gru-forecast", "tutorial GRU", "naive",
            "seasonal naive", "AutoETS", "AutoARIMA", "GRU vs best other (Diebold-Mariano p)",
            "coverage 80 / 95 (90% bootstrap interval)",
            "seconds: GRU / tutorial / ETS / ARIMA", "choice"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in results:
        mase = {s: r[s]["mase"] for s in systems if s in r}
        best = min((s for s in mase if s != "model"), key=mase.__getitem__)
        cells = [r["label"], str(r["windows"]), str(r["season_length"])]
        cells += [f"**{mase[s]:.3f}**" if s in mase and mase[s] == min(mase.values()) else
                  (f"{mase[s]:.3f}" if s in mase else "-") for s in systems]
        cells.append(f"{mase['model'] / mase[best]:.3f}x (p {r['versus'][best]['p_value']:.2f})")
        bounds = r["coverage_interval"]
        cells.append(" / ".join(f"{r['coverage'][k]:.2f} ({bounds[k][0]:.2f}..{bounds[k][1]:.2f})"
                                for k in ("80", "95")))
        cells.append(" / ".join(f"{r['seconds'][s]:.0f}" if s in r["seconds"] else "-"
                                for s in ("model", "tutorial_gru", "auto_ets", "auto_arima")))
        c = r["choice"]
        parts = " + ".join(f"{p['base']} (ridge {p['ridge_penalty']})" for p in c.get("combined", []))
        start = f"mean of {parts}" if parts else f"{c['base']}, ridge {c['ridge_penalty']}"
        pair = ", with its bare-base run (pair)" if c.get("members", 1) > 1 else ""
        year = ", time of year" if c.get("calendar") == "year" else ""
        cells.append(f"{c['scaling']}{year}, {start}{pair}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--only", nargs="*", help="dataset names (default: every case)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--origins", type=int, default=1,
                        help="forecast origins per series (backtest's origins): several times the test windows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    for name, overrides in CASES:
        if args.only and name not in args.only:
            continue
        results.append(run_case(name, overrides, args.origins))
        print(table(results[-1:]), flush=True)
    # Several origins get their own files (and their own table in RESULTS.md).
    out = "accuracy" if args.origins == 1 else f"accuracy_origins{args.origins}"
    part = ("the test part" if args.origins == 1 else
            f"the test parts of {args.origins} origins (each trained again on the series before it)")
    OUT.mkdir(exist_ok=True)  # every number of every system (and each origin's), beside the table
    (OUT / f"{out}.json").write_text(json.dumps(results, indent=1))
    save(out, f"MASE on {part}, non-overlapping windows; torch threads {args.threads}.\n\n" + table(results))


if __name__ == "__main__":
    main()
