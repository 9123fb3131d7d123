"""RunConfig: everything one training run needs, as one typed, frozen structure.

Ablation switches live here as data (``method.stop_gradient``, ``predictor.kind``, ``heads.bn``...),
each method's in its registered section (harness/methods/sections.py, registry.py),
so that a study is a set of overrides on this structure and the code reads a switch in one place.
Defaults are the SimSiam paper's ImageNet setup; presets (harness/presets.py) scale it down.

The run id (harness/run_id.py) hashes what differs from these defaults, without ``runtime`` (device,
workers, threads, data location, checkpoint cadence, channels_last, compile): those change where and
how fast a run goes, not its result. The exception is ``runtime.precision``: bf16 changes the numbers.
Nor does ``probe`` enter it: the run id names the pretraining, and each evaluation of it is a stage
with an id of its own (run_id.stage_id).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal, Union

from pydantic import AfterValidator, Discriminator, Field, PlainValidator, SerializeAsAny, Tag, model_validator
from pydantic_core import PydanticCustomError

from harness.loggers import LOGGERS
from harness.methods import registry
# Also here for the plug-ins written before harness/methods/sections.py, which import them from config.
from harness.methods.sections import EMATarget, MethodSection, StopGradient, SymmetricLoss  # noqa: F401
from harness.section import KeysError, Section
from harness.run_id import InRunId, run_id


# -- the method: a union discriminated by `method.name`, each member the section of a registered
# method (harness/methods/registry.py): a built-in's by its name, a plug-in's through its registration.

PLUGIN_TAG = "plugin"

def _plugin_section(value):
    """A plug-in method's section, validated by the section its registration declares."""
    if isinstance(value, MethodSection):
        return value
    try:
        section = registry.lookup(value["name"]).section
    except ValueError as err:
        raise PydanticCustomError("unknown_method", str(err)) from None
    return section.model_validate(value)


def _method_tag(value) -> str | None:
    name = value.get("name", registry.DEFAULT_METHOD) if isinstance(value, dict) else value.name
    return name if name in registry.BUILT_IN else PLUGIN_TAG if isinstance(name, str) else None


MethodConfig = Annotated[
    Union[tuple(Annotated[r.section, Tag(name)] for name, r in registry.BUILT_IN.items())
          + (Annotated[SerializeAsAny[MethodSection], PlainValidator(_plugin_section), Tag(PLUGIN_TAG)],)],
    Discriminator(_method_tag, custom_error_type="unknown_method",
                  custom_error_message=registry.UNKNOWN),
]


class ViT(Section):
    """MoCo v3's ViT (its vits.py, on timm's VisionTransformer): fixed 2-D sin-cos position embedding,
    its init; the defaults are ViT-S/16 (MoCo v3's vit_small: 12 heads)."""

    patch_size: int = Field(16, gt=0)
    dim: int = Field(384, gt=0)
    depth: int = Field(12, gt=0)
    heads: int = Field(12, gt=0)
    mlp_ratio: int = Field(4, gt=0)
    # MoCo v3 Sec. 4.1 / Fig. 5: the patch projection frozen at its random init stabilizes training.
    frozen_patch_projection: bool = False
    # MoCo v3 Sec. 6.2, "Position embedding": the fixed 2-D sin-cos one (vits.py, the default), a
    # learned one (timm's: trained, trunc-normal std 0.02 at init), or none at all.
    pos_embed: Literal["sincos", "learned", "none"] = "sincos"
    # MoCo v3 Sec. 6.2, "Class token": the class token after the final LayerNorm (vits.py, the
    # default), or no class token and the patch tokens' global average (timm's global_pool="avg":
    # the LayerNorm moves after the pooling, as timm's fc_norm).
    pool: Literal["token", "avg"] = "token"

    @model_validator(mode="after")
    def _heads_divide_dim(self):
        if self.dim % self.heads:
            raise KeysError(f"dim ({self.dim}) is not divisible by heads ({self.heads})", "dim", "heads")
        if self.dim % 4:  # a sin and a cos for each of the two axes
            raise KeysError(f"dim ({self.dim}) is not divisible by 4, as the 2-D sin-cos position embedding needs",
                            "dim")
        return self


