"""Each method's config section, the `method:` part of a RunConfig, and the switches methods share.

A section holds the method's own switches, so that a switch of another method (a BYOL tau on SimSiam)
is an unknown key, not a silently ignored one. Every section, built in or a plug-in's, is a
MethodSection and may take the shared switches (StopGradient, SymmetricLoss, EMATarget). A section is
registered with its method (harness/methods/registry.py). Torch-free: planning reads these.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from harness.section import KeysError, Section


class MethodSection(Section):
    """The base of every method's section. `name` is the method's name as a study writes it: a
    built-in's (a Literal in its section), or a plug-in's `module.path:Name` or entry point."""

    name: str

    def ranks_problem(self, ranks: int) -> str | None:
        """Why this method cannot train a run as `ranks` processes at once (DDP), or None. The preflight
        asks it of the launch options (harness/preflight.py), the method where it trains."""
        return None


class StopGradient(Section):
    stop_gradient: bool = True  # the target branch detached (SimSiam Fig. 2)


class SymmetricLoss(Section):
    loss: Literal["symmetric", "asymmetric"] = "symmetric"  # both view orders (methods.base.VIEW_PAIRS), or one


class EMATarget(Section):
    # An EMA target network (methods/momentum.py's MomentumTarget): its rate, constant or on a cosine to 1.
    momentum: float = Field(0.99, ge=0, le=1)
    momentum_schedule: Literal["cosine", "constant"] = "cosine"


class SimSiamMethod(StopGradient, MethodSection):
    """SimSiam (Chen & He, 2021). stop_gradient (SimSiam Fig. 2): off, the network collapses."""

    name: Literal["simsiam"] = "simsiam"
    # SimSiam Sec. 4.6: symmetric sums both (p1, z2) and (p2, z1); asymmetric_2x samples two pairs.
    loss: Literal["symmetric", "asymmetric", "asymmetric_2x"] = "symmetric"
    # SimSiam Sec. 4.5: D(p, z) as negative cosine, or -softmax(z) . log softmax(p).
    similarity: Literal["cosine", "cross_entropy"] = "cosine"
    # SimSiam Sec. 5.2, "Multi-step alternation": the target eta is computed by the network as it was
    # at the start of each alternation (a snapshot of the encoder and projector, no gradient) and held
    # for the next k SGD steps. 1 is SimSiam (the current network's detached output); "epoch" is the
    # steps of one epoch (the paper's "1-epoch" row).
    eta_every: Annotated[int, Field(ge=1)] | Literal["epoch"] = 1
    # SimSiam Sec. 5.2, "Expectation over augmentations": eta_x kept per training image as a moving
    # average, eta_x <- m * eta_x + (1 - m) * F(T'(x)) (no gradient), and the loss is D(p, eta_x).
    # None: off (SimSiam). The paper runs it without the predictor at m = 0.8; m = 0 is "without the
    # moving average" (SimSiam without a predictor, Table 1a). The cache is (training images, d)
    # float32: at ImageNet with d = 2048, 1.28M x 2048 x 4 B = 10.5 GB on the device. One process only.
    eta_momentum: float | None = Field(None, ge=0, lt=1)

    @model_validator(mode="after")
    def _one_target(self):
        if self.eta_every != 1 and self.eta_momentum is not None:
            raise KeysError("method.eta_every and method.eta_momentum are two ways to form the target "
                            "eta (Sec. 5.2): set one of them", "eta_every", "eta_momentum")
        if (self.eta_every != 1 or self.eta_momentum is not None) and not self.stop_gradient:
            raise KeysError("method.eta_every > 1 and method.eta_momentum compute eta without gradient: "
                            "they need method.stop_gradient: true", "eta_every", "eta_momentum", "stop_gradient")
        return self

    def ranks_problem(self, ranks: int) -> str | None:
        if self.eta_momentum is not None and ranks > 1:
            # Each rank would see only its share of the images, and rank 0 alone checkpoints.
            return (f"method.eta_momentum keeps eta per training image in one process: it does not run "
                    f"with {ranks} ranks")
        return None


class BYOLMethod(StopGradient, SymmetricLoss, MethodSection):
    """BYOL (Grill et al., 2020): an online network regresses an EMA target network's projection.
    loss: the paper sums it over both view orders; asymmetric keeps (view 1 -> view 2) only.
    stop_gradient, Table 5b / App. F.4 (Table 19): without a target network the prediction target is
    the online network itself, "flowing the gradient through it" (Table 5b's rows: SimCLR's psi =
    z_theta), or its stop-gradient (Table 19's sg(theta) rows). False makes the target the online
    projection, differentiated: only meaningful when the target is the online network (tau 0, constant)."""

    name: Literal["byol"] = "byol"
    # EMA rate of the target, per step k of K: tau = 1 - (1 - tau_base)(cos(pi k / K) + 1) / 2
    # (cosine) or tau_base throughout (constant). Table 5a: 1 keeps the random init target fixed;
    # 0 makes the target the stop-gradient of the online network.
    tau_base: float = Field(0.996, ge=0, le=1)
    tau_schedule: Literal["cosine", "constant"] = "cosine"
    # Table 5b: beta mixes in a contrastive term (negatives from the batch, temperature); 0 is BYOL.
    beta: float = Field(0.0, ge=0)
    temperature: float = Field(0.1, gt=0, description="temperature of the beta term")
    # The target network at step 0: a copy of the online one, or initialized on its own (the official
    # code: "we did not notice a significant difference"; with tau = 1 the target stays that init).
    target_init: Literal["copy", "independent"] = "copy"

    @model_validator(mode="after")
    def _gradient_only_through_the_online_network(self):
        if not self.stop_gradient and (self.tau_base != 0 or self.tau_schedule != "constant"):
            raise KeysError(f"method.stop_gradient false needs method.tau_base 0 and method.tau_schedule constant "
                            f"(the target must be the online network itself; got tau_base {self.tau_base}, "
                            f"tau_schedule {self.tau_schedule})", "stop_gradient", "tau_base", "tau_schedule")
        return self


class SimCLRMethod(MethodSection):
    """SimCLR (v2: Chen et al., 2020): NT-Xent over the 2N views of a batch; no predictor."""

    name: Literal["simclr"] = "simclr"
    temperature: float = Field(0.1, gt=0)


class MoCoV3Method(SymmetricLoss, EMATarget, MethodSection):
    """MoCo v3 (Chen, Xie & He, 2021): InfoNCE between the query branch and a momentum encoder, whose
    momentum follows the same cosine schedule to 1 as BYOL's tau (--moco-m-cos)."""

    name: Literal["mocov3"] = "mocov3"
    temperature: float = Field(0.2, gt=0, description="0.2 for ViT, 1.0 for ResNet in the paper")
