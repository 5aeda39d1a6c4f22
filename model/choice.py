"""Training's choice: scaling x base x ridge penalty (and their combination), scored over the choice blocks."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from model import metrics
from model.config import Base, ModelConfig, Scaling
from model.linear import PENALTIES, Ridge
from model.predictor import base_forecast, base_shift
from model.resolve import MAX_RIDGE_WINDOWS, Block, Resolved, evenly
from model.scaling import scale_inputs
from model.windows import DataError


@dataclass(frozen=True, eq=False)
class Candidate:
    """A start: a scaling, a base and the ridge map the linear skip starts from (inf penalty: none)."""

    scaling: Scaling
    base: Base
    penalty: float
    val_mase: float  # on the validation part, fitted on the training part
    weight: np.ndarray  # (H*T, L*F) ridge map in scale units, fitted on the training part
    bias: np.ndarray  # (H*T,)
    # A combination: the mean of these (base, penalty) ridges, written as one map on the naive base.
    parts: tuple[tuple[Base, float], ...] = ()
    # What the choice goes by: the mean MASE over the choice blocks, the validation part last; the
    # validation part's alone when there are no earlier blocks.
    score: float = float("nan")

    @property
    def linear(self) -> bool:
        """Whether the start needs the linear skip (a ridge, or a combination of starts)."""
        return bool(self.parts) or bool(np.isfinite(self.penalty))


@dataclass(frozen=True, eq=False)
class Choice:
    """The best start, the best bare base (which the race may prefer), and every candidate's score."""

    best: Candidate
    bare: Candidate
    scores: dict[str, float | None]  # "scaling/base/penalty" (and "scaling/combined") -> mean MASE
    bases: tuple[Base, ...]  # the bases tried (bases_tried)
    scalings: tuple[Scaling, ...]


def bases_tried(config: ModelConfig, season_helps: bool = True) -> list[Base]:
    """The bases to try, simplest first. seasonal_level is tried only where the season helps, and under
    `auto` only with a ridge, never bare (docs/experiments.md T1)."""
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
    every: list[Base] = ["naive", "seasonal", "seasonal_level"]
    return every[: 1 + seasonal_ok + (level_ok and config.linear_skip)]


def season_helps(config: ModelConfig, data: Resolved) -> bool:
    """Whether seasonal naive forecasts the training windows better (MASE) than naive does."""
    m = config.season_length or 1
    if not 1 < m <= config.input_size:
        return False
    rows = data.train_rows[evenly(slice(0, len(data.train_rows)), MAX_RIDGE_WINDOWS)]
    n = len(config.targets)
    errors = [metrics.mase(data.y[rows], base_forecast(data.x[rows, :, :n], replace(config, base=base)),
                           data.scale(rows)) for base in ("naive", "seasonal")]
    return bool(errors[1] < errors[0])


def scalings_tried(config: ModelConfig, data: Resolved) -> list[Scaling]:
    """The scalings to try, best first: ties on validation go to the earlier one. Standard scaling
    only while the training part's mean and deviation still describe the data, checked twice: the
    second half of the training part against the first, and validation against training (T2)."""
    if config.scaling != "auto":
        return [config.scaling]
    if config.id_column:  # one mean and deviation for series of every level describes none of them
        return ["window", "robust"]
    train_targets = data.train_values[:, : data.n_targets]
    half = len(train_targets) // 2
    keeps_range = min(_share_inside(train_targets[half:], train_targets[:half]),
                      _share_inside(data.y[data.val_rows].reshape(-1, train_targets.shape[1]), train_targets)) >= 0.99
    every: list[Scaling] = ["standard", "window", "robust"]
    return every if keeps_range else every[1:]


def _share_inside(later: np.ndarray, before: np.ndarray) -> float:
    """Share of later's values (N, T) inside before's range (M, T), widened by a tenth each way."""
    low, high = before.min(axis=0), before.max(axis=0)
    margin = 0.1 * (high - low)
    return float(((later >= low - margin) & (later <= high + margin)).mean())


def choose(data: Resolved) -> Choice:
    """Scaling x base x ridge penalty with the lowest mean MASE over the choice blocks (inf penalty =
    the bare base). Ties go to the simplest candidate (largest penalty, naive base); the
    one-standard-error rule was tried and dropped (T3)."""
    config = data.config
    scalings = scalings_tried(config, data)
    bases = bases_tried(config, season_helps(config, data))
    blocks = [*data.blocks, (data.train_rows, data.val_rows)]
    fit_blocks = [(fit_rows[evenly(slice(0, len(fit_rows)), MAX_RIDGE_WINDOWS)], rows) for fit_rows, rows in blocks]
    candidates: list[tuple[tuple[float, int, int], Candidate]] = []
    scores: dict[str, float | None] = {}
    for s_rank, scaling in enumerate(scalings):
        _score_scaling(data, scaling, s_rank, bases, fit_blocks, candidates, scores)
    assert candidates, "no finite candidate"  # inf penalty gives the bare base: always finite
    # The lowest score, among equal scores the simplest; and the best bare base, which the race may
    # prefer. Neither is worse than the better of the bare bases.
    best = min(candidates, key=lambda c: (c[1].score, c[0]))[1]
    # A bare base forecasts the same under every scaling (ties): take the best start's, so that the
    # race's two runs read the same scaled windows and can be served as one network (model/race.py).
    bare = min((c for c in candidates if not c[1].linear),
               key=lambda c: (c[1].score, c[1].scaling != best.scaling, c[0]))[1]
    return Choice(best, bare, scores, tuple(bases), tuple(scalings))


