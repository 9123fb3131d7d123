"""harness/nets/closed_form.py: BYOL's optimal linear predictor, the batch's ridge regression."""

import pytest
import torch
import torch.nn.functional as F

from harness.nets.closed_form import optimal_linear_map, optimal_predictions


def data(n=40, d=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=torch.float64), torch.randn(n, d, generator=g, dtype=torch.float64)


def ridge_by_stacking(x, y, ridge):
    """The same regression solved another way: least squares on [X; sqrt(lambda n) I] -> [Y; 0]."""
    n, d = x.shape
    lam = ridge * (x * x).sum() / n / d  # ridge x the mean eigenvalue of X'X / n
    a = torch.cat([x, (lam * n).sqrt() * torch.eye(d, dtype=x.dtype)])
    b = torch.cat([y, torch.zeros(d, y.shape[1], dtype=y.dtype)])
    return torch.linalg.lstsq(a, b).solution


@pytest.mark.parametrize("ridge", [1e-3, 0.5])
def test_the_map_is_the_ridge_regression_solved_independently(ridge):
    x, y = data()
    assert torch.allclose(optimal_linear_map(x, y, ridge), ridge_by_stacking(x, y, ridge), atol=1e-10)


def test_a_vanishing_ridge_gives_the_least_squares_fit():
    x, y = data()
    w = optimal_linear_map(x, y, 1e-12)
    assert torch.allclose(w, torch.linalg.lstsq(x, y).solution, atol=1e-8)
    assert torch.allclose(x.T @ (x @ w - y), torch.zeros(6, 6, dtype=x.dtype), atol=1e-8)  # normal equations


def test_the_ridge_is_relative_to_the_inputs_scale():
    x, y = data()
    assert torch.allclose(optimal_linear_map(10 * x, y, 0.1) * 10, optimal_linear_map(x, y, 0.1), atol=1e-10)


def test_half_precision_inputs_are_solved_in_float32():
    x, y = data()
    w = optimal_linear_map(x.bfloat16(), y.bfloat16(), 1e-3)
    assert w.dtype == torch.float32


def test_one_map_fitted_on_every_pair_predicts_each_input():
    (x0, y0), (x1, y1) = data(seed=1), data(seed=2)
    p0, p1 = optimal_predictions([x0, x1], [y0, y1], 1e-3)
    w = ridge_by_stacking(torch.cat([x0, x1]), F.normalize(torch.cat([y0, y1]), dim=1), 1e-3)
    assert torch.allclose(p0, x0 @ w, atol=1e-10) and torch.allclose(p1, x1 @ w, atol=1e-10)
