"""The promotion gate: does a newly trained version beat the live one on the same held-out part?"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from model.artifact import Artifact
from model.config import TrainConfig
from model.evaluate import evaluate_classifier, evaluate_forecaster
from model.windows import DataError, prepare_series, split_windows


def _score(artifact: Artifact, frame: pd.DataFrame, time_column: str | None, train_config: TrainConfig,
           mase_scale: np.ndarray) -> float:
    """MASE (forecasts) or accuracy (classes) on the test part of this frame, as the new version split it."""
    config = artifact.config
    series = prepare_series(frame, config, time_column, interpolate=train_config.interpolate)
    split = split_windows(len(series.values), config.input_size, config.horizon, train_config.val_fraction,
                          train_config.test_fraction, train_config.calibration_fraction)
    if config.task == "classify":
        uniform = np.full(len(config.classes), 1 / len(config.classes))
        prior = np.asarray(artifact.manifest.class_prior or uniform)
        return float(evaluate_classifier(artifact.predictor, series, prior, split.test)["model"]["accuracy"])
    return float(evaluate_forecaster(artifact.predictor, series, mase_scale, split.test)["model"]["mase"])


def judge(new: Artifact, live: Artifact | None, live_version: str | None, frame: pd.DataFrame,
          time_column: str | None, train_config: TrainConfig) -> dict[str, Any]:
    """The decision of `"promote": "if_better"`, with both numbers and the reason, for the job's record."""
    task = new.config.task
    metric = "accuracy" if task == "classify" else "mase"
    mase_scale = np.asarray(new.manifest.mase_scale or [1.0])
    # Both scored by the same code on the same windows: equal models give equal numbers.
    new_score = _score(new, frame, time_column, train_config, mase_scale)
    decision: dict[str, Any] = {"rule": "if_better", "metric": metric, "new": new_score, "live_version": live_version,
                                "live": None}
    if live is None:
        return {**decision, "promote": True, "reason": "no live version"}
    different = [field for field in ("task", "targets", "horizon")
                 if getattr(live.config, field) != getattr(new.config, field)]
    if different:
        return {**decision, "promote": False,
                "reason": f"not comparable with {live_version}: {', '.join(different)} differ; promote it by hand"}
    try:
        live_score = _score(live, frame, time_column, train_config, mase_scale)
    except DataError as exc:
        return {**decision, "promote": False, "reason": f"{live_version} cannot read this data: {exc}"}
    better = new_score > live_score if task == "classify" else new_score < live_score
    word = "beats" if better else "does not beat"
    return {**decision, "live": live_score, "promote": better,
            "reason": f"{metric} {new_score:.4g} on the test part {word} {live_version}'s {live_score:.4g}"}
