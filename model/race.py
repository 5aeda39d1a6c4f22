"""Training's race: a ridge start against the bare base, a third of the budget each; the better trains on."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch

from model import metrics
from model.choice import Candidate, Choice
from model.config import TrainConfig
from model.ensemble import merge, mergeable
from model.fit import CancelCheck, EpochReport, Progress, choose_device, fit
from model.forking import ForkingWindows
from model.network import GRUNet
from model.predictor import Predictor
from model.resolve import Resolved
from model.scaling import scale_inputs

# How much lower than the better run alone the pair's validation MASE must be to be served: the pair
# costs two GRU bodies per forecast, and a smaller gain is within the noise of the choice (T5).
ENSEMBLE_GAIN = 0.01
# How far behind the winner the loser may end the race and still be tried in the pair: the mean of two
# forecasts whose errors are k times apart, correlated rho, beats the better alone only if
# 1 + k^2 + 2 rho k < 4, and the race's runs correlate 0.76-0.995 (T5).
ENSEMBLE_GAP = 0.1


@dataclass
class Run:
    """One way to train: a start (candidate), its network, predictor and training windows."""

    candidate: Candidate
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


@dataclass(frozen=True)
class RaceRecord:
    """What the race decided, and why; the manifest's validation.race."""

    ran: bool
    reason: str
    served: str  # "ridge", "bare" or "both"
    scores: dict[str, float] = field(default_factory=dict)  # ridge, bare (validation), ridge_blocks, bare_blocks
    winner: str | None = None
    last_third: str | None = None  # "trained", or why the winner did not train it
    pair: dict[str, float] = field(default_factory=dict)  # ridge_final, bare_final, together: when it was tried
    pair_skipped: str | None = None  # why the pair was not tried

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"ran": self.ran, "reason": self.reason, **self.scores}
        if self.ran:
            out.update(winner=self.winner, last_third=self.last_third, **self.pair)
            if self.pair_skipped:
                out["pair_skipped"] = self.pair_skipped
        return {**out, "served": self.served}


@dataclass(frozen=True, eq=False)
class Raced:
    """The trained network that is served (the winner, or the pair) and the start whose skip is refitted."""

    predictor: Predictor
    chosen: Candidate
    history: list[EpochReport]
    record: RaceRecord


