"""MoCo v3 (Chen, Xie & He, 2021): queries from the base encoder, projector and predictor; keys from
a momentum encoder (an EMA of the base encoder and projector, initialized as a copy of them);
InfoNCE over the global batch's keys with temperature T, scaled by 2T, summed over both view orders.
Each view goes through the networks on its own, as in the official code.

The paper's ViT study is a set of switches: backbone.name vit (harness/nets/vit.py) with
backbone.vit.frozen_patch_projection (Fig. 5), optim.name adamw with warm-up, the momentum and its
cosine schedule to 1, and monitor.every_steps for the first/last-layer gradient norms (Fig. 4).
"""

from __future__ import annotations

from harness.config import RunConfig
from harness.methods.base import VIEW_PAIRS, StepOutput
from harness.methods.losses import info_nce
from harness.methods.momentum import MomentumTarget


class MoCoV3(MomentumTarget):
    target_names = ("momentum_encoder", "momentum_projector")

    def __init__(self, config: RunConfig, in_channels: int):
        super().__init__()
        self.build_online(config, in_channels)
        self.build_target(config, in_channels)

    def forward(self, views):
        m = self.config.method
        z, pre_bn = zip(*(self.project(v) for v in views))
        q = [self.predictor(zi) for zi in z]  # the predictor is on the query branch only
        k = self.target(views)
        loss = sum(info_nce(q[i], k[j], m.temperature) for i, j in VIEW_PAIRS[m.loss])
        return StepOutput(loss=loss, embedding=z[0], embedding_pre_bn=pre_bn[0])

    def after_step(self, step, total_steps):
        # MoCo v3 updates the keys' encoder just before iteration k with m(k / K); after step k the
        # next iteration is k + 1.
        m = self.config.method
        self.update_target(m.momentum, step + 1, total_steps, m.momentum_schedule)
