import numpy as np

from model.linear import PENALTIES, Ridge


def test_ridge_recovers_a_linear_map_and_inf_is_the_zero_map():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((500, 4))
    true = np.array([[1.0, -2.0, 0.5, 0.0], [0.0, 1.0, 0.0, 3.0]])
    y = x @ true.T + np.array([0.5, -1.0])
    ridge = Ridge(x, y)
    weight, bias = ridge.solve(1e-8)
    np.testing.assert_allclose(weight, true, atol=1e-6)
    np.testing.assert_allclose(bias, [0.5, -1.0], atol=1e-6)
    zero_w, zero_b = ridge.solve(float("inf"))
    assert not zero_w.any() and not zero_b.any() and zero_w.shape == (2, 4)
    assert float("inf") in PENALTIES


def test_a_larger_penalty_shrinks_the_weights():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((200, 3))
    y = x @ np.array([[2.0, 1.0, -1.0]]).T
    ridge = Ridge(x, y)
    norms = [np.linalg.norm(ridge.solve(p)[0]) for p in (1e-4, 1.0, 100.0)]
    assert norms[0] > norms[1] > norms[2]


def test_effective_parameters_run_from_all_of_them_to_none():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((300, 5))
    ridge = Ridge(x, x @ rng.standard_normal((5, 2)))
    dofs = [ridge.dof(p) for p in (1e-9, 1e-2, 1.0, 100.0)]
    assert abs(dofs[0] - 6) < 1e-3  # five weights and the intercept
    assert dofs[0] > dofs[1] > dofs[2] > dofs[3] > 1
    assert ridge.dof(float("inf")) == 0  # the zero map fits nothing
