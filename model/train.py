"""From a DataFrame to a trained, evaluated Artifact: windows -> fit -> test metrics -> intervals."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import torch

from model import metrics
from model.artifact import Artifact, build_manifest, fingerprint
from model.config import ModelConfig, TrainConfig
from model.evaluate import class_windows, evaluate_classifier, evaluate_forecaster
from model.fit import CancelCheck, EpochReport, Progress, choose_device, fit
from model.network import GRUNet
from model.predictor import Predictor, conformal_quantiles
from model.scaling import fit_scaler, scale_inputs, scale_targets
from model.windows import DataError, Series, Split, make_windows, prepare_series, split_windows


def _check_options(config: ModelConfig, train_config: TrainConfig) -> None:
    if config.input_size < 2 or config.horizon < 1:
        raise DataError(f"input_size must be >= 2 and horizon >= 1 (got {config.input_size}, {config.horizon})")
    if config.task == "classify" and not config.covariates:
        raise DataError("a classifier needs covariates: the numeric columns it reads to predict the label")
    if not 0 < train_config.val_fraction < 0.5 or not 0 < train_config.test_fraction < 0.5:
        raise DataError("val_fraction and test_fraction must each lie between 0 and 0.5")


def train(
    frame: pd.DataFrame,
    config: ModelConfig,
    train_config: TrainConfig | None = None,
    time_column: str | None = None,
    progress: Progress | None = None,
    should_cancel: CancelCheck | None = None,
) -> Artifact:
    """Train on the training part, stop on the validation part, report on the test part."""
    train_config = train_config or TrainConfig()
    _check_options(config, train_config)
    series = prepare_series(frame, config, time_column, interpolate=train_config.interpolate)
    split = split_windows(
        len(series.values), config.input_size, config.horizon, train_config.val_fraction, train_config.test_fraction
    )
    scaler = fit_scaler(series.values[: split.train_rows], config)  # training part only: no leakage
    torch.manual_seed(train_config.seed)  # the initial weights too
    net = GRUNet(config)
    predictor = Predictor(config=config, net=net, scaler=scaler)
    if config.task == "classify":
        return _train_classifier(series, predictor, split, train_config, progress, should_cancel)
    return _train_forecaster(series, predictor, split, train_config, progress, should_cancel)


def _train_forecaster(series: Series, predictor: Predictor, split: Split, train_config: TrainConfig,
                      progress: Progress | None, should_cancel: CancelCheck | None) -> Artifact:
    config = predictor.config
    n_targets = len(config.targets)
    x, y = make_windows(series.values, config.input_size, config.horizon)

    def scaled(part: slice, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
        xs, loc, scale = scale_inputs(x[part][::stride], predictor.scaler)
        return xs, scale_targets(y[part][::stride, :, :n_targets], loc, scale)

    history = fit(predictor.net, "forecast", scaled(split.train, train_config.stride), scaled(split.val),
                  train_config, progress, should_cancel)
    predictor.to(choose_device("cpu"))
    # Split-conformal intervals from validation residuals, in model units (scaled back per window).
    val_x, val_y = scaled(split.val)
    out, _ = predictor.forward(x[split.val])
    predictor.quantiles = conformal_quantiles(val_y - out)
    mase_scale = metrics.naive_scale(series.values[: split.train_rows, :n_targets])
    test = evaluate_forecaster(predictor, series, mase_scale, split.test)
    return _artifact(predictor, series, train_config, history, test, mase_scale=mase_scale.tolist())


def _train_classifier(series: Series, predictor: Predictor, split: Split, train_config: TrainConfig,
                      progress: Progress | None, should_cancel: CancelCheck | None) -> Artifact:
    config = predictor.config
    x, labels = class_windows(series, config.input_size)

    def scaled(part: slice, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
        return scale_inputs(x[part][::stride], predictor.scaler)[0], labels[part][::stride]

    history = fit(predictor.net, "classify", scaled(split.train, train_config.stride), scaled(split.val),
                  train_config, progress, should_cancel)
    predictor.to(choose_device("cpu"))
    counts = np.bincount(labels[split.train], minlength=len(config.classes)).astype(float)
    prior = counts / counts.sum()
    test = evaluate_classifier(predictor, series, prior, split.test)
    return _artifact(predictor, series, train_config, history, test, class_prior=prior.tolist())


def _artifact(predictor: Predictor, series: Series, train_config: TrainConfig, history: list[EpochReport],
              test: dict[str, Any], **extra: Any) -> Artifact:
    manifest = build_manifest(
        predictor,
        metrics=test,
        train_config=train_config.to_dict(),
        epochs_run=len(history),
        history=[{"epoch": h.epoch, "train_loss": h.train_loss, "val_loss": h.val_loss, "seconds": round(h.seconds, 3)}
                 for h in history],
        data_fingerprint=fingerprint(series.values),
        rows=len(series.values),
        **extra,
    )
    return Artifact(predictor=predictor, manifest=manifest)
