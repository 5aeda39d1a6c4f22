"""Command line for model/: train, evaluate and rebuild the bundled defaults (`python -m model`)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from dataclasses import fields, replace
from pathlib import Path
from typing import Any, TextIO

import numpy as np
import pandas as pd
import torch
from tqdm import tqdm

from model import store
from model.artifact import Artifact, ArtifactError, load_artifact, save_artifact
from model.backtest import backtest, format_backtest
from model.batch import LEVELS, forecast_file, trained_time_column
from model.config import ModelConfig, TrainConfig, check_options, options
from model.datasets import DATASETS, PRETRAINED
from model.evaluate import evaluate_classifier, evaluate_forecaster
from model.fit import EpochReport
from model.panel import nixtla_names
from model.predictor import INTERVAL_LEVELS
from model.tables import read_table
from model.train import train
from model.windows import DataError, prepare_series

# The CLI and `gru-forecast serve` share one store unless told otherwise: a version trained here is
# served by a running server at once (when it goes live), which is the point of training from here.
STORE_HELP = ("model store directory (default: $GRU_FORECAST_STORE, else ./models: the store `gru-forecast serve` "
              "reads, so a running server serves a new live version at once; give another to keep it apart)")


SHOWN_SHORT = 20  # a panel's refused series printed after training (the manifest keeps them all)


def _server_store() -> str:
    return os.environ.get("GRU_FORECAST_STORE") or "models"


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per option of model/config.py's table, same name with dashes: --input-size, --epochs ...
    (targets and covariates are --target and --covariates, beside --csv)."""
    for option in options().values():
        if option.offered == "none" or option.name in ("targets", "covariates"):
            continue
        flag = "--" + option.name.replace("_", "-")
        default = "null" if option.default is None else str(option.default).lower()
        limits = f"; {option.bounds}" if option.bounds is not None and option.kind is not str else ""
        text = f"{option.doc} (default {default}{limits})".replace("%", "%%")
        if option.kind is bool:  # --interpolate / --no-interpolate, --linear-skip / --no-linear-skip
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            parser.add_argument(flag, type=option.kind, choices=option.choices, default=None, help=text)


def _overrides(args: argparse.Namespace, cls: type) -> dict[str, Any]:
    return {f.name: getattr(args, f.name) for f in fields(cls) if getattr(args, f.name, None) is not None}


def _progress_bar(epochs: int) -> Any:
    bar = tqdm(total=epochs, unit="epoch", file=sys.stderr)

    def update(report: EpochReport) -> None:
        bar.update(1)
        bar.set_postfix(train=f"{report.train_loss:.4f}", val=f"{report.val_loss:.4f}")

    return bar, update


def _format_metrics(manifest_metrics: dict[str, Any]) -> str:
    lines = []
    for system in ("model", "naive", "seasonal_naive", "majority"):
        if system in manifest_metrics:
            values = "  ".join(f"{k}={v:.4g}" for k, v in manifest_metrics[system].items())
            lines.append(f"{system:>15}: {values}")
    if "coverage" in manifest_metrics:
        coverage = manifest_metrics["coverage"].items()
        lines.append(f"{'coverage':>15}: " + "  ".join(f"{k}%={v:.3f}" for k, v in coverage))
    return "\n".join(lines)


def _training_input(args: argparse.Namespace) -> tuple[pd.DataFrame, str | None, ModelConfig, TrainConfig, str]:
    """--dataset NAME, or --csv FILE --target COLUMN: the frame, time column, checked configs and default name."""
    if args.dataset:
        dataset = DATASETS[args.dataset]
        config = ModelConfig.from_dict({**dataset.model.to_dict(), **_overrides(args, ModelConfig)})
        train_config = TrainConfig(**{**dataset.training.to_dict(), **_overrides(args, TrainConfig)})
        check_options(config, train_config)
        return dataset.load(), dataset.time_column, config, train_config, dataset.name
    if not args.csv or not (args.target or args.id_column):
        raise DataError("give --dataset NAME, or --csv FILE with --target COLUMN (a panel's --id-column alone "
                        "reads unique_id, ds, y)")
    # --covariates is a ModelConfig field too: one dict, or the keyword comes twice (a TypeError before).
    config = ModelConfig(**{**_overrides(args, ModelConfig), **({"targets": args.target} if args.target else {}),
                            "covariates": args.covariates or []})
    train_config = TrainConfig(**_overrides(args, TrainConfig))
    check_options(config, train_config)
    frame, time_column = read_table(args.csv), args.time_column
    if config.id_column is not None:  # Nixtla's unique_id, ds, y: resolved before training, so saved resolved
        config, time_column = nixtla_names(frame, config, time_column)
    return frame, time_column, config, train_config, Path(args.csv).stem


