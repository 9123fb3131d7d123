"""BYOL's optimal linear predictor (Sec. 3.2: "the main role of BYOL's moving-averaged target network is
to ensure the near-optimality of the predictor over training"): instead of a trained MLP, the linear map
that best predicts the target projections from the online ones on the batch at hand, solved in closed
form at each step (`predictor.kind: closed_form`).

The solve is ridge regression without an intercept (BYOL's heads have no output bias):
    W = (X'X / n + lambda I)^-1 X'Y / n,   lambda = ridge * trace(X'X / n) / d,
X the online projections (n x d), Y the target projections normalized as the loss reads them (the loss
compares q/|q| with z'/|z'|). W is a constant of the step, as a trained predictor's weights are: the
gradient reaches the online network through the prediction X W, not through the solve. (For a plain
squared error at the optimum the two agree: the loss is stationary in W.) With several ranks each
solves on its own share of the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def optimal_linear_map(inputs: torch.Tensor, targets: torch.Tensor, ridge: float) -> torch.Tensor:
    """W (d_in x d_out) minimizing ||inputs W - targets||^2 / n + lambda ||W||^2, in float32 (or wider)."""
    x, y = (t.detach().float() if t.dtype in (torch.float16, torch.bfloat16) else t.detach() for t in (inputs, targets))
    n, d = x.shape
    second_moment = x.T @ x / n
    lam = ridge * second_moment.diagonal().sum() / d
    return torch.linalg.solve(second_moment + lam * torch.eye(d, dtype=x.dtype, device=x.device), x.T @ y / n)


def optimal_predictions(inputs: list[torch.Tensor], targets: list[torch.Tensor], ridge: float) -> list[torch.Tensor]:
    """Each input's prediction by the one linear map fitted on all (input, target) pairs of the batch
    (BYOL's symmetric loss: both view orders, as one predictor serves both)."""
    w = optimal_linear_map(torch.cat(inputs), F.normalize(torch.cat(targets), dim=1), ridge)
    return [x @ w.to(x.dtype) for x in inputs]