def _score_scaling(data: Resolved, scaling: Scaling, s_rank: int, bases: list[Base], fit_blocks: list[Block],
                   candidates: list[tuple[tuple[float, int, int], Candidate]], scores: dict[str, float | None]) -> None:
    """Every (base, penalty) start under one scaling, and the combination of the two best bases,
    added to candidates (with their simplicity rank) and scores."""
    config, x, y, n = data.config, data.x, data.y, data.n_targets
    penalties = PENALTIES if config.linear_skip else (float("inf"),)
    scaler = data.scaler(scaling)
    # Per block, the windows a ridge is fitted on and those it is scored on, scaled once for every base.
    scaled = []
    for fit_rows, rows in fit_blocks:
        xs_fit, _, scale_fit = scale_inputs(x[fit_rows], scaler)
        xs, _, scale = scale_inputs(x[rows], scaler)
        scaled.append((fit_rows, xs_fit, scale_fit, rows, xs, scale))
    best_of_base: dict[str, tuple[Candidate, list[np.ndarray]]] = {}  # base -> its best ridge, forecasts
    for b_rank, base in enumerate(bases):
        trial = replace(config, base=base)
        fitted = []  # per block: its ridge, and its scored windows' scaled inputs, base forecast, scale
        for fit_rows, xs_fit, scale_fit, rows, xs, scale in scaled:
            target = (y[fit_rows] - base_forecast(x[fit_rows, :, :n], trial)) / scale_fit[:, None, :n]
            ridge = Ridge(xs_fit.reshape(len(xs_fit), -1), target.reshape(len(target), -1))
            fitted.append((ridge, xs.reshape(len(xs), -1), base_forecast(x[rows, :, :n], trial), scale))
        for penalty in penalties:
            if base == "seasonal_level" and config.base == "auto" and not np.isfinite(penalty):
                continue  # a ridge carries as much of the level's change as the blocks support (bases_tried)
            forecasts = []
            for ridge, flat, base_part, scale in fitted:
                weight, bias = ridge.solve(penalty)
                forecasts.append(base_part + (flat @ weight.T + bias).reshape(base_part.shape) * scale[:, None, :n])
            score = _mean_mase(data, fit_blocks, forecasts)
            scores[f"{scaling}/{base}/{penalty:g}"] = round(score, 5) if np.isfinite(score) else None
            if np.isfinite(score):
                simplicity = (-penalty, b_rank, s_rank)  # sorts simplest first
                val_score = metrics.mase(y[data.val_rows], forecasts[-1], data.scale(data.val_rows))
                candidate = Candidate(scaling, base, penalty, val_score, weight, bias, score=score)
                candidates.append((simplicity, candidate))
                if base not in best_of_base or score < best_of_base[base][0].score:
                    best_of_base[base] = (candidate, forecasts)
    if config.linear_skip and len(best_of_base) >= 2:
        _add_combination(data, scaling, s_rank, best_of_base, fit_blocks, candidates, scores)


def _add_combination(data: Resolved, scaling: Scaling, s_rank: int,
                     best_of_base: dict[str, tuple[Candidate, list[np.ndarray]]], fit_blocks: list[Block],
                     candidates: list[tuple[tuple[float, int, int], Candidate]],
                     scores: dict[str, float | None]) -> None:
    """The mean of the best starts on the two best-scoring bases (forecast combination: two near-tied
    choices average out each other's errors, T4), scored like any candidate."""
    two = sorted(best_of_base, key=lambda b: best_of_base[b][0].score)[:2]
    (first, f1), (second, f2) = (best_of_base[b] for b in best_of_base if b in two)  # in bases_tried' order
    together = [(a + b) / 2 for a, b in zip(f1, f2, strict=True)]
    score = _mean_mase(data, fit_blocks, together)
    scores[f"{scaling}/combined"] = round(score, 5) if np.isfinite(score) else None
    if np.isfinite(score):
        weight, bias = combine(data.config, [(c.base, c.weight, c.bias) for c in (first, second)])
        parts = ((first.base, first.penalty), (second.base, second.penalty))
        val_score = metrics.mase(data.y[data.val_rows], together[-1], data.scale(data.val_rows))
        candidates.append(((float("inf"), 3, s_rank),  # the least simple: ties go to the others
                           Candidate(scaling, "naive", float("inf"), val_score, weight, bias, parts, score)))


def _mean_mase(data: Resolved, blocks: list[Block], forecasts: list[np.ndarray]) -> float:
    scores = [metrics.mase(data.y[rows], f, data.scale(rows)) for (_, rows), f in zip(blocks, forecasts, strict=True)]
    return float(np.mean(scores))


def combine(config: ModelConfig, maps: Sequence[tuple[str, np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    """The mean of (base, weight, bias) ridge maps as one map on the naive base."""
    weight = np.mean([w + base_shift(config, base) for base, w, _ in maps], axis=0)
    return weight, np.mean([b for _, _, b in maps], axis=0)