def command_train(args: argparse.Namespace) -> int:
    frame, time_column, config, train_config, default_name = _training_input(args)
    name = args.name or default_name
    bar, update = _progress_bar(train_config.epochs)
    try:
        artifact = train(frame, config, train_config, time_column, progress=update)
    finally:
        bar.close()
    _save(Path(args.store), name, artifact, sys.stdout)
    if artifact.manifest.panel is not None:  # a panel's series left out are named, never dropped unseen
        short = list(artifact.manifest.panel["short"].items())
        left = len(short) - SHOWN_SHORT
        more = f"\n  ... {left} more in the manifest's panel.short" if left > 0 else ""
        print(f"{artifact.manifest.panel['series']} series trained on; {len(short)} too short or unusable"
              + "".join(f"\n  {key}: {why}" for key, why in short[:SHOWN_SHORT]) + more)
    print(_format_metrics(artifact.manifest.metrics))
    return 0


def _save(root: Path, name: str, artifact: Artifact, stream: TextIO) -> None:
    version = store.save_version(root, name, artifact)
    live = store.live_version(root, name)
    state = "live" if live == version else f"not live: {live} stays live until this one is promoted"
    print(f"saved {name} {version} in {root} ({state}; a server on this store serves what is live)", file=stream)


def _load(root: Path, name: str, version: str | None) -> tuple[Artifact, str]:
    """A stored version (default: the live one) and its name, or a DataError saying why not."""
    version = version or store.live_version(root, name)
    if version is None:
        raise DataError(f"no model {name!r} in {root}")
    try:
        return load_artifact(root / name / version), version
    except ArtifactError as exc:
        raise DataError(str(exc)) from exc


def command_evaluate(args: argparse.Namespace) -> int:
    artifact, version = _load(Path(args.store), args.name, args.version)
    if not args.csv:
        print(f"{args.name} {version}: test metrics recorded at training time")
        print(_format_metrics(artifact.manifest.metrics))
        return 0
    series = prepare_series(read_table(args.csv), artifact.config, args.time_column)
    if artifact.config.task == "classify":
        result = evaluate_classifier(artifact.predictor, series, np.asarray(artifact.manifest.class_prior))
    else:
        result = evaluate_forecaster(artifact.predictor, series, np.asarray(artifact.manifest.mase_scale))
    print(_format_metrics(result) if not args.json else json.dumps(result, indent=2))
    return 0


def command_backtest(args: argparse.Namespace) -> int:
    frame, time_column, config, train_config, default_name = _training_input(args)
    bar, update = _progress_bar(train_config.epochs * (max(args.origins, 1) + (args.store is not None)))
    try:
        result = backtest(frame, config, train_config, time_column, statistical=not args.no_stats,
                          progress=update, origins=args.origins, step=args.step)
        # The newest origin's model is train() on the whole series: seeded, so training it again here
        # gives the weights that were scored (backtest() keeps no model of its own).
        artifact = train(frame, config, train_config, time_column, progress=update) if args.store else None
    finally:
        bar.close()
    print(json.dumps(result, indent=2) if args.json else format_backtest(result))
    if artifact is not None:
        _save(Path(args.store), args.name or default_name, artifact, sys.stderr if args.json else sys.stdout)
    return 0


def command_batch(args: argparse.Namespace) -> int:
    artifact, _ = _load(Path(args.store), args.model, args.version)
    summary = forecast_file(artifact.predictor, Path(args.input), Path(args.output), args.model, tuple(args.levels),
                            args.time_column, trained_time=trained_time_column(artifact.manifest))
    print(summary.line())
    return 0


def rebuild_defaults(out: Path, names: list[str]) -> None:
    """Retrain the bundled defaults (seeded, so the same machine gives the same weights)."""
    for name in names:
        dataset = DATASETS[name]
        bar, update = _progress_bar(dataset.training.epochs)
        artifact = train(dataset.load(), dataset.model, dataset.training, dataset.time_column,
                         progress=update)
        bar.close()
        artifact.manifest = replace(artifact.manifest, name=name, version="v1", description=dataset.description,
                                    source=f"model/data/{dataset.file}")
        staging = Path(tempfile.mkdtemp(dir=out.parent if out.exists() else None))
        save_artifact(artifact, staging / "v1")
        target = out / name / "v1"
        if target.exists():
            shutil.rmtree(target)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(staging / "v1", target)
        shutil.rmtree(staging, ignore_errors=True)
        print(f"{name}:\n{_format_metrics(artifact.manifest.metrics)}")


