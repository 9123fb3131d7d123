"""An outside package with a method of its own: SimSiam with a VICReg-style variance term (Bardes et
al., 2022) as a switch. Its registration is here, torch-free, as every method's is (a built-in's in
harness/methods/registry.py): its config section and where its implementation lives (method.py).
A study names it `method.name: variance_simsiam:METHOD`; the other switches (stop-gradient, symmetric
loss, the predictor's kind and lr, BN in the heads) come with the harness."""

from typing import Literal

from pydantic import Field

from harness.methods.registry import Registration
from harness.methods.sections import MethodSection, StopGradient, SymmetricLoss


class VarianceSimSiamSection(StopGradient, SymmetricLoss, MethodSection):
    variance: bool = False  # the ablation's switch
    variance_weight: float = Field(1.0, ge=0)
    variance_gamma: float = Field(1.0, gt=0)
    similarity: Literal["cosine"] = "cosine"


# No recipe: the study states its setup (harness/recipes.py's Recipe would put one under it).
METHOD = Registration(VarianceSimSiamSection, "variance_simsiam.method:VarianceSimSiam")
