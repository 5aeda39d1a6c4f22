"""The whole pipeline on the real bundled data."""

import copy

import numpy as np
import pytest
import torch

from model.config import ModelConfig, TrainConfig
from model.datasets import DATASETS
from model.fit import STEP_WINDOW
from model.scaling import step_floor
from model.train import train
from model.windows import DataError, make_windows, prepare_series, split_windows


def _small(name: str, train_config: TrainConfig, progress=None, **model):
    """A bundled dataset's default model with a hidden size of 8 (and any model options), trained."""
    d = DATASETS[name]
    config = copy.deepcopy(d.model)
    config.hidden_size = 8
    for key, value in model.items():
        setattr(config, key, value)
    return train(d.load(), config, train_config, d.time_column, progress=progress)


def test_stock_model_reports_test_metrics_beside_baselines(stock_artifact):
    m = stock_artifact.manifest.to_dict()
    assert set(m["metrics"]) >= {"model", "naive", "seasonal_naive", "coverage", "windows", "mase_scale"}
    # Trained on 2004-2010 prices, tested on 2012-2013: per-window scaling keeps it near naive, never far off.
    assert m["metrics"]["model"]["mase"] <= 1.1 * m["metrics"]["naive"]["mase"]
    assert 0.6 < m["metrics"]["coverage"]["80"] < 0.95
    assert len(m["data_fingerprint"]) == 64


def test_the_scaler_is_fitted_on_the_training_part_only(stock_artifact):
    closes = DATASETS["stock"].load()["close"].to_numpy()
    n = len(closes)
    train_rows = n - round(n * 0.15) - 2 * round(n * 0.1)  # test, calibration, validation
    steps = np.abs(np.diff(closes[:train_rows])).mean()
    assert stock_artifact.manifest.scaler["floor"][0] == pytest.approx(0.1 * steps, rel=1e-4)


def test_classifier_pipeline_reports_accuracy_f1_perplexity():
    artifact = _small("weather-type", TrainConfig(epochs=1))
    m = artifact.manifest.metrics
    assert set(m["model"]) == {"accuracy", "macro_f1", "perplexity"} and "majority" in m
    assert np.asarray(m["confusion_matrix"]).sum() == m["windows"]
    assert sorted(artifact.config.classes) == ["drizzle", "fog", "rain", "snow", "sun"]


def test_a_classifier_needs_covariates():
    d = DATASETS["weather-type"]
    config = copy.deepcopy(d.model)
    config.covariates = []
    with pytest.raises(DataError, match="needs covariates"):
        train(d.load(), config, TrainConfig(epochs=1), d.time_column)


def test_the_choices_made_on_validation_are_recorded(stock_artifact):
    m = stock_artifact.manifest.to_dict()
    choice = m["choice"]
    assert choice["season_length"] == 5 and choice["season_source"] == "frequency"  # B -> 5 trading days
    assert choice["scaling"] == m["config"]["scaling"] == m["scaler"]["kind"]
    # Prices leave the range they started in: standard scaling is not even a candidate.
    assert choice["scaling"] != "standard" and not any(k.startswith("standard") for k in m["validation"]["candidates"])
    assert choice["base"] == m["config"]["base"] in ("naive", "seasonal")


def test_never_worse_than_the_better_base_on_validation(stock_artifact):
    v = stock_artifact.manifest.validation
    bare = [score for key, score in v["candidates"].items() if key.endswith("/inf")]  # the bases, no ridge
    assert v["model"] <= min(bare) + 1e-6
    assert v["initial"] <= min(bare) + 1e-9


def test_a_seasonal_series_gets_the_seasonal_base_and_standard_scaling_when_it_keeps_its_range():
    """Real hourly temperatures (bundled SF 2010), one month: the daily cycle is found and used."""
    frame = DATASETS["sf-temps"].load().iloc[: 24 * 60]
    config = ModelConfig(targets=["temp"], input_size=48, horizon=24, hidden_size=8)  # no frequency: detected
    artifact = train(frame, config, TrainConfig(epochs=2, max_steps=20), "date")
    choice = artifact.manifest.choice
    assert choice["season_length"] == 24 and choice["season_source"] == "detected"
    # the seasonal base alone, or in the mean of the best naive-based and seasonal-based starts
    assert choice["base"] == "seasonal" or "seasonal" in [part["base"] for part in choice["combined"]]
    metrics = artifact.manifest.metrics
    assert metrics["seasonal_naive"]["mase"] < metrics["naive"]["mase"]  # the baseline uses the season too