def built_in_or(built_in: tuple[str, ...], pattern: re.Pattern, what: str, otherwise: str) -> AfterValidator:
    """A name that is one of `built_in`, or of the form `pattern` (what it names, preflight checks:
    asking imports the user's code or torch, and planning imports neither)."""

    def check(value: str) -> str:
        if value in built_in or pattern.fullmatch(value):
            return value
        raise ValueError(f"unknown {what} (built in: {', '.join(built_in)}; or {otherwise})")

    return AfterValidator(check)


BUILT_IN_BACKBONES = ("small_cnn", "resnet18_cifar", "resnet18", "resnet50", "vit")
# A model of a registry by its name there (harness/nets/registry.py).
REGISTRY_NAME = re.compile(r"(torchvision|timm):[A-Za-z0-9_.]+")
# torchvision's ResNets by depth: SimCLR v2's width and selective kernels rebuild them on timm
# (harness/nets/simclr_resnet.py), by a built-in name or as torchvision:<name>.
RESNET_DEPTHS = {"resnet18": 18, "resnet34": 34, "resnet50": 50, "resnet101": 101, "resnet152": 152}


def resnet_depth(name: str) -> int | None:
    """The depth of the ResNet `name` (resnet50, resnet18_cifar, torchvision:resnet152), or None."""
    if name in BUILT_IN_BACKBONES or name.startswith("torchvision:"):
        return RESNET_DEPTHS.get(name.removeprefix("torchvision:").removesuffix("_cifar"))
    return None


class Backbone(Section):
    name: Annotated[str, built_in_or(BUILT_IN_BACKBONES, REGISTRY_NAME, "backbone",
                                     "a registry's model: torchvision:<name>, timm:<name>")] = "resnet50"
    width: int = Field(32, gt=0, description="channels of the first small_cnn layer")
    # ResNets only: each residual block's last BN starts with a zero scale, so every block starts as
    # the identity (Goyal et al.). The official code of all four methods does so.
    zero_init_residual: bool = True
    vit: ViT = ViT()  # read only when name is vit
    # A registry's ResNet with SimSiam's CIFAR stem (App. D: a 3x3 conv of stride 1, no max-pool), as
    # resnet18_cifar is torchvision's resnet18 with it.
    cifar_stem: bool = False
    # SimCLR v2 Table 1 (1x, 2x, 3x; tf2/resnet.py's integer width_multiplier): every channel times w.
    # A ResNet's (built-in or torchvision:resnet18..152) stem 64w and stages 64..512 x w, so R50-2x
    # gives 4096-d features, not torchvision's wide_resnet50_2 (its bottleneck's inner conv only);
    # small_cnn's `width` times w. Above 1 (or with SK) a ResNet is built on timm (nets/simclr_resnet.py);
    # at 1 without SK, torchvision's as before (the same layers and shapes). Where timm's build differs
    # from google-research/simclr tf2/resnet.py: kaiming-normal fan_out conv init (tf2: VarianceScaling,
    # fan_in, truncated normal); the stem max-pool padded both sides (tf2: SAME, one pixel after); with
    # SK, no 2x2 stride-1 average before the first stage's shortcut conv; SK attention width rounded to
    # a multiple of 32 (tf2: max(c/16, 32); differs at 3x only: 64 for 48 in stage 3); basic blocks
    # (ResNet-18/34): stage 1's shortcut the identity (tf2 projects it) and SK in their first 3x3 conv
    # (tf2 keeps them plain).
    width_multiplier: int = Field(1, ge=1)
    # SimCLR v2 Table 1's SK: each bottleneck's 3x3 conv a selective-kernel conv (tf2's SK_Conv2D,
    # sk_ratio 0.0625: two 3x3 streams mixed by a softmax attention), with a ResNet-D stem (three 3x3
    # convs) and average-pool shortcuts; a basic block's first 3x3 conv (timm's; tf2 keeps it plain);
    # small_cnn's second and third convs (its first, the stem, stays plain).
    selective_kernels: bool = False

    @model_validator(mode="after")
    def _stem_of_a_registry_model(self):
        if self.cifar_stem and not REGISTRY_NAME.fullmatch(self.name):
            raise KeysError(f"backbone.cifar_stem is for a registry's ResNet (e.g. torchvision:resnet34), "
                            f"not {self.name!r} (resnet18_cifar is resnet18 with it)", "cifar_stem", "name")
        return self

    @model_validator(mode="after")
    def _width_and_sk_of_a_resnet_or_the_small_cnn(self):
        for key, default in (("width_multiplier", 1), ("selective_kernels", False)):
            if getattr(self, key) != default and self.name != "small_cnn" and resnet_depth(self.name) is None:
                raise KeysError(f"backbone.{key} is for small_cnn and the ResNets (resnet18, resnet18_cifar, "
                                f"resnet50, torchvision:resnet18..152), not {self.name!r}", key, "name")
        return self


