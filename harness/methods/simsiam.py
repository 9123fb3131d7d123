"""SimSiam (Chen & He, 2021): two views, one encoder + projector, a predictor on one side and a
stop-gradient on the other. Every ablation of the paper is a switch in the config:
stop-gradient (Fig. 2), predictor kind and lr (Table 1), BN placement (Table 3), similarity
(Sec. 4.5), symmetrization (Sec. 4.6) and the two tests of Sec. 5.2's hypothesis.

Sec. 5 reads SimSiam as an alternation on L(theta, eta) = E ||F_theta(T(x)) - eta_x||^2: eta_x is
set to F_theta(T'(x)) with theta fixed (the stop-gradient branch), then theta takes an SGD step. The
target branch is where Sec. 5.2 changes SimSiam (`targets`):
- method.eta_every = k ("Multi-step alternation"): eta comes from a snapshot of the encoder and
  projector taken at the start of each alternation and held for k SGD steps. The paper pre-computes
  eta for the next k batches with theta_t; the snapshot computes the same values batch by batch (in
  train mode, BN on the batch, as the online branch). The snapshot is a MomentumTarget whose EMA rate
  is 0 at every k-th step (a copy) and 1 otherwise (left as it is). k = 1 is SimSiam itself.
- method.eta_momentum = m ("Expectation over augmentations"): eta_x kept per training image (a
  buffer of (training images, d), saved in checkpoints) and moved toward the current output,
  eta_x <- m eta_x + (1 - m) F_theta(T'(x)), before the loss reads it; the paper runs it without the
  predictor. See `moving_average_eta` for the symmetric loss.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness import distributed
from harness.config import RunConfig
from harness.data.pipeline import steps_per_epoch
from harness.methods.base import VIEW_PAIRS, StepOutput
from harness.methods.momentum import MomentumTarget

# SimSiam's loss averages over the pairs; asymmetric_2x samples two pairs per image (Sec. 4.6): the
# same compute as symmetric.
PAIRS = {**VIEW_PAIRS, "asymmetric_2x": [(0, 1), (2, 3)]}


def similarity_loss(p: torch.Tensor, z: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "cosine":
        return -F.cosine_similarity(p, z, dim=1).mean()
    # SimSiam Sec. 4.5: D(p, z) = -softmax(z) . log softmax(p)
    return -(F.softmax(z, dim=1) * F.log_softmax(p, dim=1)).sum(dim=1).mean()


class SimSiam(MomentumTarget):
    # Sec. 5.2's snapshot (built only with method.eta_every > 1): the network as it was at the start
    # of the alternation.
    target_names = ("eta_encoder", "eta_projector")

    @staticmethod
    def n_views(config: RunConfig) -> int:
        return 1 + max(j for pair in PAIRS[config.method.loss] for j in pair)

    def __init__(self, config: RunConfig, in_channels: int):
        super().__init__()
        self.build_online(config, in_channels)
        if config.method.eta_every != 1:
            self.build_target(config, in_channels)
        self.register_buffer("eta_cache", None)  # allocated by attach_data with method.eta_momentum

    def attach_data(self, train_size: int) -> None:
        self.epoch_steps = steps_per_epoch(train_size, self.config.optim.batch_size)  # eta_every: epoch
        if self.config.method.eta_momentum is None:
            return
        why = self.config.method.ranks_problem(distributed.current().world_size)  # the preflight asked it too
        if why:
            raise ValueError(why)
        self.eta_cache = torch.zeros(train_size, self.embed_dim)

    def forward(self, views):
        z, pre_bn = zip(*(self.project(v) for v in views))
        pairs = PAIRS[self.config.method.loss]
        target = self.targets(views, z)
        sim = self.config.method.similarity
        loss = sum(similarity_loss(self.predictor(z[i]), target[j], sim) for i, j in pairs) / len(pairs)
        return StepOutput(loss=loss, embedding=z[0], embedding_pre_bn=pre_bn[0])

    def targets(self, views, z: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        """Each view's output on the target side of the loss: eta (Sec. 5)."""
        m = self.config.method
        if m.eta_momentum is not None:
            return self.moving_average_eta(getattr(views, "indices", None), z)
        if m.eta_every != 1:
            return self.target(views)  # the snapshot's, without gradient
        # Stop-gradient is the target branch's detach(), nothing else (SimSiam Fig. 2).
        return [zi.detach() if m.stop_gradient else zi for zi in z]

    @torch.no_grad()
    def moving_average_eta(self, indices: torch.Tensor | None, z: tuple[torch.Tensor, ...]) -> list[torch.Tensor]:
        """eta_x <- m eta_x + (1 - m) F(T'(x)) for the batch's images, the other rows untouched.
        With the symmetric loss each view is T' for the other, so each view j gets its own update
        m eta_x + (1 - m) z_j as its target (m = 0: z_j detached, SimSiam's target), and the cache
        keeps the update by the mean of the target views' outputs: both views enter the running
        expectation once per visit, in no order. With one target view (asymmetric) it is the
        paper's formula as written. The cache starts at 0: the first visit's eta is (1 - m) z,
        the direction of z (what the cosine reads)."""
        if indices is None:
            raise ValueError("method.eta_momentum keeps eta per training image: its batches need their "
                             "images' indices (harness.data.Batch)")
        m = self.config.method.eta_momentum
        old = self.eta_cache[indices]
        eta = [m * old + (1 - m) * zi.float() for zi in z]
        target_views = sorted({j for _, j in PAIRS[self.config.method.loss]})
        self.eta_cache[indices] = sum(eta[j] for j in target_views) / len(target_views)
        return [e.to(zi.dtype) for e, zi in zip(eta, z)]

    def after_step(self, step: int, total_steps: int) -> None:
        k = self.config.method.eta_every
        if k == 1:
            return
        if k == "epoch":
            k = self.epoch_steps
        if (step + 1) % k == 0:  # the next alternation starts: a snapshot of the network as it is now
            self.update_target(0.0, step + 1, total_steps, "constant")  # EMA rate 0: a copy
