"""SimSiam with a VICReg-style variance term: a hinge that keeps the std of each embedding dimension
over the batch at least `variance_gamma` (the section in __init__.py)."""

import torch
import torch.nn.functional as F

from harness.methods.base import VIEW_PAIRS, Method, StepOutput


def variance_term(z: torch.Tensor, gamma: float) -> torch.Tensor:
    """VICReg's v(Z): mean over dimensions of max(0, gamma - sqrt(var + eps))."""
    return F.relu(gamma - torch.sqrt(z.var(dim=0) + 1e-4)).mean()


class VarianceSimSiam(Method):
    def __init__(self, config, in_channels):
        super().__init__()
        self.build_online(config, in_channels)

    def forward(self, views):
        m = self.config.method
        z, pre_bn = zip(*(self.project(v) for v in views))
        target = [zi.detach() if m.stop_gradient else zi for zi in z]
        pairs = VIEW_PAIRS[m.loss]
        loss = sum(-F.cosine_similarity(self.predictor(z[i]), target[j]).mean() for i, j in pairs) / len(pairs)
        if m.variance:
            loss = loss + m.variance_weight * sum(variance_term(zi, m.variance_gamma) for zi in z) / len(z)
        return StepOutput(loss=loss, embedding=z[0], embedding_pre_bn=pre_bn[0])