class Projector(Section):
    layers: int = Field(3, ge=1)
    hidden_dim: int = Field(2048, gt=0)
    out_dim: int = Field(2048, gt=0)
    # BYOL Table 22 (App. I.1): the projector's lr multiplier mu, against the predictor's lambda.
    lr_mult: float = Field(1.0, ge=0, description="projector lr multiplier (BYOL Table 22)")


class Predictor(Section):
    # SimSiam Table 1: mlp (trained), none (removed), fixed (frozen at its random init). BYOL's
    # closed_form (Sec. 3.2's optimal predictor; harness/nets/closed_form.py): the linear least-squares
    # map from online to target projections, solved on each batch; no layers, no parameters. BYOL's
    # only: its target network's projections are what it regresses on.
    kind: Literal["mlp", "none", "fixed", "closed_form"] = "mlp"
    layers: int = Field(2, ge=1, description="BYOL Table 14a varies it; the output keeps the input dim")
    hidden_dim: int = Field(512, gt=0)
    # "constant": the predictor's lr does not decay (SimSiam's default after Table 1).
    lr: Literal["cosine", "constant"] = "cosine"
    lr_mult: float = Field(1.0, ge=0, description="predictor lr multiplier (BYOL Table 21)")
    # closed_form's ridge term, relative to the mean eigenvalue of the inputs' second moment (so that
    # it does not depend on the projections' scale). The paper's value is not recorded here.
    ridge: float = Field(1e-3, gt=0, description="closed_form: ridge term, relative (see the comment)")


class Heads(Section):
    # SimSiam Table 3, BN placement in projector and predictor:
    #   none: no BN; hidden: hidden layers of both heads; hidden_and_projector_output: also the
    #   projector's output (the paper's default); all: also the predictor's output.
    bn: Literal["none", "hidden", "hidden_and_projector_output", "all"] = "hidden_and_projector_output"
    # Whether the output BNs (the projector's; with bn "all", the predictor's too) learn a scale and
    # shift: the official SimSiam and MoCo v3 code have affine=False there.
    output_bn_affine: bool = False
    # With output_bn_affine, whether the output BN learns a shift besides its scale (Keras's center):
    # SimCLR v2's final BN has a scale only (center=False, scale=True).
    output_bn_center: bool = True
    # A bias on the heads' output Linear when no BN follows it: SimSiam's predictor has one; BYOL's
    # and MoCo v3's heads have none.
    output_bias: bool = True

    @property
    def output_bn_fixes_std(self) -> bool:
        """The projector's output BN has no learnable scale: each channel of z has unit batch
        variance, so the std of z/||z|| reads about 1/sqrt(d) whatever the network computes, and a
        collapse shows only behind that BN (the collapse claims read there: report/claims.py)."""
        return self.bn in ("hidden_and_projector_output", "all") and not self.output_bn_affine


