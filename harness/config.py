"""RunConfig: everything one training run needs, as one typed, frozen structure.

Ablation switches live here as data (``method.stop_gradient``, ``predictor.kind``, ``heads.bn``...),
so that a study is a set of overrides on this structure and the code reads a switch in one place.
Defaults are the SimSiam paper's ImageNet setup; presets (harness/presets.py) scale it down.

The run id is a content hash of the resolved config without ``runtime`` (device, workers, threads,
data location, checkpoint cadence, channels_last, compile): those change where and how fast a run
goes, not its result. The exception is ``runtime.precision``: bf16 changes the numbers.
"""

from __future__ import annotations

import hashlib
import json
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Section(BaseModel):
    # Unknown keys are errors (a typo must never fall back to a default), types are not coerced
    # ("yes" is not a bool, "0.1" is not a number), and configs are immutable.
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class Method(Section):
    name: Literal["simsiam"] = "simsiam"
    # SimSiam Fig. 2: the target branch is detached; off, the network collapses.
    stop_gradient: bool = True
    # SimSiam Sec. 4.6: symmetric sums both (p1, z2) and (p2, z1); asymmetric_2x samples two pairs.
    loss: Literal["symmetric", "asymmetric", "asymmetric_2x"] = "symmetric"
    # SimSiam Sec. 4.5: D(p, z) as negative cosine, or -softmax(z) . log softmax(p).
    similarity: Literal["cosine", "cross_entropy"] = "cosine"


class Backbone(Section):
    name: Literal["small_cnn", "resnet18_cifar", "resnet18", "resnet50"] = "resnet50"
    width: int = Field(32, gt=0, description="channels of the first small_cnn layer")


class Projector(Section):
    layers: int = Field(3, ge=1)
    hidden_dim: int = Field(2048, gt=0)
    out_dim: int = Field(2048, gt=0)


class Predictor(Section):
    # SimSiam Table 1: mlp (trained), none (removed), fixed (frozen at its random init).
    kind: Literal["mlp", "none", "fixed"] = "mlp"
    hidden_dim: int = Field(512, gt=0)
    # "constant": the predictor's lr does not decay (SimSiam's default after Table 1).
    lr: Literal["cosine", "constant"] = "cosine"
    lr_mult: float = Field(1.0, ge=0, description="predictor lr multiplier (BYOL Table 21)")


class Heads(Section):
    # SimSiam Table 3, BN placement in projector and predictor:
    #   none: no BN; hidden: hidden layers of both heads; hidden_and_projector_output: also the
    #   projector's output (the paper's default); all: also the predictor's output.
    bn: Literal["none", "hidden", "hidden_and_projector_output", "all"] = "hidden_and_projector_output"
    output_bn_affine: bool = False  # the official code's projector output BN has affine=False


class Data(Section):
    dataset: Literal["digits", "cifar10", "cifar100", "imagefolder"] = "imagefolder"
    image_size: int = Field(224, gt=0)
    # The augmentation recipe: "simsiam" is the paper's ImageNet recipe, "cifar" the same without
    # blur (SimSiam App. D), "digits" a gentle one for the built-in 8x8 digits (no flips, no color).
    augment: Literal["simsiam", "cifar", "digits"] = "simsiam"
    crop_min_scale: float = Field(0.2, gt=0, le=1)


class Optim(Section):
    name: Literal["sgd"] = "sgd"
    base_lr: float = Field(0.05, gt=0, description="lr = base_lr * batch_size / 256")
    batch_size: int = Field(512, gt=0)
    epochs: int = Field(100, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1)
    warmup_epochs: int = Field(0, ge=0)

    @model_validator(mode="after")
    def _warmup_within_training(self):
        if self.warmup_epochs > self.epochs:
            raise ValueError(f"warmup_epochs ({self.warmup_epochs}) exceeds epochs ({self.epochs})")
        return self


class KnnProtocol(Section):
    name: str
    k: int = Field(gt=0)
    temperature: float = Field(gt=0)


DEFAULT_KNN = (
    KnnProtocol(name="k200", k=200, temperature=0.1),  # moco_cifar_colab / lightly benchmarks
    KnnProtocol(name="k20", k=20, temperature=0.07),  # DINO eval_knn.py
)


class Monitor(Section):
    every_epochs: int = Field(1, gt=0, description="kNN evaluation cadence in epochs")
    knn: tuple[KnnProtocol, ...] = Field(DEFAULT_KNN, strict=False)  # YAML gives a list
    knn_at_init: bool = True  # epoch 0: the random-init encoder's kNN, the floor to beat


class Runtime(Section):
    """Where and how fast a run goes. Excluded from the run id."""

    device: str = "cpu"
    num_workers: int = Field(0, ge=0)
    threads: int = Field(0, ge=0, description="torch intra-op threads; 0 leaves torch's default")
    checkpoint_every: int = Field(1, gt=0, description="epochs between checkpoints")
    data_root: str | None = None
    download: bool = False
    # Speed switches (harness/accel.py). channels_last and compile change which kernels run, not
    # what is computed: like `device`, they stay out of the run id. bf16 autocast changes the
    # numbers, so precision enters the run id (see run_id).
    precision: Literal["fp32", "bf16"] = "fp32"
    channels_last: bool = False
    compile: bool = False


class RunConfig(Section):
    method: Method = Method()
    backbone: Backbone = Backbone()
    projector: Projector = Projector()
    predictor: Predictor = Predictor()
    heads: Heads = Heads()
    data: Data = Data()
    optim: Optim = Optim()
    monitor: Monitor = Monitor()
    runtime: Runtime = Runtime()
    seed: int = Field(0, ge=0)

    def run_id(self) -> str:
        return run_id(self)


HASH_EXCLUDED = ("runtime",)


def run_id(config: RunConfig) -> str:
    """A short content hash of the result-relevant part of the config."""
    payload = config.model_dump(mode="json", exclude=set(HASH_EXCLUDED))
    # The one runtime key that changes results: a bf16 run is another experiment than its fp32 twin.
    # Added only when not fp32, so fp32 runs keep the ids they had before the switch existed.
    if config.runtime.precision != "fp32":
        payload["precision"] = config.runtime.precision
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]