def prepare(data: Resolved, candidate: Candidate, seed: int) -> Run:
    """A network started from a candidate: its ridge in the skip, its scaler, its training windows."""
    config = replace(data.config, scaling=candidate.scaling, base=candidate.base,
                     linear_skip=bool(data.config.linear_skip and candidate.linear))
    n_targets = len(config.targets)
    torch.manual_seed(seed)  # the initial weights too
    net = GRUNet(config)
    if net.skip is not None:
        with torch.no_grad():
            net.skip.weight.copy_(torch.from_numpy(candidate.weight))
            net.skip.bias.copy_(torch.from_numpy(candidate.bias))
    predictor = Predictor(config=config, net=net,
                          scaler=data.scaler(candidate.scaling))
    x, y, rows = data.x, data.y, data.val_rows
    xs, _, scale = scale_inputs(x[rows], predictor.scaler)
    target = ((y[rows] - predictor.base(x[rows])) / scale[:, None, :n_targets]).astype(np.float32)
    val_weight = np.broadcast_to(scale[:, None, :n_targets] / data.scale(rows), target.shape).astype(np.float32)
    # Without the skip every position of the window's second half is trained (forking); with it
    # only the last position sees the skip, so the head would have to learn two different things.
    first = max(config.input_size // 2, config.season_length or 1)  # positions with half a window behind them
    positions = 1 if net.skip is not None else max(config.input_size - first, 1)
    training = ForkingWindows(data.series.values, x, data.train_rows, predictor, positions)
    start = {k: v.detach().cpu().clone() for k, v in net.state_dict().items()}
    return Run(candidate, predictor, training, (xs, target), val_weight, [], start)


@dataclass(frozen=True)
class Trainer:
    """Trains runs for parts of the one budget; progress counts on across them."""

    budget: TrainConfig
    epochs: int  # the whole budget's, as progress reports it
    progress: Progress | None
    should_cancel: CancelCheck | None

    def train(self, run: Run, epochs: int, offset: int, patience: int | None = None) -> None:
        def report(r: EpochReport) -> None:
            if self.progress is not None:
                self.progress(EpochReport(r.epoch + offset, self.epochs, r.train_loss, r.val_loss, r.seconds,
                                          r.train_seconds))
        budget = self.budget
        part = replace(budget, epochs=epochs, max_steps=budget.max_steps * epochs // budget.epochs,
                       patience=budget.patience if patience is None else patience)
        run.history += fit(run.predictor.net, "forecast", run.training, run.val, part, report, self.should_cancel,
                           val_weight=run.val_weight)


def race(data: Resolved, choice: Choice, train_config: TrainConfig, progress: Progress | None = None,
         should_cancel: CancelCheck | None = None) -> Raced:
    """Train what the choice started: one run, or the race of a ridge start and the bare base."""
    trainer = Trainer(data.budget, train_config.epochs, progress, should_cancel)
    best, bare = choice.best, choice.bare
    if train_config.epochs < 3 or not worth_a_race(best, bare):
        reason = ("under 3 epochs: no budget for a race, the best start trains alone" if train_config.epochs < 3
                  else "the best start is the bare base" if best is bare
                  else "the ridge start is not far enough ahead of the bare base (race.worth_a_race)")
        winner = prepare(data, best if train_config.epochs < 3 else bare, train_config.seed)
        trainer.train(winner, train_config.epochs, 0)
        served = "ridge" if winner.candidate.linear else "bare"
        return Raced(winner.predictor, winner.candidate, winner.history, RaceRecord(False, reason, served))
    return _race(data, choice, train_config, trainer)


def _race(data: Resolved, choice: Choice, train_config: TrainConfig, trainer: Trainer) -> Raced:
    """Which start learns more cannot be told from the start alone, so each trains a third of the budget
    and the better on validation (weighed by its start's blocks score) gets the last third (T6)."""
    third = train_config.epochs // 3
    runs = [prepare(data, choice.best, train_config.seed), prepare(data, choice.bare, train_config.seed)]
    for i, contender in enumerate(runs):
        # No early stop in the race: a GRU often gets worse on validation before it gets better.
        trainer.train(contender, third, i * third, patience=0)
    # Each run's gain over its start on validation, applied to its start's score over the choice blocks:
    # the validation part alone would undo the choice of start (T3).
    plain = [val_mase(r.predictor, data) for r in runs]
    scores = [score * blocks_ratio(r.candidate) for score, r in zip(plain, runs, strict=True)]
    winner = runs[int(np.argmin(scores))]
    # A run that never beat its start in its third would replay that third exactly (each fit reseeds),
    # so it stops there (T7).
    final = train_config.epochs - 2 * third
    if final == third and winner.unmoved():
        last_third = "skipped: the winner never moved from its start, the last third would replay its first"
    else:
        trainer.train(winner, final, 2 * third)
        last_third = "trained"
    name = "ridge" if winner is runs[0] else "bare"
    record = RaceRecord(True, "the ridge start is ahead of the bare base: both train a third", name,
                        {"ridge": plain[0], "bare": plain[1], "ridge_blocks": scores[0], "bare_blocks": scores[1]},
                        name, last_third)
    close = max(scores) <= (1 + ENSEMBLE_GAP) * min(scores)
    if not (train_config.ensemble and close and mergeable([r.predictor for r in runs])):
        why = ("ensemble is off" if not train_config.ensemble else
               f"the loser ended more than {ENSEMBLE_GAP:.0%} behind" if not close else
               "the two runs cannot be merged into one network")
        return Raced(winner.predictor, winner.candidate, winner.history, replace(record, pair_skipped=why))
    pair_scores, pair = ensemble(runs, winner, data)
    record = replace(record, pair=pair_scores, served="both" if pair is not None else name)
    if pair is not None:
        return Raced(pair, runs[0].candidate, winner.history, record)  # the ridge start's skip is refitted
    return Raced(winner.predictor, winner.candidate, winner.history, record)


def ensemble(runs: list[Run], winner: Run, data: Resolved) -> tuple[dict[str, float], Predictor | None]:
    """Whether the race's two runs are served together: the finished winner and the loser as the race
    left it (the pair fits in the one budget, T5); the mean of both forecasts must beat each alone on
    validation by ENSEMBLE_GAIN. Returns the scores and the merged pair (None: one run is served)."""
    alone = [val_mase(r.predictor, data) for r in runs]
    pair = merge([r.predictor for r in runs])
    together = val_mase(pair, data)
    scores = {"ridge_final": alone[0], "bare_final": alone[1], "together": together}
    return scores, pair if together < (1 - ENSEMBLE_GAIN) * min(alone) else None


def worth_a_race(best: Candidate, bare: Candidate) -> bool:
    """Whether a ridge start is far enough ahead of the bare base to spend a third of the budget on it:
    ahead on the validation part, or more than ENSEMBLE_GAP ahead on the choice blocks (T6)."""
    if best is bare:
        return False
    return best.val_mase < bare.val_mase or best.score * (1 + ENSEMBLE_GAP) < bare.score


def blocks_ratio(candidate: Candidate) -> float:
    """A start's score over the choice blocks per unit of its score on the validation part (1 when
    that is 0: a validation part the start forecasts exactly, a flat stretch)."""
    if not candidate.val_mase > 0:
        return 1.0
    ratio = candidate.score / candidate.val_mase
    return ratio if np.isfinite(ratio) and ratio > 0 else 1.0


def val_mase(predictor: Predictor, data: Resolved) -> float:
    """The predictor's MASE on the validation windows, on the CPU."""
    forecast, _ = predictor.to(choose_device("cpu")).forecast_array(data.x[data.val_rows])
    return metrics.mase(data.y[data.val_rows], forecast, data.scale(data.val_rows))