Probability = Annotated[float, Field(ge=0, le=1)]
PerView = Annotated[tuple[Probability, Probability], Field(strict=False)]  # YAML gives a list


class Augment(Section):
    """How a training view is made (harness/data/augment.py), transform by transform, in this order:
    random resized crop (+ flip), colour jitter, grayscale, Gaussian blur, solarize. The defaults are
    SimSiam's (MoCo v2's) ImageNet augmentation; each method's recipe (harness/recipes.py) sets its
    paper's. A pair is per view: (view 1, view 2), e.g. BYOL's and MoCo v3's asymmetric blur 1.0 / 0.1
    and solarize 0 / 0.2; a method with more views (SimSiam's asymmetric_2x) repeats the pair."""

    crop_min_scale: float = Field(0.2, gt=0, le=1, description="RandomResizedCrop scale=(crop_min_scale, 1)")
    flip: bool = True
    jitter_p: Probability = 0.8
    brightness: float = Field(0.4, ge=0)
    contrast: float = Field(0.4, ge=0)
    saturation: float = Field(0.4, ge=0)
    hue: float = Field(0.1, ge=0, le=0.5)
    gray_p: Probability = 0.2
    blur_p: PerView = (0.5, 0.5)
    solarize_p: PerView = (0.0, 0.0)


BUILT_IN_DATASETS = ("digits", "cifar10", "cifar100", "imagefolder")
# The user's own dataset (harness/data/plugin.py): a function named module.path:function.
PLUGIN_NAME = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_][\w.]*")


class Data(Section):
    dataset: Annotated[str, built_in_or(BUILT_IN_DATASETS, PLUGIN_NAME, "dataset", "your own: module.path:function, "
                                        "returning a torch Dataset of (image, label)")] = "imagefolder"
    image_size: int = Field(224, gt=0)
    augment: Augment = Augment()


