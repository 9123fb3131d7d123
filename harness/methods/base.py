"""What every method gives the one training loop, and the networks they share.

A method is an nn.Module that builds its networks from the RunConfig and turns a list of augmented
views into a loss. The loop never branches on the method: everything method-specific (stop-gradient,
predictor variants, symmetrization, target networks) lives behind this interface.

Every method has an online branch built the same way: encoder (backbone) -> projector -> predictor
(`predictor.kind`: trained mlp, none, fixed at its random init, or BYOL's closed_form, solved on each
batch by the method itself: harness/nets/closed_form.py). The momentum (EMA) copy of the
encoder and projector that BYOL and MoCo v3 add is methods/momentum.py's MomentumMethod.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from harness.config import RunConfig
from harness.nets import build_encoder, mlp_prefix, predictor, projector


# Which (predictor view, target view) pairs a loss sums or averages over: both view orders, or one.
VIEW_PAIRS = {"symmetric": [(0, 1), (1, 0)], "asymmetric": [(0, 1)]}


@dataclass
class StepOutput:
    loss: torch.Tensor
    embedding: torch.Tensor  # projector output z of the first view: what the collapse monitors watch
    # z before the projector's output BN (z itself without one): a non-affine output BN gives every
    # channel unit variance over the batch, so behind it z/||z|| keeps a std near 1/sqrt(d) even
    # when the network has collapsed; the std of this one does not.
    embedding_pre_bn: torch.Tensor


class Method(nn.Module):
    config: RunConfig
    encoder: nn.Module  # the backbone; the kNN monitor and probes read its features
    projector: nn.Sequential
    predictor: nn.Module  # nn.Identity when predictor.kind is none or closed_form (no parameters)
    embed_dim: int  # dimension of `StepOutput.embedding`, for the 1/sqrt(d) reference

    @staticmethod
    def n_views(config: RunConfig) -> int:
        return 2

    def build_online(self, config: RunConfig, in_channels: int) -> None:
        """encoder, projector and predictor as the config declares them."""
        self.config = config
        self.encoder, self.projector = encoder_and_projector(config, in_channels)
        p, q = config.projector, config.predictor
        self.embed_dim = p.out_dim
        if q.kind in ("none", "closed_form"):
            self.predictor = nn.Identity()
        else:
            self.predictor = predictor(p.out_dim, q, config.heads)
            if q.kind == "fixed":  # SimSiam Table 1: frozen at its random init
                self.predictor.requires_grad_(False)

    def project(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = projector(encoder(images)), and z before the projector's output BN (see StepOutput)."""
        h = self.encoder(images)
        if not isinstance(self.projector[-1], nn.BatchNorm1d):
            z = self.projector(h)
            return z, z
        pre = self.projector[:-1](h)
        return self.projector[-1](pre), pre

    def forward(self, views: list[torch.Tensor]) -> StepOutput:
        raise NotImplementedError

    def param_groups(self) -> list[dict]:
        """Optimizer groups: {"name", "params", "fixed_lr": bool, "lr_mult": float}.
        A fixed_lr group keeps the peak lr instead of following the schedule (SimSiam's constant
        predictor lr); lr_mult scales a group's lr: each head's own multiplier (BYOL Table 21's
        lambda on the predictor, Table 22's mu on the projector), the encoder's 1."""
        c = self.config
        groups = [
            {"name": "encoder", "params": list(self.encoder.parameters()), "fixed_lr": False, "lr_mult": 1.0},
            {"name": "projector", "params": list(self.projector.parameters()), "fixed_lr": False,
             "lr_mult": c.projector.lr_mult},
        ]
        if c.predictor.kind == "mlp":
            groups.append({"name": "predictor", "params": list(self.predictor.parameters()),
                           "fixed_lr": c.predictor.lr == "constant", "lr_mult": c.predictor.lr_mult})
        return groups

    def attach_data(self, train_size: int) -> None:
        """Called once by the loop's set-up with the number of training images, before the method
        moves to its device and before a checkpoint loads: a method with a state per image (SimSiam
        Sec. 5.2's eta cache) allocates it here; a batch's images are its views' `indices`."""

    def after_step(self, step: int, total_steps: int) -> None:
        """Called after each optimizer step (e.g. to update a momentum target)."""

    def features(self, images: torch.Tensor, layer: int = 0) -> torch.Tensor:
        """Backbone features (layer 0) or the output of the projector's `layer`-th layer: what the
        linear probe reads (SimCLR v2 probes from the first projector layer)."""
        return mlp_prefix(self.projector, layer)(self.encoder(images))


def encoder_and_projector(config: RunConfig, in_channels: int) -> tuple[nn.Module, nn.Sequential]:
    """A freshly initialized encoder and projector, as the config declares them."""
    encoder, feat_dim = build_encoder(config.backbone, in_channels, config.data.image_size)
    return encoder, projector(feat_dim, config.projector, config.heads)
