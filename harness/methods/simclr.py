"""SimCLR (v1: Chen et al., 2020a; v2: 2020b): NT-Xent over the 2N views of a batch, both branches
trained, no predictor and no target network.

v2's changes are switches elsewhere: a deeper projection head (projector.layers 3, or 2 and 4 for
its Fig. 5), its final BN with a scale only (heads.output_bn_affine, heads.output_bn_center false)
and the linear probe read from its first layer (probe.layer 1) instead of the backbone.

Both views go through the networks as one batch of 2N, as in the official code (tf2/model.py), so
BatchNorm's statistics come from all 2N images; with several ranks the negatives come from the global
batch (losses.nt_xent).

The objective is the official code's (tf2/objective.py): the sum of the two directions' means, twice
NT-Xent's mean over the 2N views (the paper's 1/2N, lightly's). Under LARS the trust ratio cancels
that factor for the adapted weights, but not against their weight decay (the mean alone would train
with twice the code's relative decay) nor for the biases and BN parameters, plain momentum SGD (half
their steps). So the gradient is the sum's, and the loss the run logs stays the mean.
"""

from __future__ import annotations

import torch

from harness.config import RunConfig
from harness.methods.base import Method, StepOutput
from harness.methods.losses import nt_xent, with_gradient_scale

DIRECTIONS = 2  # tf2/objective.py: loss = mean(loss_a + loss_b), both directions summed


class SimCLR(Method):
    def __init__(self, config: RunConfig, in_channels: int):
        super().__init__()
        self.build_online(config, in_channels)  # predictor.kind is none: RunConfig checks it

    def forward(self, views):
        z, pre_bn = (t.chunk(len(views)) for t in self.project(torch.cat(views)))
        loss = with_gradient_scale(nt_xent(z[0], z[1], self.config.method.temperature), DIRECTIONS)
        return StepOutput(loss=loss, embedding=z[0], embedding_pre_bn=pre_bn[0])