class Optim(Section):
    # sgd (SimSiam); lars (BYOL, SimCLR; harness/lars.py: biases and norm parameters are excluded from
    # weight decay and from the trust ratio); adamw (MoCo v3 with a ViT).
    name: Literal["sgd", "lars", "adamw"] = "sgd"
    base_lr: float = Field(0.05, gt=0, description="peak lr = base_lr * batch_size / 256 (linear)")
    # linear: base_lr * batch / 256 (Goyal et al.); sqrt: base_lr * sqrt(batch), SimCLR's rule
    # (google-research/simclr tf2/model.py: 0.075 * sqrt(4096) = 4.8 = 0.3 * 4096 / 256).
    lr_scaling: Literal["linear", "sqrt"] = "linear"
    # How a scale adjusts the paper's lr: `tiny` trains a few hundred steps where the papers train
    # ~100k, and multiplies the paper's lr (harness/recipes.py); a study's grid then keeps the paper's
    # base lrs at every preset. 1 at the papers' scale.
    lr_multiplier: float = Field(1.0, gt=0)
    batch_size: int = Field(512, gt=0, description="the batch of one optimizer step")
    # Gradient accumulation: the images one forward pass sees (BatchNorm's statistics, a contrastive
    # loss's negatives), None = the whole batch. The gradients of batch_size / micro_batch_size
    # micro-batches are summed before one optimizer step, with the lr of batch_size: BYOL Table 16
    # (App. F.2) varies the micro-batch at an update batch of 4096.
    micro_batch_size: int | None = Field(None, gt=0)
    epochs: int = Field(100, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    momentum: float = Field(0.9, ge=0, lt=1, description="sgd and lars")
    trust_coefficient: float = Field(0.001, gt=0, description="lars: eta in eta * ||w|| / ||g||")
    # lars: the lr inside the momentum buffer (v = m v + lr u; w -= v), as SimCLR's LARS; false: outside
    # it (v = m v + u; w -= lr v), as MoCo v3's and BYOL's (harness/lars.py). sgd and adamw ignore it.
    classic_momentum: bool = False
    warmup_epochs: int = Field(0, ge=0)
    # With several devices (harness/distributed.py): BatchNorm statistics over the global batch
    # (SyncBN, as the papers train) or over each device's share. Part of the run id: it changes
    # results. With one device both are the same.
    sync_bn: bool = True

    @model_validator(mode="after")
    def _consistent(self):
        if self.warmup_epochs > self.epochs:
            raise KeysError(f"warmup_epochs ({self.warmup_epochs}) exceeds epochs ({self.epochs})",
                            "warmup_epochs", "epochs")
        micro = self.micro_batch_size
        if micro is not None and (micro > self.batch_size or self.batch_size % micro):
            raise KeysError(f"micro_batch_size ({micro}) does not divide batch_size ({self.batch_size})",
                            "micro_batch_size", "batch_size")
        return self

    @property
    def accumulate_steps(self) -> int:
        """Micro-batches per optimizer step (1: no accumulation)."""
        return self.batch_size // (self.micro_batch_size or self.batch_size)


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
    # Per-step rows in steps.parquet (0 = off): loss, lr and the gradient norm of the encoder's first
    # and last layer every `every_steps` steps (how MoCo v3 Fig. 4 saw its instability), and kNN
    # every `knn_every_steps` steps (MoCo v3 Fig. 1's curves).
    every_steps: int = Field(0, ge=0)
    knn_every_steps: int = Field(0, ge=0)


class ProbeBase(Section):
    """What every evaluation shares (probe.mode picks one, as method.name picks a method): they start
    from the same layer and read the same labeled subset. Each is a stage after the pretraining
    (harness/stages.py), its result in the stage's summary (harness/columns.py names it); `protocol()`
    says in one sentence how it is measured."""

    mode: str  # each mode's section fixes it: the union's tag
    enabled: bool = True
    # 0: the backbone's features; k: the output of the projector's k-th layer (after its BN and ReLU).
    # SimCLR v2 keeps the first projector layer (Sec. 2, Fig. 5).
    layer: int = Field(0, ge=0)
    label_fraction: float = Field(1.0, gt=0, le=1, description="labeled share of the train split (class-balanced)")

    def protocol(self) -> str:
        raise NotImplementedError(f"probe.mode {self.mode!r} names no protocol")


class LinearProbe(ProbeBase):
    """A linear classifier on the frozen features (harness/probe.py): SimCLR v2 Table 1's "linear eval"."""

    mode: Literal["linear"] = "linear"
    epochs: int = Field(100, gt=0)
    lr: float = Field(0.1, gt=0)
    batch_size: int = Field(256, gt=0)
    weight_decay: float = Field(0.0, ge=0)

    def protocol(self) -> str:
        return (f"frozen-feature linear probe (the harness's own): un-augmented, standardized features of "
                f"{_labeled(self)}, SGD lr {self.lr:g} cosine, batch {self.batch_size}, {self.epochs} epochs, zero init; "
                f"top-1 on the test split")


class FinetuneProbe(ProbeBase):
    """SimCLR v2 Sec. 2 and Fig. 5 / Table 1 fine-tune (harness/finetune.py): a copy of the encoder and
    of the projector's first `layer` layers, with a new linear classifier, trained end to end on the
    labeled subset, as the SimCLR tf2 README's 1%-label command runs it: LARS with momentum 0.9, no
    weight decay, no warm-up, a cosine decay from lr = base_lr x sqrt(batch_size) (0.005 x sqrt(1024)
    = 0.16), 60 epochs on 1% of the labels (v2 App. B: 30 on 10%); crop and flip, no colour
    distortion. The classifier starts at zero and is not LARS-adapted (tf2/model.py excludes
    `head_supervised`). It runs the official step count, N x epochs // batch + 1 (get_train_steps)."""

    mode: Literal["finetune"] = "finetune"
    epochs: int = Field(60, gt=0)
    base_lr: float = Field(0.005, gt=0)
    batch_size: int = Field(1024, gt=0)

    def protocol(self) -> str:
        return (f"fine-tuning (SimCLR v2): encoder and projector's first {self.layer} layers trained end to end "
                f"with a zero-init classifier on crops of {_labeled(self)}, LARS (classic momentum) lr {self.base_lr:g} "
                f"x sqrt(batch) cosine, batch {self.batch_size}, {self.epochs} epochs; top-1 on the test split")


class PaperLinear(ProbeBase):
    """Each method's linear evaluation as its official code runs it (harness/evaluations.py): the
    frozen encoder in eval mode (BatchNorm's statistics frozen, as main_lincls.py's model.eval()),
    its features through a fresh linear classifier trained on augmented crops (RandomResizedCrop
    scale (crop_min_scale, 1) + flip) of the train split (or its labeled fraction), top-1 on the
    un-augmented test split. peak lr = base_lr x batch_size / 256, cosine to 0, no warm-up.

    The defaults are SimSiam's main_lincls.py (RunConfig's defaults are SimSiam's ImageNet setup);
    each method's recipe holds its own official values (harness/recipes.py, `linear`), which fill
    every key a study leaves unset when probe.mode is paper_linear (RunConfig._paper_linear)."""

    mode: Literal["paper_linear"] = "paper_linear"
    source: str = "facebookresearch/simsiam main_lincls.py --lars"  # whose values these are
    optimizer: Literal["sgd", "lars"] = "lars"  # lars: SimSiam's apex LARC (trust 0.001, clip False)
    nesterov: bool = False
    momentum: float = Field(0.9, ge=0, lt=1)
    base_lr: float = Field(0.1, gt=0, description="peak lr = base_lr x batch_size / 256")
    batch_size: int = Field(4096, gt=0)
    epochs: int = Field(90, gt=0)
    weight_decay: float = Field(0.0, ge=0)
    # normal: N(0, 0.01), bias 0 (main_lincls.py); zeros (SimCLR's zero_init_logits_layer);
    # truncated_normal: haiku's Linear default, std 1/sqrt(fan_in) truncated at 2 std, bias 0 (BYOL).
    classifier_init: Literal["normal", "zeros", "truncated_normal"] = "normal"
    # The cosine's granularity: per epoch (main_lincls.py adjust_learning_rate) or per step (BYOL, SimCLR).
    decay: Literal["epoch", "step"] = "epoch"
    crop_min_scale: float = Field(0.08, gt=0, le=1, description="RandomResizedCrop scale=(crop_min_scale, 1)")
    flip: bool = True

    def protocol(self) -> str:
        return (f"paper linear evaluation ({self.source}): frozen encoder in eval mode, a linear classifier "
                f"({self.classifier_init} init) trained {self.epochs} epochs on crops (scale {self.crop_min_scale}-1"
                f"{', flipped' if self.flip else ''}) of {_labeled(self)}, {self.optimizer}"
                f"{' (Nesterov)' if self.nesterov else ''} momentum {self.momentum}, lr {self.base_lr} x "
                f"{self.batch_size}/256 cosine per {self.decay}, wd {self.weight_decay}, batch {self.batch_size}; "
                f"top-1 on the un-augmented test split")


class Distill(ProbeBase):
    """SimCLR v2 Sec. 3 (Eq. 2, 3), harness/evaluations.py: a student (a fresh `student` backbone, None =
    the pretraining's: self-distillation, and a linear classifier) trained from scratch on the train
    split's images without their labels against the fine-tuned teacher's softened predictions:
        loss = (1 - label_weight) x CE(softmax(teacher / T), softmax(student / T))
             + label_weight x CE(labels, softmax(student))  on the labeled fraction's images,
    Eq. 3 with the paper's alpha = 1 - label_weight (0: Eq. 2, distillation only; 1: the labels
    alone, Table 2's "label only" student). `teacher` is the fine-tuning whose network teaches; its
    `layer` and `label_fraction` are this section's own (the labeled images both terms read).
    Crop and flip views (v2 App. B: the fine-tuning's), the same view for teacher and student; LARS,
    momentum 0.9, cosine from base_lr x batch / 256, weight decay (the colab's LARS, wd 1e-4, T 1).
    The paper's own distillation epochs and lr are not checked here (papers.yaml marks them)."""

    mode: Literal["distill"] = "distill"
    teacher: FinetuneProbe = FinetuneProbe()
    student: Backbone | None = None
    temperature: float = Field(1.0, gt=0)
    label_weight: float = Field(0.0, ge=0, le=1)
    epochs: int = Field(100, gt=0)
    base_lr: float = Field(0.3, gt=0, description="peak lr = base_lr x batch_size / 256")
    batch_size: int = Field(4096, gt=0)
    weight_decay: float = Field(1e-4, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _teacher_reads_the_same_labels(cls, value):
        if not isinstance(value, dict):
            return value
        teacher = value.get("teacher", {})
        given = teacher.model_fields_set if isinstance(teacher, FinetuneProbe) else set(teacher)
        teacher = teacher.model_dump() if isinstance(teacher, FinetuneProbe) else dict(teacher)
        for key in ("layer", "label_fraction"):
            own = value.get(key, ProbeBase.model_fields[key].default)
            if key in given and teacher[key] != own:
                raise KeysError(f"teacher.{key} ({teacher[key]}) is the distillation's own {key} ({own}): "
                                f"set {key} alone", f"teacher.{key}", key)
            teacher[key] = own
        return {**value, "teacher": teacher}

    def protocol(self) -> str:
        student = ("the pretraining's backbone" if self.student is None else self.student.name
                   + (f" (width {self.student.width})" if self.student.name == "small_cnn" else ""))
        labels = (f"{1 - self.label_weight:g} x distillation + {self.label_weight:g} x the labeled loss"
                  if self.label_weight else "distillation alone, no labels")
        return (f"distillation (SimCLR v2 Eq. 2-3): a student ({student}) trained from scratch {self.epochs} epochs "
                f"on crops of the train split against the predictions at T={self.temperature:g} of its teacher, fine-tuned "
                f"on {_labeled(self)}, "
                f"{labels}; top-1 on the un-augmented test split")


def _labeled(probe: ProbeBase) -> str:
    share = "the train split" if probe.label_fraction >= 1 else f"{probe.label_fraction:g} of the train split's labels"
    return share + (f", from projector layer {probe.layer}" if probe.layer else "")


PROBES = {"linear": LinearProbe, "finetune": FinetuneProbe, "paper_linear": PaperLinear, "distill": Distill}
DEFAULT_PROBE_MODE = "linear"  # what a study that never names probe.mode gets


def stage_inputs(section: ProbeBase) -> list[ProbeBase]:
    """The sections of the stages an evaluation reads, in order (harness/plan.py chains them: pretraining
    -> fine-tuning -> distillation): a distillation reads its teacher's fine-tuning; the others the
    pretraining alone."""
    return [section.teacher] if isinstance(section, Distill) else []


# Keys of the probe before it was a union (config.yaml schema 1): the fine-tuning's settings had a
# `finetune_` prefix beside the linear probe's; they are FinetuneProbe's own keys now. A study that
# names an old key is told its new spelling (spec.check_keys); harness/migrate.py reads old configs.
FINETUNE_RENAMED = {"finetune_epochs": "epochs", "finetune_base_lr": "base_lr", "finetune_batch_size": "batch_size"}
RENAMED_KEYS = {f"probe.{old}": f"'probe.{new}' (with probe.mode: finetune)" for old, new in FINETUNE_RENAMED.items()}


def _probe_mode(value) -> str | None:
    mode = value.get("mode", DEFAULT_PROBE_MODE) if isinstance(value, dict) else getattr(value, "mode", None)
    return mode if isinstance(mode, str) and mode in PROBES else None  # a YAML mapping is no mode


ProbeConfig = Annotated[
    Union[tuple(Annotated[section, Tag(mode)] for mode, section in PROBES.items())],
    Discriminator(_probe_mode, custom_error_type="unknown_probe_mode",
                  custom_error_message=f"unknown probe mode (known: {', '.join(PROBES)})"),
]


def _workers(value):
    # One check, so that an error names runtime.num_workers, not a member of the union.
    if value == "auto" or (type(value) is int and value >= 0):
        return value
    raise ValueError('should be an integer >= 0 or "auto"')


class Runtime(Section):
    """Where and how fast a run goes: outside the run id (RunConfig.runtime), but for precision."""

    device: str = "cpu"
    # DataLoader worker processes of an ImageFolder dataset (the in-memory ones use none). "auto":
    # one per CPU this process may use, at most 8, less one for the main process (data/imagefolder.py).
    num_workers: Annotated[int | str, PlainValidator(_workers)] = "auto"
    threads: int = Field(0, ge=0, description="torch intra-op threads; 0 leaves torch's default")
    checkpoint_every: int = Field(1, gt=0, description="epochs between checkpoints")
    data_root: str | None = None
    download: bool = False
    # Speed switches (harness/accel.py). channels_last and compile change which kernels run, not
    # what is computed: like `device`, they stay out of the run id. bf16 autocast changes the
    # numbers, so precision enters the run id.
    precision: Annotated[Literal["fp32", "bf16"], InRunId(True)] = "fp32"
    channels_last: bool = False
    compile: bool = False
    # Live loggers that watch the run's curves (harness/loggers.py): each needs its pyproject extra.
    loggers: tuple[Literal[tuple(LOGGERS)], ...] = Field((), strict=False)  # YAML gives a list


class RunConfig(Section):
    method: MethodConfig = registry.BUILT_IN[registry.DEFAULT_METHOD].section()
    backbone: Backbone = Backbone()
    projector: Projector = Projector()
    predictor: Predictor = Predictor()
    heads: Heads = Heads()
    data: Data = Data()
    optim: Optim = Optim()
    monitor: Monitor = Monitor()
    # The evaluation is a stage of its own (harness/stages.py), with its own id: a pretraining is
    # trained once for every evaluation of it.
    probe: Annotated[ProbeConfig, InRunId(False)] = PROBES[DEFAULT_PROBE_MODE]()
    runtime: Annotated[Runtime, InRunId(False)] = Runtime()
    seed: int = Field(0, ge=0)

    @model_validator(mode="before")
    @classmethod
    def _paper_linear(cls, value):
        """probe.mode paper_linear: the keys a study leaves unset are the method's official values (its
        recipe's `linear`), beneath every layer that sets one, as a recipe's keys are."""
        probe = value.get("probe") if isinstance(value, dict) else None
        if not (isinstance(probe, dict) and probe.get("mode") == "paper_linear"):
            return value
        method = value.get("method", {})
        name = method.get("name", registry.DEFAULT_METHOD) if isinstance(method, dict) else method.name
        try:
            recipe = registry.lookup(name).recipe
        except ValueError:
            return value  # the method's own check says so
        return {**value, "probe": {**(recipe.linear if recipe else {}), **probe}}

    @model_validator(mode="after")
    def _sections_agree(self):
        if self.method.name == "simclr" and self.predictor.kind != "none":
            raise KeysError("method simclr has no predictor: set predictor.kind: none", "method.name", "predictor.kind")
        if self.predictor.kind == "closed_form" and self.method.name != "byol":
            raise KeysError(f"predictor.kind closed_form is BYOL's (it regresses on a target network's projections): "
                            f"method {self.method.name} takes mlp, none or fixed", "method.name", "predictor.kind")
        if self.probe.layer > self.projector.layers:
            raise KeysError(f"probe.layer ({self.probe.layer}) exceeds projector.layers ({self.projector.layers})",
                            "probe.layer", "projector.layers")
        patch = self.backbone.vit.patch_size
        if self.backbone.name == "vit" and self.data.image_size % patch:
            raise KeysError(f"data.image_size ({self.data.image_size}) is not a multiple of the ViT's "
                            f"patch_size ({patch})", "backbone.name", "data.image_size", "backbone.vit.patch_size")
        return self

    def run_id(self) -> str:
        return run_id(self)  # harness/run_id.py