def test_intervals_are_calibrated_on_a_part_early_stopping_never_saw(monkeypatch):
    """The calibration residuals come from windows outside the validation part (and before the test)."""
    import model.train as pipeline

    seen = {}
    original = pipeline.conformal_quantiles

    def spy(residuals, *args, **kwargs):
        seen["n"] = len(residuals)
        return original(residuals, *args, **kwargs)

    monkeypatch.setattr(pipeline, "conformal_quantiles", spy)
    d = DATASETS["weather"]
    config = d.model
    artifact = _small("weather", TrainConfig(epochs=1))
    n = len(d.load())
    split = split_windows(n, config.input_size, config.horizon, 0.1, 0.15, 0.1)
    assert seen["n"] == split.calibration.stop - split.calibration.start
    assert split.val.stop <= split.calibration.start + config.input_size  # no window targets overlap
    assert split.calibration.stop <= split.test.start + config.input_size
    assert set(artifact.manifest.metrics["coverage"]) == {"80", "95"}


def test_the_skip_is_refitted_up_to_the_test_part_and_the_intervals_widened_for_it(monkeypatch):
    """sf-temps, four months: the newest weeks change the linear map; the GRU and the choices stay."""
    import model.train as pipeline

    stops = []
    original = pipeline._refit_skip
    monkeypatch.setattr(pipeline, "_refit_skip", lambda *a: stops.append(a[-1]) or original(*a))
    frame = DATASETS["sf-temps"].load().iloc[: 24 * 120]
    config = ModelConfig(targets=["temp"], input_size=48, horizon=24, hidden_size=4, frequency="h",
                         scaling="robust", base="seasonal")
    options = {"epochs": 1, "max_steps": 2}
    kept = train(frame, copy.deepcopy(config), TrainConfig(**options, refit=False), "date")
    refitted = train(frame, copy.deepcopy(config), TrainConfig(**options), "date")
    assert kept.manifest.validation["refit"] is False and refitted.manifest.validation["refit"] is True
    assert kept.manifest.validation["interval_widening"] == 1.0
    assert 1.0 < refitted.manifest.validation["interval_widening"] < 1.2  # sqrt(N / (N - dof))
    # Same choices and GRU, a different map; the held-out validation score is the one before the refit.
    assert kept.manifest.choice == refitted.manifest.choice
    assert kept.manifest.validation["model"] == refitted.manifest.validation["model"]
    skip_kept, skip_new = kept.predictor.net.skip, refitted.predictor.net.skip
    assert skip_kept is not None and skip_new is not None
    assert not torch.allclose(skip_kept.weight, skip_new.weight)
    torch.testing.assert_close(kept.predictor.net.head.weight, refitted.predictor.net.head.weight)
    split = split_windows(len(frame), 48, 24, 0.1, 0.15, 0.1)
    assert stops == [split.calibration.stop]  # windows whose horizon ends before the test part


def test_the_mean_of_the_best_naive_and_seasonal_starts_is_one_map_on_the_naive_base():
    """A combination is scored on validation like any start and served as the naive base plus one map."""
    import model.train as pipeline

    d = DATASETS["weather"]
    config = copy.deepcopy(d.model)
    config.season_length, config.hidden_size = 7, 8
    series = pipeline.prepare_series(d.load(), config, d.time_column)
    x, _ = pipeline.make_windows(series.values, config.input_size, config.horizon)
    rng = np.random.default_rng(0)
    maps = [(base, rng.standard_normal((7, 28 * 4)), rng.standard_normal(7)) for base in ("naive", "seasonal")]
    weight, bias = pipeline._combine(config, maps)
    scaler = pipeline.fit_scaler(series.values[:1000], "standard")
    windows = x[:50]
    xs, _, scale = pipeline.scale_inputs(windows, scaler)
    flat = xs.reshape(50, -1)

    def forecast(base, w, b):
        trial = ModelConfig.from_dict({**config.to_dict(), "base": base})
        return pipeline.base_forecast(windows[:, :, :1], trial) + (flat @ w.T + b)[:, :, None] * scale[:, None, :1]

    forecasts = [forecast(*m) for m in maps]
    combined = forecast("naive", weight, bias)
    np.testing.assert_allclose(combined, (forecasts[0] + forecasts[1]) / 2, rtol=1e-6, atol=1e-6)

    artifact = train(d.load(), copy.deepcopy(d.model), TrainConfig(epochs=1), d.time_column)
    candidates, choice = artifact.manifest.validation["candidates"], artifact.manifest.choice
    assert "standard/combined" in candidates  # scored beside the single starts
    if choice["combined"]:  # chosen only when it beats every single start (of its calendar) over the blocks
        assert choice["base"] == "naive" and artifact.config.linear_skip
        prefix = "year/" if choice["calendar"] == "year" else ""
        singles = [v for k, v in candidates.items() if k.startswith(prefix) == bool(prefix)
                   and not k.endswith("combined") and v is not None]
        assert candidates[f"{prefix}{choice['scaling']}/combined"] < min(singles)


