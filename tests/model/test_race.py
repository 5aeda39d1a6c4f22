"""The race: a ridge start against the bare base, the winner's last third, and the pair."""

import numpy as np
import pytest
import torch

import model.race as race_module
from model.choice import Candidate
from model.config import TrainConfig
from model.race import ENSEMBLE_GAIN, ENSEMBLE_GAP, Run, blocks_ratio, worth_a_race
from tests.model.helpers import small


def test_a_ridge_start_races_the_bare_base_and_the_winner_is_what_is_saved():
    reports = []
    artifact = small("weather", TrainConfig(epochs=6, ensemble=False), reports.append)
    v, choice = artifact.manifest.validation, artifact.manifest.choice
    race = v["race"]  # the weather's best start is a ridge (a linear map of 28 days and covariates)
    assert race["ran"] and race["winner"] in ("ridge", "bare") and {"ridge", "bare"} <= set(race)
    assert "together" not in race and race["pair_skipped"] == "ensemble is off"
    assert artifact.config.members == 1
    linear_start = choice["ridge_penalty"] is not None or bool(choice["combined"])
    assert linear_start == (race["winner"] == "ridge")
    assert artifact.config.linear_skip == (race["winner"] == "ridge")
    assert v["model"] <= race[race["winner"]] + 1e-6  # the last third only kept what improved
    # the winner by each run's validation score times its start's blocks score per validation score
    assert race[f"{race['winner']}_blocks"] == min(race["ridge_blocks"], race["bare_blocks"])
    assert [r.epoch for r in reports][:4] == [1, 2, 3, 4] and all(r.epochs == 6 for r in reports)


def test_the_race_runs_are_served_together_only_when_their_mean_wins_on_validation():
    reports = []
    artifact = small("weather", TrainConfig(epochs=6), reports.append)
    v = artifact.manifest.validation
    race = v["race"]
    close = max(race["ridge_blocks"], race["bare_blocks"]) <= (1 + ENSEMBLE_GAP) * min(race["ridge_blocks"],
                                                                                          race["bare_blocks"])
    assert ("together" in race) == close
    together = close and race["together"] < (1 - ENSEMBLE_GAIN) * min(race["ridge_final"], race["bare_final"])
    assert race["served"] == ("both" if together else race["winner"])
    assert artifact.config.members == (2 if together else 1)
    if together:  # the validation score is the merged network's, before the refit
        assert v["model"] == pytest.approx(race["together"], rel=1e-5) and artifact.config.linear_skip
    # Two thirds of racing, then the winner's last third: the bar counts to the budget and no further.
    assert [r.epoch for r in reports] == list(range(1, len(reports) + 1)) and len(reports) <= 6


def test_a_run_that_never_beat_its_start_does_not_replay_its_third(monkeypatch):
    """At lr 0 no epoch beats the start, so the last third would replay the race's third exactly."""
    monkeypatch.setattr("model.train.check_options", lambda *args: None)  # an API refuses lr 0; this test needs it

    def trained(replay: bool):
        if replay:
            monkeypatch.setattr(Run, "unmoved", lambda self: False)
        return small("weather", TrainConfig(epochs=6, lr=0.0))

    skipped, replayed = trained(False), trained(True)
    race = skipped.manifest.validation["race"]
    assert race["ran"] and race["last_third"].startswith("skipped")  # two runs, a third (2 epochs) each
    assert replayed.manifest.validation["race"]["last_third"] == "trained"
    assert skipped.manifest.epochs_run == 2 < replayed.manifest.epochs_run
    assert skipped.manifest.validation["model"] == replayed.manifest.validation["model"]
    for (name, a), b in zip(skipped.predictor.net.state_dict().items(), replayed.predictor.net.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


def test_a_run_is_unmoved_until_its_weights_change():
    artifact = small("weather", TrainConfig(epochs=1))
    net = artifact.predictor.net
    start = {k: v.clone() for k, v in net.state_dict().items()}
    run = Run(None, artifact.predictor, None, (None, None), None, [], start)
    assert run.unmoved()
    with torch.no_grad():
        next(iter(net.parameters())).add_(1e-3)
    assert not run.unmoved()
    assert not Run(None, artifact.predictor, None, (None, None), None, []).unmoved()


@pytest.mark.parametrize("gap", [float("inf"), -1.0])
def test_the_pair_is_tried_only_when_the_loser_ended_the_race_close_behind(monkeypatch, gap):
    calls = []
    fit = race_module.fit

    def counting_fit(*args, **kwargs):
        calls.append(args[4].epochs)
        return fit(*args, **kwargs)

    monkeypatch.setattr(race_module, "fit", counting_fit)
    monkeypatch.setattr(race_module, "ENSEMBLE_GAP", gap)
    race = small("weather", TrainConfig(epochs=6)).manifest.validation["race"]
    assert calls[:2] == [2, 2]  # the race: a third each
    # Either way only the winner trains a last third: the pair fits in the one budget.
    assert len(calls) == 3
    if gap > 0:  # the pair is scored
        assert "together" in race
    else:  # the winner is served alone, and the record says why
        assert "together" not in race and race["served"] == race["winner"]
        assert race["pair_skipped"].startswith("the loser ended more than")


def test_no_race_is_recorded_with_its_reason():
    race = small("weather", TrainConfig(epochs=2)).manifest.validation["race"]
    assert race == {"ran": False, "reason": "under 3 epochs: no budget for a race, the best start trains alone",
                    "served": race["served"]} and race["served"] in ("ridge", "bare")


def test_a_ridge_start_races_when_ahead_on_validation_or_clearly_ahead_on_the_choice_blocks():
    def start(penalty, val_mase, score):
        return Candidate("standard", "naive", penalty, val_mase, np.zeros((1, 1)), np.zeros(1), score=score)

    bare = start(float("inf"), 3.89, 4.76)
    assert not worth_a_race(bare, bare)
    assert worth_a_race(start(1.0, 3.80, 5.00), bare)  # ahead on validation: races, as it always did
    assert not worth_a_race(start(1.0, 4.06, 4.57), bare)  # 4% ahead on the blocks only (the ECG)
    assert worth_a_race(start(1e-5, 0.0975, 0.079), start(float("inf"), 0.0852, 0.158))  # Seattle
    # the race weighs a run's validation score by its start's blocks score per validation score
    assert blocks_ratio(start(1e-5, 0.0975, 0.079)) == pytest.approx(0.079 / 0.0975)
    assert blocks_ratio(start(1e-5, 0.0, 0.2)) == 1.0  # a flat validation part forecast exactly