def command_rebuild(args: argparse.Namespace) -> int:
    rebuild_defaults(Path(args.out), args.only or list(DATASETS))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gru-forecast", description="GRU forecasting: train, evaluate, serve")
    parser.add_argument("--threads", type=int, default=1, help="torch intra-op threads (default 1)")
    commands = parser.add_subparsers(dest="command", required=True)

    p = commands.add_parser("train", help="train on a bundled dataset or a CSV and save a new version")
    p.add_argument("--dataset", choices=sorted(DATASETS))
    p.add_argument("--csv", help="a CSV file with a header row, or a Parquet file")
    p.add_argument("--target", action="append", help="column to forecast (repeat for several)")
    p.add_argument("--covariates", nargs="*", help="extra input columns")
    p.add_argument("--time-column", help="timestamps column (default: row order)")
    p.add_argument("--name", help="model name (default: the dataset or file name)")
    p.add_argument("--store", default=_server_store(), help=STORE_HELP)
    _add_config_flags(p)
    p.set_defaults(run=command_train)

    p = commands.add_parser("backtest", help="train on the first part of a series, score its test windows "
                            "beside naive, seasonal naive, AutoETS and AutoARIMA (the bench extra)")
    p.add_argument("--dataset", choices=sorted(DATASETS))
    p.add_argument("--csv", help="a CSV file with a header row, or a Parquet file")
    p.add_argument("--target", action="append", help="column to forecast (repeat for several)")
    p.add_argument("--covariates", nargs="*", help="extra input columns")
    p.add_argument("--time-column", help="timestamps column (default: row order)")
    p.add_argument("--no-stats", action="store_true", help="skip AutoETS and AutoARIMA even when installed")
    p.add_argument("--origins", type=int, default=1,
                   help="forecast origins: train again on the series cut back by one test part at a time and "
                   "score every origin's test windows together (default 1)")
    p.add_argument("--step", type=int, default=None,
                   help="rows between the starts of test windows (default: the horizon, non-overlapping windows; "
                   "1 scores a forecast from every point)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--store", help="also save the newest origin's model (the whole series' training, as `train` "
                   "would: trained once more, seeded, so the same weights) as a new version in this store")
    p.add_argument("--name", help="model name with --store (default: the dataset or file name)")
    _add_config_flags(p)
    p.set_defaults(run=command_backtest)

    p = commands.add_parser("evaluate", help="show a saved model's test metrics, or evaluate it on a CSV")
    p.add_argument("--name", required=True)
    p.add_argument("--version")
    p.add_argument("--store", default=_server_store(), help="model store to read (default: $GRU_FORECAST_STORE, "
                   "else ./models: the one `gru-forecast serve` reads)")
    p.add_argument("--csv")
    p.add_argument("--time-column")
    p.add_argument("--json", action="store_true")
    p.set_defaults(run=command_evaluate)

    p = commands.add_parser("batch", help="forecast every series of a long-format CSV or Parquet file with a panel "
                            "model, into a file in NeuralForecast's columns")
    p.add_argument("--model", required=True, help="a panel model (trained with --id-column) in the store")
    p.add_argument("--version", help="default: the live version")
    p.add_argument("--input", required=True, help="long format, the rows of each series together: the model's id, "
                   "target and covariate columns, or unique_id, ds, y (.csv, .parquet or .pq)")
    p.add_argument("--output", required=True, help="unique_id, ds, MODEL, MODEL-lo-80, ... (.csv, .parquet or .pq)")
    p.add_argument("--levels", type=int, nargs="+", default=list(LEVELS), help="interval levels in percent "
                   f"(default {' '.join(map(str, LEVELS))}; any of {' '.join(map(str, INTERVAL_LEVELS))})")
    p.add_argument("--time-column", help="timestamps column (default: the model's training time column, else ds, "
                   "when the file has it; without one, ds is the step 1..horizon)")
    p.add_argument("--store", default=_server_store(), help="model store to read (default: $GRU_FORECAST_STORE, "
                   "else ./models: the one `gru-forecast serve` reads)")
    p.set_defaults(run=command_batch)

    p = commands.add_parser("rebuild-defaults", help="retrain the bundled default models")
    p.add_argument("--out", default=str(PRETRAINED))
    p.add_argument("--only", nargs="*", choices=sorted(DATASETS))
    p.set_defaults(run=command_rebuild)
    return parser


def main(argv: list[str] | None = None, parser: argparse.ArgumentParser | None = None) -> int:
    args = (parser or build_parser()).parse_args(argv)
    # One intra-op thread unless asked: with the other core busy, OpenMP's spinning threads stall (LESSONS.md).
    torch.set_num_threads(args.threads)
    try:
        return int(args.run(args))
    except DataError as exc:  # what the user can change: one line, exit 2 (as argparse's own errors)
        print(f"error: {exc}", file=sys.stderr)
        return 2