def test_max_steps_bounds_the_work_on_a_long_series():
    d = DATASETS["ecg"]
    config = copy.deepcopy(d.model)
    config.hidden_size = 4
    reports = []
    train(d.load().iloc[:20_000], config, TrainConfig(epochs=3, max_steps=6, patience=0), d.time_column,
          progress=reports.append)
    # 3 epochs of 2 sampled steps, not 3 x 200 full passes (the winner's last epoch is skipped when
    # its first never beat its start: it would replay it)
    assert [r.epoch for r in reports] in ([1, 2, 3], [1, 2])
    assert all(r.train_seconds < 5 for r in reports)


def test_a_long_window_trains_fewer_steps_so_the_budget_bounds_the_time(monkeypatch):
    steps = []
    original = torch.optim.Adam.step

    def counted(self, *args, **kwargs):
        steps.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", counted)
    d = DATASETS["ecg"]
    config = copy.deepcopy(d.model)
    config.hidden_size, config.linear_skip, config.input_size = 4, False, 2 * STEP_WINDOW  # no race: one run
    artifact = train(d.load().iloc[:20_000], config, TrainConfig(epochs=3, max_steps=12, patience=0), d.time_column)
    # twice the step window: 6 steps (3 epochs of 2), not 12
    assert len(steps) == 6
    assert artifact.manifest.choice["max_steps"] == 6
    assert artifact.manifest.train_config["max_steps"] == 12  # what was asked, for a retrain to repeat


def test_a_ridge_start_races_the_bare_base_and_the_winner_is_what_is_saved():
    reports = []
    artifact = _small("weather", TrainConfig(epochs=6, ensemble=False), reports.append)
    v, choice = artifact.manifest.validation, artifact.manifest.choice
    race = v["race"]  # the weather's best start is a ridge (a linear map of 28 days and covariates)
    assert race["winner"] in ("ridge", "bare") and {"ridge", "bare"} <= set(race) and "together" not in race
    assert artifact.config.members == 1
    linear_start = choice["ridge_penalty"] is not None or bool(choice["combined"])
    assert linear_start == (race["winner"] == "ridge")
    assert artifact.config.linear_skip == (race["winner"] == "ridge")
    assert v["model"] <= race[race["winner"]] + 1e-6  # the last third only kept what improved
    # the winner by each run's validation score times its start's blocks score per validation score
    assert race[f"{race['winner']}_blocks"] == min(race["ridge_blocks"], race["bare_blocks"])
    assert [r.epoch for r in reports][:4] == [1, 2, 3, 4] and all(r.epochs == 6 for r in reports)


def test_the_race_runs_are_served_together_only_when_their_mean_wins_on_validation():
    import model.train as pipeline

    reports = []
    artifact = _small("weather", TrainConfig(epochs=6), reports.append)
    v = artifact.manifest.validation
    race = v["race"]
    close = max(race["ridge"], race["bare"]) <= (1 + pipeline.ENSEMBLE_GAP) * min(race["ridge"], race["bare"])
    assert ("together" in race) == close
    together = close and race["together"] < (1 - pipeline.ENSEMBLE_GAIN) * min(race["ridge_final"], race["bare_final"])
    assert race["served"] == ("both" if together else race["winner"])
    assert artifact.config.members == (2 if together else 1)
    if together:  # the validation score is the merged network's, before the refit
        assert v["model"] == pytest.approx(race["together"], rel=1e-5) and artifact.config.linear_skip
    # Two thirds of racing, then the winner's last third: the bar counts to the budget and no further.
    assert [r.epoch for r in reports] == list(range(1, len(reports) + 1)) and len(reports) <= 6


