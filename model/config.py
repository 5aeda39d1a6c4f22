"""The two configs (what a model is, saved in its artifact; how it is trained) and the one table of
their options: each field's description and bounds, read by the API schema, the CLI flags and
check_options."""

from __future__ import annotations

import types
from collections.abc import Callable
from dataclasses import MISSING, asdict, dataclass, field, fields
from functools import cache
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

from model.calendar import Calendar, columns

Task = Literal["forecast", "classify"]
Cell = Literal["fused", "seed"]
Optimizer = Literal["adam", "sgd"]
Scaling = Literal["auto", "window", "robust", "standard"]
Base = Literal["auto", "naive", "seasonal", "seasonal_level"]
Device = Literal["auto", "cpu", "cuda"]
# A panel model's input that is 1 on a series' own points and 0 on the padding before them (model/panel.py).
OBSERVED = "_observed"
# Where an option is offered: the API and the CLI, the CLI only, or nowhere (training fills it in).
Offered = Literal["all", "cli", "none"]


@dataclass(frozen=True)
class Bounds:
    """An interval as written in maths ("[2, 2048]", "(0, 0.5)", "[0, 1)"); a list's or a text's length."""

    low: float | None
    high: float | None
    low_open: bool = False
    high_open: bool = False

    @classmethod
    def parse(cls, text: str) -> Bounds:
        low, high = (part.strip() for part in text[1:-1].split(","))
        return cls(_parse(low), _parse(high), text[0] == "(", text[-1] == ")")

    def violation(self, value: float) -> str | None:
        """The side a value breaks, in words ("must be >= 2"), or None inside the interval."""
        if self.low is not None and (value <= self.low if self.low_open else value < self.low):
            return f"must be {'>' if self.low_open else '>='} {_number(self.low)}"
        if self.high is not None and (value >= self.high if self.high_open else value > self.high):
            return f"must be {'<' if self.high_open else '<='} {_number(self.high)}"
        return None

    def __str__(self) -> str:
        low, high = ("" if b is None else _number(b) for b in (self.low, self.high))
        return f"{'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"


def _number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)


def _parse(text: str) -> float | None:
    # Whole numbers stay int, so the API schema says 2, not 2.0.
    return None if not text else float(text) if "." in text else int(text)


