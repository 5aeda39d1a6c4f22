"""The two configs: what a model is (saved in its artifact) and how it is trained."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from model.calendar import Calendar, columns

Task = Literal["forecast", "classify"]
Cell = Literal["fused", "seed"]
Optimizer = Literal["adam", "sgd"]
Scaling = Literal["auto", "window", "robust", "standard"]
Base = Literal["auto", "naive", "seasonal", "seasonal_level"]


@dataclass
class ModelConfig:
    task: Task = "forecast"
    targets: list[str] = field(default_factory=lambda: ["value"])  # columns forecast (or the label column)
    covariates: list[str] = field(default_factory=list)  # extra input columns, not forecast
    input_size: int = 64  # points of history the network reads per window
    horizon: int = 1  # steps emitted at once (direct multi-step); 1 for classification
    hidden_size: int = 64  # GRU state width
    num_layers: int = 1  # stacked GRU layers
    dropout: float = 0.0  # between stacked layers (nn.GRU semantics) and before the head
    cell: Cell = "fused"  # "fused": torch nn.GRU; "seed": the seed's four equations, written out
    classes: list[str] = field(default_factory=list)  # class names, classification only
    frequency: str | None = None  # pandas offset alias of the time index ("D", "B"), None for sample numbers
    # Period in steps. None: from the frequency (h -> 24, D -> 7, ...) or detected on the training part.
    season_length: int | None = None
    # How windows are scaled (model/scaling.py); "auto" picks one on validation. Saved resolved.
    scaling: Scaling = "auto"
    # What the network corrects: the naive or the seasonal-naive forecast; "auto" picks the better on
    # validation. The untrained model IS that forecast, so training can only keep what beats it.
    base: Base = "auto"
    # A linear map from the scaled window straight to the output beside the GRU (LSTNet's
    # autoregressive component), started from a ridge fit: smooth seasonal series need it.
    linear_skip: bool = True
    # Where in the year each point lies, as inputs (model/calendar.py): "year" adds its sin and cos,
    # "auto" tries that when the training part spans two years (a forecaster on the choice blocks, a
    # classifier by a second fit's validation loss). Saved resolved.
    calendar: Calendar = "auto"
    # GRU bodies side by side, read by one head: an ensemble served in one forward pass. Training sets
    # 2 when its race's two runs forecast better together than either alone on validation.
    members: int = 1

    @property
    def features(self) -> list[str]:
        """Input columns in the order the network sees them: inputs, covariates, then the calendar's."""
        inputs = self.inputs
        return inputs + [c for c in self.covariates if c not in inputs] + self.calendar_columns

    @property
    def calendar_columns(self) -> list[str]:
        """The inputs computed from the timestamps, not read from the data (model/calendar.py)."""
        return columns(self.calendar)

    @property
    def inputs(self) -> list[str]:
        # A classifier reads its covariates only: its target is a label, not a number.
        return [] if self.task == "classify" else list(self.targets)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelConfig:
        known = {k: v for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**known)


@dataclass
class TrainConfig:
    epochs: int = 30  # upper bound; early stopping may end sooner. Validation runs once per epoch.
    batch_size: int = 64
    lr: float = 0.001
    optimizer: Optimizer = "adam"
    # Most optimizer steps of one run. Below epochs x (windows / batch_size) every "epoch" becomes
    # max_steps / epochs steps of windows sampled from the whole training part: a 100,000-point
    # series trains in minutes, and small data keeps its 30 full epochs. For windows up to
    # fit.STEP_WINDOW points; a longer window gets proportionally fewer (a step's time grows with it).
    # 0: no limit. A race (model/train.py) trains two runs a third each, then the winner a third
    # more: this in all, whether one run or the pair is served.
    max_steps: int = 1500
    patience: int = 5  # epochs without validation improvement before stopping
    clip_norm: float = 1.0  # gradient-norm clipping; 0 disables
    seed: int = 0  # makes a CPU run repeat exactly
    # Chronological: train | validation (early stopping) | calibration (intervals) | test.
    val_fraction: float = 0.1
    calibration_fraction: float = 0.1
    test_fraction: float = 0.15
    stride: int = 1  # step between consecutive training windows: thins the data; max_steps bounds the time
    device: str = "auto"  # "auto" (CUDA when present), "cpu", "cuda"
    interpolate: bool = False  # fill missing values linearly instead of refusing them
    # Once every choice is made, fit the linear skip again on all windows before the test part (the
    # newest data matters most to a linear map); False keeps the training part's fit.
    refit: bool = True
    # When the race's two runs (ridge start, bare base) forecast better averaged than either alone on
    # validation, serve them together (ModelConfig.members = 2); False always keeps the better one.
    ensemble: bool = True

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_options(config: ModelConfig, train_config: TrainConfig) -> None:
    """Options that cannot work, refused before any data is read (the CLI and the API share this)."""
    from model.scaling import SCALINGS
    from model.windows import DataError

    choices = {"task": ("forecast", "classify"), "cell": ("fused", "seed"), "scaling": ("auto", *SCALINGS),
               "base": ("auto", "naive", "seasonal", "seasonal_level"), "calendar": ("auto", "year", "none")}
    for field_name, allowed in choices.items():
        if getattr(config, field_name) not in allowed:
            raise DataError(f"{field_name} {getattr(config, field_name)!r} is not one of {list(allowed)}")
    if train_config.optimizer not in ("adam", "sgd"):
        raise DataError(f"optimizer {train_config.optimizer!r} is not one of ['adam', 'sgd']")
    if config.input_size < 2 or config.horizon < 1:
        raise DataError(f"input_size must be >= 2 and horizon >= 1 (got {config.input_size}, {config.horizon})")
    if config.task == "classify" and not config.covariates:
        raise DataError("a classifier needs covariates: the numeric columns it reads to predict the label")
    fractions = (train_config.val_fraction, train_config.test_fraction)
    if not all(0 < f < 0.5 for f in fractions) or not 0 <= train_config.calibration_fraction < 0.5:
        raise DataError("val_fraction and test_fraction must each lie between 0 and 0.5, "
                        "calibration_fraction between 0 (calibrate on validation) and 0.5")
    if config.season_length is not None and config.season_length < 1:
        raise DataError(f"season_length must be >= 1 (got {config.season_length})")