def test_the_interval_exponent_says_whether_errors_follow_volatility_from_period_to_period():
    import model.train as pipeline

    rng = np.random.default_rng(0)
    n = 1200
    vol = np.exp(np.linspace(0, 2, n))[:, None]  # volatility rises 7x over the series
    noise = np.abs(rng.standard_normal((n, 1)))
    proportional, tight = pipeline._exponent(vol, noise * vol)
    flat, _ = pipeline._exponent(vol, noise)
    assert proportional > 0.9 and flat < 0.1  # prices vs a learned daily cycle
    steady, _ = pipeline._exponent(np.ones((n, 1)), noise)
    assert steady == 1.0  # no period wilder than another: the proportional default
    # What the fit leaves: little where errors follow volatility, all of their own swings where
    # they move against it.
    _, loose = pipeline._exponent(vol, noise / vol)
    assert loose > 10 * tight


class _Zero:
    """A predictor whose forecasts are 0: the errors are the targets."""

    def __init__(self, config):
        self.config, self.scaler = config, {"floor": [1e-6]}

    def forecast_array(self, windows):
        return np.zeros((len(windows), self.config.horizon, 1)), None


@pytest.mark.parametrize("follows", ["cycle", "days"])
def test_the_interval_lag_is_the_volatility_the_errors_follow(follows):
    """A daily cycle whose amplitude shrinks over the series while the day-on-day changes grow (a
    temperature from summer into winter): when the errors follow the day-on-day changes, the widths
    follow the season's lag; when they follow the cycle, lag 1."""
    import model.train as pipeline

    rng = np.random.default_rng(1)
    n, m = 1200, 24
    config = ModelConfig(input_size=2 * m, horizon=m, season_length=m, base="naive")
    t = np.arange(2 * m)
    amplitude = np.linspace(4.0, 1.0, n)  # hour-to-hour steps shrink
    changes = np.exp(np.linspace(0.0, 1.5, n))  # day-on-day changes grow
    day_level = np.repeat(rng.standard_normal((n, 2)), m, axis=1) * changes[:, None]
    x = (amplitude[:, None] * np.sin(2 * np.pi * t / m) + day_level)[:, :, None]
    size = changes if follows == "days" else amplitude
    y = (np.abs(rng.standard_normal((n, m))) * size[:, None])[:, :, None]
    train_targets = x[: n // 2, :, 0].reshape(-1, 1)
    lag, floor, exponent = pipeline._interval_unit(_Zero(config), x, y, n, train_targets)
    assert lag == (m if follows == "days" else 1)
    assert exponent > 0.5
    assert floor == pytest.approx(step_floor(train_targets, lag))
    # The base's lag wins a tie: no season, one candidate.
    alone = ModelConfig(input_size=2 * m, horizon=m, season_length=1, base="naive")
    assert pipeline._interval_unit(_Zero(alone), x, y, n, train_targets)[0] == 1


@pytest.mark.parametrize("base", ["naive", "seasonal"])
def test_intervals_use_the_fitted_exponent_and_floor_and_both_are_saved(tmp_path, base):
    import model.train as pipeline
    from model.artifact import load_artifact, save_artifact
    from model.scaling import step_floor

    d = DATASETS["weather"]
    artifact = _small("weather", TrainConfig(epochs=1), base=base)
    exponent = artifact.manifest.validation["interval_exponent"]
    assert 0.0 <= exponent <= 1.0 and artifact.predictor.exponent == exponent
    assert artifact.manifest.interval_exponent == exponent
    # The served model's inputs: the data's columns, and the calendar's when it chose the year.
    values = prepare_series(d.load(), copy.deepcopy(artifact.config), d.time_column).values.astype(np.float64)
    lag = artifact.predictor.interval_lag
    assert lag in (1, 7) and artifact.manifest.interval_lag == lag == artifact.manifest.validation["interval_lag"]
    # The floor is at the interval's lag, from the training part alone.
    tc = TrainConfig()
    split = split_windows(len(values), 28, 7, tc.val_fraction, tc.test_fraction, tc.calibration_fraction)
    floor = step_floor(values[: split.train_rows, :1], lag)
    assert artifact.predictor.floor == pytest.approx(floor)
    assert artifact.manifest.interval_floor == artifact.predictor.floor
    windows = np.stack([values[-28:], np.full((28, values.shape[1]), 5.0)]).astype(np.float32)  # the second is flat
    vol = artifact.predictor.interval_unit(windows)
    steps = np.abs(windows[0, lag:, 0] - windows[0, :-lag, 0]).mean()
    assert vol[0, 0] == pytest.approx(max(steps, floor[0]) ** exponent, rel=1e-4)
    assert vol[1, 0] == pytest.approx(floor[0] ** exponent, rel=1e-4)
    # The exponent is the served model's, the skip refitted (not the one fitted on training alone).
    x, y = make_windows(values.astype(np.float32), 28, 7)
    assert artifact.manifest.validation["refit"]
    fitted = pipeline._interval_unit(artifact.predictor, x, y[:, :, :1], split.calibration.stop,
                                     values[: split.train_rows, :1])
    assert fitted == (lag, pytest.approx(floor), exponent)
    save_artifact(artifact, tmp_path / "v1")
    loaded = load_artifact(tmp_path / "v1").predictor
    assert loaded.exponent == exponent and loaded.floor == artifact.predictor.floor and loaded.interval_lag == lag
    np.testing.assert_allclose(loaded.interval_unit(windows), vol, rtol=1e-6)


@pytest.mark.parametrize("input_size", [28, 60])
def test_the_bare_run_takes_the_best_starts_scaling_so_the_race_can_be_served_as_one_network(input_size):
    import model.train as pipeline
    from model import metrics
    from model.windows import make_windows, prepare_series

    d = DATASETS["weather"]
    config = copy.deepcopy(d.model)
    config.input_size = input_size
    series = prepare_series(d.load(), config, d.time_column)
    split = split_windows(len(series.values), config.input_size, config.horizon, 0.1, 0.15, 0.1)
    train_values = series.values[: split.train_rows]
    pipeline._resolve_season(config, train_values)
    x, y = make_windows(series.values, config.input_size, config.horizon)
    scale = metrics.naive_scale(train_values[:, :1])
    best, bare, table = pipeline._choose(config, x, y[:, :, :1], np.arange(split.train.start, split.train.stop),
                                         np.arange(split.val.start, split.val.stop), train_values, scale)
    assert best.linear and not bare.linear and bare.scaling == best.scaling
    # The bare base is one forecast whatever the scaling: every scaling scores it the same.
    bare_scores = {v for k, v in table.items() if k.endswith(f"/{bare.base}/inf")}
    assert len(bare_scores) == 1


def test_a_run_that_never_beat_its_start_does_not_replay_its_third(monkeypatch):
    """At lr 0 no epoch beats the start, so the last third would replay the race's third exactly."""
    import model.train as pipeline

    def trained(replay: bool):
        if replay:
            monkeypatch.setattr(pipeline._Run, "unmoved", lambda self: False)
        return _small("weather", TrainConfig(epochs=6, lr=0.0))

    skipped, replayed = trained(False), trained(True)
    assert skipped.manifest.validation["race"]  # the race ran: two runs, a third (2 epochs) each
    assert skipped.manifest.epochs_run == 2 < replayed.manifest.epochs_run
    assert skipped.manifest.validation["model"] == replayed.manifest.validation["model"]
    for (name, a), b in zip(skipped.predictor.net.state_dict().items(), replayed.predictor.net.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name


def test_a_run_is_unmoved_until_its_weights_change():
    import model.train as pipeline

    artifact = _small("weather", TrainConfig(epochs=1))
    net = artifact.predictor.net
    run = pipeline._Run(None, artifact.predictor, None, (None, None), None, [],
                        {k: v.clone() for k, v in net.state_dict().items()})
    assert run.unmoved()
    with torch.no_grad():
        next(iter(net.parameters())).add_(1e-3)
    assert not run.unmoved()
    assert not pipeline._Run(None, artifact.predictor, None, (None, None), None, []).unmoved()


@pytest.mark.parametrize("gap", [float("inf"), -1.0])
def test_the_pair_is_tried_only_when_the_loser_ended_the_race_close_behind(monkeypatch, gap):
    import model.train as pipeline

    calls = []

    def counting_fit(*args, **kwargs):
        calls.append(args[4].epochs)
        return fit(*args, **kwargs)

    fit = pipeline.fit
    monkeypatch.setattr(pipeline, "fit", counting_fit)
    monkeypatch.setattr(pipeline, "ENSEMBLE_GAP", gap)
    race = _small("weather", TrainConfig(epochs=6)).manifest.validation["race"]
    assert calls[:2] == [2, 2]  # the race: a third each
    # Either way only the winner trains a last third: the pair fits in the one budget.
    assert len(calls) == 3
    if gap > 0:  # the pair is scored
        assert "together" in race
    else:  # the winner is served alone
        assert "together" not in race and race["served"] == race["winner"]


def test_the_start_is_chosen_over_blocks_of_the_training_part_not_the_validation_part_alone():
    """SF temperatures cut at 85%: validation in late summer, when yesterday's hours repeat and the bare
    seasonal base wins; before it and after it the ridge does (model/train.py, CHOICE_BLOCKS)."""
    import model.train as pipeline
    from model import metrics
    from model.windows import prepare_series

    d = DATASETS["sf-temps"]
    config, train_config = copy.deepcopy(d.model), copy.deepcopy(d.training)
    series = prepare_series(d.load().iloc[:7446], config, d.time_column)
    split = split_windows(len(series.values), config.input_size, config.horizon, train_config.val_fraction,
                          train_config.test_fraction, train_config.calibration_fraction)
    train_values = series.values[: split.train_rows]
    pipeline._resolve_season(config, train_values)
    x, y = make_windows(series.values, config.input_size, config.horizon)
    y = y[:, :, :1]
    scale = metrics.naive_scale(train_values[:, :1])
    train_rows = np.arange(split.train.start, split.train.stop)
    val_rows = pipeline._evenly(split.val, pipeline.MAX_VAL_WINDOWS)

    window = config.input_size + config.horizon
    blocks = pipeline._choice_blocks(split, train_rows, window)
    length = split.val.stop - split.val.start
    assert len(blocks) == pipeline.CHOICE_BLOCKS - 1
    for k, (fit_rows, rows) in enumerate(blocks):  # consecutive, the last just before validation
        first = split.val.start - (len(blocks) - k) * length
        assert rows[0] == first and rows[-1] == first + length - 1
        # fitted on the training windows before and after it that share no row with its windows
        shares = (train_rows + window > first) & (train_rows < rows[-1] + window)
        np.testing.assert_array_equal(fit_rows, train_rows[~shares])
    assert (blocks[0][0] > blocks[0][1][-1]).any()  # the oldest block's fit has windows after it too

    alone, _, _ = pipeline._choose(config, x, y, train_rows, val_rows, train_values, scale)
    best, bare, table = pipeline._choose(config, x, y, train_rows, val_rows, train_values, scale, blocks)
    assert not alone.linear and alone.base == "seasonal"  # validation alone: the bare seasonal base
    assert best.linear and best.score < bare.score  # over the blocks: a ridge, though behind on validation
    assert best.val_mase > bare.val_mase
    key = f"{best.scaling}/combined" if best.parts else f"{best.scaling}/{best.base}/{best.penalty:g}"
    assert table[key] == round(best.score, 5)

    # and on the autumn weeks after the calibration part, the ridge (fitted on the training part, not
    # yet refitted; here the mean of a naive-based and a seasonal-based ridge) is ahead of the bare
    # base: 0.092 against 0.129
    later = np.arange(split.test.start, split.test.stop)
    scaler = pipeline.fit_scaler(train_values, best.scaling)
    scaled, _, unit = pipeline.scale_inputs(x[later], scaler)
    trial = ModelConfig.from_dict({**config.to_dict(), "base": best.base})
    base = pipeline.base_forecast(x[later, :, :1], trial)
    ridge = base + (scaled.reshape(len(later), -1) @ best.weight.T + best.bias).reshape(base.shape) * unit[:, None, :1]
    seasonal = pipeline.base_forecast(x[later, :, :1], ModelConfig.from_dict({**config.to_dict(), "base": "seasonal"}))
    assert metrics.mase(y[later], ridge, scale) < 0.8 * metrics.mase(y[later], seasonal, scale)


def test_a_ridge_start_races_when_ahead_on_validation_or_clearly_ahead_on_the_choice_blocks():
    import model.train as pipeline

    def start(penalty, val_mase, score):
        return pipeline._Candidate("standard", "naive", penalty, val_mase, np.zeros((1, 1)), np.zeros(1), score=score)

    bare = start(float("inf"), 3.89, 4.76)
    assert not pipeline._worth_a_race(bare, bare)
    assert pipeline._worth_a_race(start(1.0, 3.80, 5.00), bare)  # ahead on validation: races, as it always did
    assert not pipeline._worth_a_race(start(1.0, 4.06, 4.57), bare)  # 4% ahead on the blocks only (the ECG)
    assert pipeline._worth_a_race(start(1e-5, 0.0975, 0.079), start(float("inf"), 0.0852, 0.158))  # Seattle
    # the race weighs a run's validation score by its start's blocks score per validation score
    assert pipeline._blocks_ratio(start(1e-5, 0.0975, 0.079)) == pytest.approx(0.079 / 0.0975)
    assert pipeline._blocks_ratio(start(1e-5, 0.0, 0.2)) == 1.0  # a flat validation part forecast exactly


@pytest.mark.parametrize("base", ["naive", "seasonal", "seasonal_level"])
def test_forking_targets_are_the_horizon_after_each_position_minus_the_base_made_there(base):
    """Each of the last P positions is a forecast origin: its target is what base_forecast would correct."""
    import model.train as pipeline
    from model.network import GRUNet
    from model.predictor import Predictor, base_forecast

    config = ModelConfig(targets=["y"], input_size=12, horizon=5, season_length=4, base=base, hidden_size=4)
    values = np.random.default_rng(1).standard_normal((60, 1)).cumsum(axis=0).astype(np.float32)
    scaler = pipeline.fit_scaler(values, "window")
    predictor = Predictor(config=config, net=GRUNet(config), scaler=scaler)
    x, _ = pipeline.make_windows(values, 12, 5)
    rows = np.arange(len(x))
    positions = 12 - 4  # from a season in, as _prepare starts them
    forking = pipeline.ForkingWindows(values, x, rows, predictor, positions)
    _, target = forking.batch(torch.tensor([3, 20]), torch.device("cpu"))
    _, _, scale = pipeline.scale_inputs(x[[3, 20]], scaler)
    for b, row in enumerate((3, 20)):
        for p, last in enumerate(range(12 - positions, 12)):  # the origin at window index `last`
            history = values[row : row + last + 1][None]  # everything up to the origin
            sub = ModelConfig.from_dict({**config.to_dict(), "input_size": last + 1})
            want = (values[row + last + 1 : row + last + 6][None] - base_forecast(history, sub)) / scale[b]
            np.testing.assert_allclose(target[b, p].numpy(), want[0], rtol=1e-5, atol=1e-5)


def test_seasonal_level_is_tried_only_where_seasonal_naive_beats_naive_on_the_training_windows():
    import model.train as pipeline
    from model import metrics

    config = ModelConfig(targets=["temp"], input_size=48, horizon=24, season_length=24)
    hourly = DATASETS["sf-temps"].load()["temp"].to_numpy(np.float32)[: 24 * 60, None]  # a daily cycle
    walk = np.random.default_rng(0).standard_normal((24 * 60, 1)).cumsum(axis=0).astype(np.float32)  # none
    for values, helps in ((hourly, True), (walk, False)):
        x, y = pipeline.make_windows(values, 48, 24)
        rows = np.arange(len(x) // 2)
        scale = metrics.naive_scale(values)
        assert pipeline._season_helps(config, x, y, rows, scale) is helps
        assert ("seasonal_level" in pipeline._bases(config, helps)) is helps
    assert pipeline._bases(config, True) == ["naive", "seasonal", "seasonal_level"]
    assert pipeline._bases(ModelConfig(input_size=24, season_length=24), True) == ["naive", "seasonal"]  # m = L
    with pytest.raises(DataError, match="seasonal_level"):
        pipeline._bases(ModelConfig(input_size=24, season_length=24, base="seasonal_level"))


def test_seasonal_level_comes_with_a_ridge_under_auto_and_bare_only_when_asked_for():
    frame = DATASETS["sf-temps"].load().iloc[: 24 * 60]
    config = ModelConfig(targets=["temp"], input_size=48, horizon=24, hidden_size=4, frequency="h")
    options = TrainConfig(epochs=1, max_steps=2)
    candidates = train(frame, copy.deepcopy(config), options, "date").manifest.validation["candidates"]
    level = [key for key in candidates if "/seasonal_level/" in key]
    assert level and not [key for key in level if key.endswith("/inf")]
    assert any(key.endswith("/seasonal/inf") for key in candidates)  # the other bases keep their bare start
    config.base = "seasonal_level"
    asked = train(frame, config, options, "date")
    assert any(key.endswith("/seasonal_level/inf") for key in asked.manifest.validation["candidates"])
    assert asked.config.base == "seasonal_level"
