"""BYOL (Grill et al., 2020): the online network (encoder, projector, predictor) regresses the
projection of the other view by a target network, an EMA of the online encoder and projector.

Switches: the EMA rate tau, constant or on the cosine schedule (Table 5a: 1 keeps the random target,
0 makes it the stop-gradient of the online network); the target's init, a copy of the online network
or its own (the official code); the predictor and its lr multiplier (Table 21); the contrastive
mixing beta (Table 5b), its negatives from the global batch; symmetric (the paper's sum over both
view orders) or not; without a target network (tau 0), whether the gradient flows through the
target branch (Table 5b: it does; App. F.4's sg(theta) rows: it does not); the predictor solved in
closed form on each batch (Sec. 3.2's optimal predictor, predictor.kind closed_form). Each view goes
through the networks on its own, as in the official code.
"""

from __future__ import annotations

from harness.config import RunConfig
from harness.methods.base import VIEW_PAIRS, StepOutput
from harness.methods.losses import byol_contrastive_term, regression_loss
from harness.methods.momentum import MomentumTarget
from harness.nets.closed_form import optimal_predictions


class BYOL(MomentumTarget):
    target_names = ("target_encoder", "target_projector")

    def __init__(self, config: RunConfig, in_channels: int):
        super().__init__()
        self.build_online(config, in_channels)
        # independent: byol_experiment.py's online and target networks from two rngs
        self.build_target(config, in_channels, independent=config.method.target_init == "independent")

    def forward(self, views):
        m = self.config.method
        z, pre_bn = zip(*(self.project(v) for v in views))
        # Table 5b's rows without a target network: the online projections themselves, the gradient
        # flowing through them (SimCLR's psi = z_theta); otherwise the target network's, detached.
        t = self.target(views) if m.stop_gradient else z
        pairs = VIEW_PAIRS[m.loss]
        if self.config.predictor.kind == "closed_form":  # one linear map, fitted on this batch's pairs
            predictions = optimal_predictions([z[i] for i, _ in pairs], [t[j] for _, j in pairs],
                                              self.config.predictor.ridge)
        else:  # lazily, each in its turn of the loop (the order the gradients accumulate in)
            predictions = (self.predictor(z[i]) for i, _ in pairs)
        loss = 0
        for (i, j), p in zip(pairs, predictions):  # a sum over view orders, as in the paper
            loss = loss + regression_loss(p, t[j])
            if m.beta:
                loss = loss + m.beta * byol_contrastive_term(p, t[i], t[j], m.temperature)
        return StepOutput(loss=loss, embedding=z[0], embedding_pre_bn=pre_bn[0])

    def after_step(self, step, total_steps):
        m = self.config.method
        self.update_target(m.tau_base, step, total_steps, m.tau_schedule)