def option(default: Any = MISSING, doc: str = "", bounds: str | None = None, *,
           factory: Callable[[], Any] | None = None, offered: Offered = "all") -> Any:
    """A config field with its one-line description and bounds (the interval of a number, the length
    of a list or a text); its allowed values, if any, are its Literal type's."""
    metadata = {"doc": doc, "bounds": Bounds.parse(bounds) if bounds else None, "offered": offered}
    if factory is not None:
        return field(default_factory=factory, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass
class ModelConfig:
    task: Task = option("forecast", "forecast the targets, or classify the next value of one label column")
    targets: list[str] = option(doc="columns forecast (or the label column)", bounds="[1, 16]",
                                factory=lambda: ["value"])
    covariates: list[str] = option(doc="extra input columns, read but not forecast", bounds="[0, 64]", factory=list)
    input_size: int = option(64, "points of history the network reads per window", "[2, 2048]")
    horizon: int = option(1, "steps emitted at once (direct multi-step); 1 for classification", "[1, 512]")
    hidden_size: int = option(64, "GRU state width", "[1, 1024]")
    num_layers: int = option(1, "stacked GRU layers", "[1, 8]")
    dropout: float = option(0.0, "between stacked layers (nn.GRU semantics) and before the head", "[0, 1)")
    cell: Cell = option("fused", "fused: torch's nn.GRU; seed: the seed's four equations, written out")
    classes: list[str] = option(doc="class names, read from the label column (classification only)",
                                bounds="[0, 10000]", factory=list, offered="none")
    frequency: str | None = option(None, "pandas offset alias of the time index (D, B, h); null: sample numbers",
                                   "[0, 16]")
    # None: from the frequency or detected on the training part (model/season.py).
    season_length: int | None = option(
        None, "steps in one season; null: from the frequency (h -> 24, D -> 7, ...) or detected", "[1, 100000]")
    # Saved resolved: the manifest says what auto chose.
    scaling: Scaling = option("auto", "how windows are scaled (model/scaling.py); auto chooses on validation")
    # The untrained model IS that forecast, so training can only keep what beats it.
    base: Base = option("auto", "the forecast the network corrects: naive, seasonal naive or the last season "
                        "from the last value; auto chooses on validation")
    # LSTNet's autoregressive component: smooth seasonal series need it.
    linear_skip: bool = option(True, "a ridge-started linear map beside the GRU, kept if it wins on validation")
    # model/calendar.py; a classifier decides by a second fit's validation loss. Saved resolved.
    calendar: Calendar = option("auto", "year: the time of year (sin, cos) as inputs, read from the time column; "
                                "auto tries it when the training part spans two years and the season is "
                                "shorter than a year")
    # An ensemble served in one forward pass; set by training's race (model/ensemble.py).
    # model/panel.py: one global model over many series; long format, one row per series and time step.
    id_column: str | None = option(None, "the column naming each series of a panel (long format: one row per "
                                   "series and time step); null: one series", "[1, 256]")
    members: int = option(1, "GRU bodies side by side, read by one head (2: the race's pair)", "[1, 2]",
                          offered="none")

    @property
    def features(self) -> list[str]:
        """Input columns in the order the network sees them: inputs, covariates, then the calendar's."""
        inputs = self.inputs
        return inputs + [c for c in self.covariates if c not in inputs] + self.fixed_columns

    @property
    def fixed_columns(self) -> list[str]:
        """The inputs no scaling touches, last in the window: a panel's observed flag (1 on a series' own
        points, 0 on the padding before them), then the calendar's."""
        return ([OBSERVED] if self.id_column else []) + self.calendar_columns

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
    epochs: int = option(30, "upper bound; early stopping may end sooner (validation runs once per epoch)",
                         "[1, 1000]")
    batch_size: int = option(64, "windows per optimizer step", "[1, 8192]")
    lr: float = option(0.001, "learning rate (raised when the step budget cuts the epochs short)", "(0, 10]")
    optimizer: Optimizer = option("adam", "adam or sgd")
    # Below epochs x (windows / batch_size) every "epoch" becomes max_steps / epochs steps of windows
    # sampled from the whole training part: a 100,000-point series trains in minutes, small data keeps
    # its 30 full epochs. A race (model/race.py) spends this in all, whether one run or the pair is served.
    max_steps: int = option(1500, "most optimizer steps of one training, for windows up to 240 points "
                            "(proportionally fewer beyond); long series sample windows each step (0: no limit)",
                            "[0, 1000000]")
    patience: int = option(5, "epochs without validation improvement before stopping", "[0, 1000]")
    clip_norm: float = option(1.0, "gradient-norm clipping; 0 disables", "[0, 1000000]")
    seed: int = option(0, "makes a CPU run repeat exactly", "[0, 2147483648]")
    # Chronological: train | validation (early stopping) | calibration (intervals) | test.
    val_fraction: float = option(0.1, "part for early stopping and every choice", "(0, 0.5)")
    calibration_fraction: float = option(0.1, "part for the interval widths only (0: calibrate on validation)",
                                         "[0, 0.5)")
    test_fraction: float = option(0.15, "newest part, scored once at the end", "(0, 0.5)")
    stride: int = option(1, "step between consecutive training windows: thins the data; max_steps bounds the time",
                         "[1, 1000]")
    # The server sets it from GRU_FORECAST_DEVICE, so the API does not offer it.
    device: Device = option("auto", "auto (CUDA when present), cpu or cuda", offered="cli")
    interpolate: bool = option(False, "fill missing values (and skipped times) linearly instead of refusing them")
    # The newest data matters most to a linear map.
    refit: bool = option(True, "once every choice is made, fit the linear skip again on all windows before the "
                         "test part (false: the training part's fit)")
    ensemble: bool = option(True, "serve the race's two runs together (one network, mean forecast) when that wins "
                            "on validation; false: always the better one alone")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Option:
    """One row of the options table, read from a config field: what the front ends are built from."""

    name: str
    owner: type
    kind: type  # int, float, bool, str or list (of str)
    optional: bool  # None is allowed
    default: Any
    doc: str
    bounds: Bounds | None  # of the value, or of a list's or a text's length
    choices: tuple[Any, ...] | None  # the Literal's values
    offered: Offered
    hint: Any  # the resolved annotation, for pydantic


def _option(owner: type, name: str, hint: Any, meta: Any, default: Any) -> Option:
    args = get_args(hint)
    optional = get_origin(hint) in (Union, types.UnionType) and type(None) in args
    base = next(a for a in args if a is not type(None)) if optional else hint
    choices = get_args(base) if get_origin(base) is Literal else None
    kind = type(choices[0]) if choices else (get_origin(base) or base)
    return Option(name, owner, kind, optional, default, meta["doc"], meta["bounds"], choices, meta["offered"], hint)


@cache
def options() -> dict[str, Option]:
    """Every field of ModelConfig, then of TrainConfig, as an Option (names are unique across both)."""
    table: dict[str, Option] = {}
    for owner in (ModelConfig, TrainConfig):
        hints = get_type_hints(owner)
        for f in fields(owner):
            default = f.default_factory() if f.default_factory is not MISSING else f.default
            table[f.name] = _option(owner, f.name, hints[f.name], f.metadata, default)
    return table


def split_options(values: dict[str, Any]) -> tuple[ModelConfig, TrainConfig]:
    """The two configs from one flat dict of options (the API's, a job's); other keys are ignored."""
    model = {k: v for k, v in values.items() if k in ModelConfig.__dataclass_fields__}
    training = {k: v for k, v in values.items() if k in TrainConfig.__dataclass_fields__}
    return ModelConfig(**model), TrainConfig(**training)


def _problem(option: Option, value: Any) -> str | None:
    if value is None and option.optional:
        return None
    if option.choices is not None:
        return None if value in option.choices else f"{option.name} {value!r} is not one of {list(option.choices)}"
    if option.bounds is None:
        return None
    if option.kind in (list, str):
        broken = option.bounds.violation(len(value))
        return f"{option.name} {broken.replace('must be', 'must have a length')} (got {len(value)})" if broken else None
    broken = option.bounds.violation(value)
    return f"{option.name} {broken} (got {value})" if broken else None


FRACTIONS = ("val_fraction", "test_fraction", "calibration_fraction")


def check_options(config: ModelConfig, train_config: TrainConfig) -> None:
    """Options that cannot work, refused before any data is read (the CLI, the API and training share
    this): every value against the table's choices and bounds, plus what ties two options together."""
    from model.windows import DataError  # model/windows.py imports this module: the error is read when called

    values = {**config.to_dict(), **train_config.to_dict()}
    table = options()
    for name, option in table.items():  # choices first: the order and words of the earlier checks
        if option.choices is not None and (problem := _problem(option, values[name])):
            raise DataError(problem)
    if config.input_size < 2 or config.horizon < 1:
        raise DataError(f"input_size must be >= 2 and horizon >= 1 (got {config.input_size}, {config.horizon})")
    if config.task == "classify" and not config.covariates:
        raise DataError("a classifier needs covariates: the numeric columns it reads to predict the label")
    if any(_problem(table[name], values[name]) for name in FRACTIONS):
        raise DataError("val_fraction and test_fraction must each lie between 0 and 0.5, "
                        "calibration_fraction between 0 (calibrate on validation) and 0.5")
    for name, option in table.items():
        if problem := _problem(option, values[name]):
            raise DataError(problem)
