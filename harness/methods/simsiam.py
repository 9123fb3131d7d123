"""SimSiam (Chen & He, 2021): two views, one encoder + projector, a predictor on one side and a
stop-gradient on the other. Every ablation of the paper is a switch in the config:
stop-gradient (Fig. 2), predictor kind and lr (Table 1), BN placement (Table 3), similarity
(Sec. 4.5) and symmetrization (Sec. 4.6)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.config import RunConfig
from harness.methods.base import VIEW_PAIRS, Method, StepOutput

# SimSiam's loss averages over the pairs; asymmetric_2x samples two pairs per image (Sec. 4.6): the
# same compute as symmetric.
PAIRS = {**VIEW_PAIRS, "asymmetric_2x": [(0, 1), (2, 3)]}


def similarity_loss(p: torch.Tensor, z: torch.Tensor, kind: str) -> torch.Tensor:
    if kind == "cosine":
        return -F.cosine_similarity(p, z, dim=1).mean()
    # SimSiam Sec. 4.5: D(p, z) = -softmax(z) . log softmax(p)
    return -(F.softmax(z, dim=1) * F.log_softmax(p, dim=1)).sum(dim=1).mean()


class SimSiam(Method):
    @staticmethod
    def n_views(config: RunConfig) -> int:
        return 1 + max(j for pair in PAIRS[config.method.loss] for j in pair)

    def __init__(self, config: RunConfig, in_channels: int):
        super().__init__()
        self.build_online(config, in_channels)

    def forward(self, views):
        z, pre_bn = zip(*(self.project(v) for v in views))
        pairs = PAIRS[self.config.method.loss]
        # Stop-gradient is the target branch's detach(), nothing else (SimSiam Fig. 2).
        target = [zi.detach() if self.config.method.stop_gradient else zi for zi in z]
        sim = self.config.method.similarity
        loss = sum(similarity_loss(self.predictor(z[i]), target[j], sim) for i, j in pairs) / len(pairs)
        return StepOutput(loss=loss, embedding=z[0], embedding_pre_bn=pre_bn[0])
