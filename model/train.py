"""From a DataFrame to a trained, evaluated Artifact, one named step at a time.

resolve -> choose -> calendar -> race -> calibrate (refit, interval unit, widths) -> evaluate -> package.
Each step returns a frozen record; model/decisions.py turns them into the manifest's choice and
validation. No step changes the config it was given (dataclasses.replace).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pandas as pd

from model.artifact import Artifact, build_manifest, fingerprint
from model.calibrate import calibrate
from model.choice import Choice, choose
from model.classifier import train_classifier
from model.config import ModelConfig, TrainConfig, check_options
from model.decisions import CalendarDecision, ValidationRecord, classifier_choice, forecaster_choice
from model.evaluate import classifier_metrics, coverage_warning, forecast_metrics, window_forecasts
from model.fit import CancelCheck, EpochReport, Progress, learning_rate
from model.panel import MIN_POINTS, nixtla_names, read_panel
from model.panel_train import calibrate_panel, resolve_panel, training_min_rows
from model.predictor import Predictor
from model.race import race
from model.resolve import NOT_OFFERED, Resolved, resolve, year_offered
from model.tails import tails_frame
from model.windows import DataError, Series, Split, prepare_series, resolved_config, split_windows

__all__ = ["check_options", "train"]


def train(
    frame: pd.DataFrame,
    config: ModelConfig,
    train_config: TrainConfig | None = None,
    time_column: str | None = None,
    progress: Progress | None = None,
    should_cancel: CancelCheck | None = None,
) -> Artifact:
    """Train on the training part, choose and stop on validation, calibrate, report on the test part."""
    train_config = train_config or TrainConfig()
    check_options(config, train_config)
    if config.id_column:
        return _panel(frame, config, train_config, time_column, progress, should_cancel)
    asked = config
    series = prepare_series(frame, config, time_column, interpolate=train_config.interpolate)
    config = resolved_config(config, series)
    split = split_windows(len(series.values), config.input_size, config.horizon, train_config.val_fraction,
                          train_config.test_fraction, train_config.calibration_fraction)
    if config.task == "classify":
        return _classifier(series, config, asked, split, train_config, progress, should_cancel)
    data = resolve(series, config, split, train_config)
    choice = choose(data)
    data, choice, calendar = try_year(data, choice, asked)
    raced = race(data, choice, train_config, progress, should_cancel)
    predictor = raced.predictor
    calibration = calibrate(predictor, raced.chosen, data, train_config.refit)
    test = forecast_metrics(window_forecasts(predictor, data.series, split.test), data.mase_scale)
    # Bands off their nominal coverage: the job, the model card and the page say so.
    test = replace(test, coverage_warning=coverage_warning(test.to_dict(), data.config.horizon))
    chosen = forecaster_choice(asked, predictor.config, raced.chosen, choice, data.season_source, calendar,
                               raced.record, learning_rate(len(data.train_rows), data.budget), data.budget.max_steps)
    validation = ValidationRecord(len(data.val_rows), raced.chosen, choice, len(data.blocks) + 1, calendar,
                                  raced.record, calibration)
    return package(predictor, data.series, train_config, raced.history, test.to_dict(),
                   mase_scale=data.mase_scale.tolist(), choice=chosen.to_dict(), validation=validation.to_dict())


def try_year(data: Resolved, choice: Choice, asked: ModelConfig) -> tuple[Resolved, Choice, CalendarDecision]:
    """The same choice again with the time of year as input, where "auto" offers it; kept only if its best
    start scores lower over the blocks (a tie keeps the simpler model)."""
    if not data.calendar_offered:
        why = "given" if asked.calendar != "auto" else NOT_OFFERED
        return data, choice, CalendarDecision(data.config.calendar, why)
    dated = data.with_year()
    year = choose(dated)
    scores = {"none": choice.best.score, "year": year.best.score}
    table = {**choice.scores, **{f"year/{k}": v for k, v in year.scores.items()}}
    if year.best.score < choice.best.score:
        return dated, replace(year, scores=table), CalendarDecision(
            "year", "auto: the best start with the year scored lower over the choice blocks", scores)
    return data, replace(choice, scores=table), CalendarDecision(
        "none", "auto: the year did not lower the best start's score over the choice blocks", scores)


def _panel(frame: pd.DataFrame, config: ModelConfig, train_config: TrainConfig, time_column: str | None,
           progress: Progress | None, should_cancel: CancelCheck | None) -> Artifact:
    """One global model on every series of a long-format frame (model/panel_train.py): the same steps."""
    config, time_column = nixtla_names(frame, config, time_column)
    asked = config
    panel = read_panel(frame, config, time_column, train_config.interpolate, training_min_rows(config))
    if not panel.series:
        first = "; ".join(f"{k}: {v}" for k, v in list(panel.short.items())[:3])
        raise DataError(f"no series of the panel can be used ({len(panel.short)} refused; {first})")
    data, layout = resolve_panel(panel, resolved_config(config, panel.series[0]), train_config)
    choice = choose(data)
    data, choice, calendar = try_year(data, choice, asked)
    raced = race(data, choice, train_config, progress, should_cancel)
    predictor = raced.predictor
    calibration = calibrate_panel(predictor, data, layout)
    test = forecast_metrics(window_forecasts(predictor, data.series, layout.test), data.scale(layout.test))
    test = replace(test, mase_scale=[], coverage_warning=coverage_warning(test.to_dict(), 1))
    chosen = forecaster_choice(asked, predictor.config, raced.chosen, choice, data.season_source, calendar,
                               raced.record, learning_rate(len(data.train_rows), data.budget), data.budget.max_steps)
    validation = ValidationRecord(len(data.val_rows), raced.chosen, choice, len(data.blocks) + 1, calendar,
                                  raced.record, calibration)
    record = {"series": len(panel.ids), "short": panel.short, "min_points": MIN_POINTS, "id_column": config.id_column,
              "time_column": time_column, "refitted": False, "calibration_windows": len(layout.calibration),
              "training_windows": len(layout.train)}
    artifact = package(predictor, data.series, train_config, raced.history, test.to_dict(), mase_scale=None,
                       choice=chosen.to_dict(), validation=validation.to_dict(), panel=record)
    artifact.tails = tails_frame(panel, predictor.config, time_column)  # each series' window, for the page
    return artifact


def _classifier(series: Series, config: ModelConfig, asked: ModelConfig, split: Split, train_config: TrainConfig,
                progress: Progress | None, should_cancel: CancelCheck | None) -> Artifact:
    """A classifier reads standard-scaled covariates and has no base: no choice, no race."""
    offered = year_offered(config, series, split)
    config = replace(config, scaling="standard", base="naive", calendar="none" if config.calendar == "auto"
                     else config.calendar)
    done = train_classifier(series, config, split, train_config, asked.calendar, offered, progress, should_cancel)
    test = classifier_metrics(done.predictor, done.series, done.prior, split.test).to_dict()
    chosen = classifier_choice(asked, done.predictor.config, done.calendar)
    return package(done.predictor, done.series, train_config, done.history, test, class_prior=done.prior.tolist(),
                   choice=chosen.to_dict(), validation={"calendar": done.calendar.scores})


def package(predictor: Predictor, series: Series, train_config: TrainConfig, history: list[EpochReport],
            test: dict[str, Any], **extra: Any) -> Artifact:
    """The trained predictor and everything about it as one Artifact (saved by model/artifact.py)."""
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

