import numpy as np
import pytest
import torch

from model.config import ModelConfig
from model.network import GRUNet, SeedGRU


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def test_seed_cell_matches_the_four_equations_in_numpy():
    torch.manual_seed(1)
    cell = SeedGRU(input_size=3, hidden_size=5)
    x = torch.randn(2, 7, 3)
    got = cell(x).detach().numpy()
    gates, cand = cell.gates[0], cell.candidates[0]
    w_rz, b_rz = gates.weight.detach().numpy(), gates.bias.detach().numpy()
    w_r, w_z, b_r, b_z = w_rz[:5], w_rz[5:], b_rz[:5], b_rz[5:]
    w_h, b_h = cand.weight.detach().numpy(), cand.bias.detach().numpy()
    for b in range(2):
        h = np.zeros(5)
        for t in range(7):
            x_t = x[b, t].numpy()
            r = sigmoid(w_r @ np.concatenate([h, x_t]) + b_r)
            z = sigmoid(w_z @ np.concatenate([h, x_t]) + b_z)
            candidate = np.tanh(w_h @ np.concatenate([r * h, x_t]) + b_h)
            h = (1 - z) * h + z * candidate
            np.testing.assert_allclose(got[b, t], h, atol=1e-5)


def test_fused_cell_follows_pytorchs_documented_equations():
    torch.manual_seed(2)
    gru = torch.nn.GRU(3, 4, batch_first=True)
    x = torch.randn(1, 6, 3)
    out, _ = gru(x)
    w_ih, w_hh = gru.weight_ih_l0.detach().numpy(), gru.weight_hh_l0.detach().numpy()
    b_ih, b_hh = gru.bias_ih_l0.detach().numpy(), gru.bias_hh_l0.detach().numpy()
    h = np.zeros(4)
    for t in range(6):
        gi, gh = w_ih @ x[0, t].numpy() + b_ih, w_hh @ h + b_hh
        r = sigmoid(gi[:4] + gh[:4])
        z = sigmoid(gi[4:8] + gh[4:8])
        n = np.tanh(gi[8:] + r * gh[8:])  # reset gate AFTER the hidden matmul
        h = (1 - z) * n + z * h  # PyTorch's z is the seed's (1 - z)
        np.testing.assert_allclose(out[0, t].detach().numpy(), h, atol=1e-5)


@pytest.mark.parametrize("cell", ["fused", "seed"])
def test_shapes_of_forecaster_and_classifier(cell):
    forecaster = GRUNet(ModelConfig(targets=["a", "b"], covariates=["c"], input_size=8, horizon=3, cell=cell,
                                    num_layers=2, dropout=0.1))
    assert forecaster(torch.randn(5, 8, 3)).shape == (5, 3, 2)
    classifier = GRUNet(ModelConfig(task="classify", targets=["y"], covariates=["c", "d"], classes=["x", "y", "z"],
                                    input_size=8, cell=cell))
    assert classifier(torch.randn(5, 8, 2)).shape == (5, 3)


def test_untrained_forecaster_is_the_naive_forecast():
    net = GRUNet(ModelConfig(input_size=4, horizon=2))
    assert torch.count_nonzero(net(torch.randn(3, 4, 1))) == 0
