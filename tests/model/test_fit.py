
import numpy as np
import pytest
import torch

from model.config import ModelConfig, TrainConfig
from model.fit import STEP_WINDOW, Cancelled, fit, learning_rate, plan_steps, step_budget
from model.network import GRUNet


def data(seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(400)
    series = np.sin(t / 5) + 0.05 * rng.standard_normal(400)
    x = np.stack([series[i : i + 10] for i in range(380)])[:, :, None].astype(np.float32)
    y = np.stack([series[i + 10 : i + 12] for i in range(380)])[:, :, None].astype(np.float32)
    return (x[:300], y[:300]), (x[300:], y[300:])


def train_once(**overrides):
    train, val = data()
    torch.manual_seed(overrides.get("seed", 0))
    net = GRUNet(ModelConfig(input_size=10, horizon=2, hidden_size=8))
    reports = []
    fit(net, "forecast", train, val, TrainConfig(epochs=3, **overrides), progress=reports.append)
    return net, reports


def test_a_cpu_run_repeats_exactly_with_its_seed():
    a, reports = train_once(seed=3)
    b, _ = train_once(seed=3)
    for pa, pb in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(pa, pb)
    assert [r.epoch for r in reports] == [1, 2, 3] and all(r.seconds > 0 for r in reports)


def test_training_lowers_the_loss_and_sgd_works_too():
    _, reports = train_once(lr=0.01)
    assert reports[-1].train_loss < reports[0].train_loss
    _, sgd = train_once(optimizer="sgd", lr=0.01)
    assert len(sgd) == 3


def test_cancel_is_checked_between_batches():
    train, val = data()
    net = GRUNet(ModelConfig(input_size=10, horizon=2, hidden_size=8))
    calls = []
    with pytest.raises(Cancelled):
        fit(net, "forecast", train, val, TrainConfig(epochs=3), should_cancel=lambda: calls.append(1) or len(calls) > 2)
    assert len(calls) == 3


def test_early_stopping_restores_the_best_weights():
    train, val = data()
    net = GRUNet(ModelConfig(input_size=10, horizon=2, hidden_size=8))
    loss = torch.nn.MSELoss()
    x_val, y_val = torch.from_numpy(val[0]), torch.from_numpy(val[1])
    initial = float(loss(net(x_val), y_val).detach())  # the zero head: the naive forecast
    reports = []
    # A huge learning rate makes validation worse: patience stops it and the best weights come back.
    fit(net, "forecast", train, val, TrainConfig(epochs=30, lr=5.0, patience=2, clip_norm=0), progress=reports.append)
    assert len(reports) < 30
    device = next(net.parameters()).device  # fit trains where the machine can: CUDA when present
    with torch.no_grad():
        restored = float(loss(net(x_val.to(device)), y_val.to(device)))
    assert restored == pytest.approx(min([initial] + [r.val_loss for r in reports]), rel=1e-5)


def test_plan_steps_keeps_full_epochs_on_small_data_and_samples_on_large():
    assert plan_steps(640, TrainConfig(epochs=30, batch_size=64, max_steps=1500)) == (30, 10)  # 300 steps: full
    assert plan_steps(100_000, TrainConfig(epochs=30, batch_size=64, max_steps=1500)) == (30, 50)
    assert plan_steps(100_000, TrainConfig(epochs=30, batch_size=64, max_steps=0)) == (30, 1563)  # no limit


def test_a_window_longer_than_the_step_window_gets_proportionally_fewer_steps():
    assert step_budget(1500, 180) == step_budget(1500, STEP_WINDOW) == 1500  # the budget as set
    assert step_budget(1500, 2 * STEP_WINDOW) == 750  # twice the window: half the steps, about the same time
    assert step_budget(1500, 360) == 1500 * STEP_WINDOW // 360
    assert step_budget(0, 10_000) == 0  # no limit stays no limit
    assert step_budget(1, 10_000) == 1  # never none


def test_the_learning_rate_grows_with_the_cut_the_budget_makes_up_to_tenfold():
    config = TrainConfig(epochs=30, batch_size=64, max_steps=1500, lr=0.001)
    assert learning_rate(640, config) == 0.001  # full epochs: the seed's rate
    assert learning_rate(5_700, config) == pytest.approx(0.001 * 90 / 50)  # 90 steps a full epoch, 50 sampled
    assert learning_rate(100_000, config) == pytest.approx(0.01)  # 1,563 / 50, capped at 10x
    assert learning_rate(100_000, TrainConfig(max_steps=0, lr=0.002)) == 0.002  # no budget, no change


def test_fit_steps_with_the_budgets_rate(monkeypatch):
    seen = []
    original = torch.optim.Adam

    def spy(params, lr):
        seen.append(lr)
        return original(params, lr=lr)

    monkeypatch.setattr(torch.optim, "Adam", spy)
    train_once(max_steps=3)  # 300 windows, 5 full steps an epoch, 1 sampled: 5x
    train_once()
    assert seen == [pytest.approx(0.005), 0.001]


def test_forking_targets_train_every_position_and_the_last_is_the_forecast():
    train, val = data()
    x, y = train
    # (N, P=3, H, T): the last position's target is the plain one; earlier ones are other windows' targets
    positions = np.stack([np.roll(y, 2, axis=0), np.roll(y, 1, axis=0), y], axis=1)
    torch.manual_seed(0)
    net = GRUNet(ModelConfig(input_size=10, horizon=2, hidden_size=8, linear_skip=False))
    reports = []
    fit(net, "forecast", (x, positions), val, TrainConfig(epochs=3, lr=0.01), progress=reports.append)
    assert reports[-1].train_loss < reports[0].train_loss
    xb = torch.from_numpy(val[0][:4]).to(next(net.parameters()).device)
    with torch.no_grad():
        torch.testing.assert_close(net.positions(xb, 3)[:, -1], net(xb))
