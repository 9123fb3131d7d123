"""Each method's paper recipe: its main setup as config overrides, so a study states only its ablation.
A recipe is registered with its method (harness/methods/registry.py).

A recipe has what holds at every scale (`common`: heads, optimizer and schedule shape, augmentation)
and, per preset, how the method scales there (`scaled`: lr, weight decay, head widths, warm-up; at
`imagenet` the paper's own numbers). The method's own switches (BYOL's tau, MoCo v3's momentum and
temperature, ...) default to the paper's values in their config section (harness/methods/sections.py).

A run's config is layered (harness/plan.py), later winning:
    RunConfig defaults < recipe.common < preset < recipe.scaled[preset] < study base < ...
so the preset overrides a recipe only where the scale cannot hold it (16 px digits cannot be flipped
and get no blur), and the report lists every key where a run differs from the paper's setup
(`protocol` in harness/reference/papers.yaml; a test checks that each recipe at `imagenet` is it).

Every recipe sets every key of RECIPE_KEYS, so that no method inherits another's setup unnoticed.
This module is plain data: planning a study must not import torch.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipe:
    paper: str  # the paper's key in papers.yaml
    common: dict
    scaled: dict[str, dict] = field(default_factory=dict)  # {preset: overrides}


# What every recipe states (in `common` or in each `scaled` layer).
RECIPE_KEYS = (
    "heads.bn", "heads.output_bn_affine", "heads.output_bn_center", "heads.output_bias",
    "predictor.kind", "predictor.lr",
    "projector.layers", "projector.hidden_dim", "projector.out_dim", "predictor.hidden_dim",
    "optim.name", "optim.lr_scaling", "optim.base_lr", "optim.lr_multiplier", "optim.weight_decay",
    "optim.warmup_epochs",
    "data.augment.crop_min_scale", "data.augment.jitter_p", "data.augment.brightness", "data.augment.contrast",
    "data.augment.saturation", "data.augment.hue", "data.augment.gray_p", "data.augment.blur_p",
    "data.augment.solarize_p",
)  # fmt: skip

# SimSiam / MoCo v2 colour jitter (SimSiam App. A); BYOL and MoCo v3 lower the saturation to 0.2.
_MOCO_V2_AUGMENT = {
    "data.augment.crop_min_scale": 0.2, "data.augment.jitter_p": 0.8, "data.augment.brightness": 0.4,
    "data.augment.contrast": 0.4, "data.augment.saturation": 0.4, "data.augment.hue": 0.1,
    "data.augment.gray_p": 0.2, "data.augment.blur_p": (0.5, 0.5), "data.augment.solarize_p": (0.0, 0.0),
}  # fmt: skip
# BYOL Table 6 (App. B), used as is by MoCo v3 (main_moco.py, augmentation1 / augmentation2): two
# asymmetric views, blur always on the first and rarely on the second, solarize on the second only.
_BYOL_AUGMENT = {
    "data.augment.crop_min_scale": 0.08, "data.augment.jitter_p": 0.8, "data.augment.brightness": 0.4,
    "data.augment.contrast": 0.4, "data.augment.saturation": 0.2, "data.augment.hue": 0.1,
    "data.augment.gray_p": 0.2, "data.augment.blur_p": (1.0, 0.1), "data.augment.solarize_p": (0.0, 0.2),
}  # fmt: skip

# SimCLR's colour distortion at strength 1.0 (brightness, contrast, saturation 0.8, hue 0.2).
_COLOUR_STRENGTH_1 = {
    "data.augment.brightness": 0.8, "data.augment.contrast": 0.8, "data.augment.saturation": 0.8,
    "data.augment.hue": 0.2,
}  # fmt: skip

SIMSIAM = Recipe(
    paper="simsiam",
    common={
        # Sec. 4.2: a constant predictor lr "in the following subsections" (the official README's
        # --fix-pred-lr); Fig. 2 and Table 1's baseline decay it (their studies say so).
        "predictor.kind": "mlp", "predictor.lr": "constant",
        # Sec. 3 / Table 3: BN on every projector layer, its output included, and on the predictor's
        # hidden layer. The paper's numbers (68.1 throughout) have an affine output BN; the official
        # code's affine=False came later (68.2, Table 3's note).
        "heads.bn": "hidden_and_projector_output", "heads.output_bn_affine": True,
        "heads.output_bn_center": True, "heads.output_bias": True,  # builder.py: the predictor's output has a bias
        "optim.name": "sgd", "optim.lr_scaling": "linear", "optim.warmup_epochs": 0,
        **_MOCO_V2_AUGMENT,
    },
    scaled={
        # Sec. 3: ResNet-50, 3-layer 2048-d projector, predictor hidden 512, SGD lr 0.05 x batch / 256,
        # wd 1e-4, batch 512, 100 epochs.
        "imagenet": {
            "projector.layers": 3, "projector.hidden_dim": 2048, "projector.out_dim": 2048,
            "predictor.hidden_dim": 512, "optim.base_lr": 0.05, "optim.lr_multiplier": 1.0,
            "optim.weight_decay": 1e-4, "optim.batch_size": 512, "optim.epochs": 100,
        },
        # App. D: 2-layer projector, base lr 0.03, wd 5e-4 (the predictor's hidden width is not stated).
        "cifar10": {
            "projector.layers": 2, "projector.hidden_dim": 2048, "projector.out_dim": 2048,
            "predictor.hidden_dim": 512, "optim.base_lr": 0.03, "optim.lr_multiplier": 1.0,
            "optim.weight_decay": 5e-4,
        },
        # As CIFAR, narrower (the predictor keeps the paper's 4:1 bottleneck), at 4x the paper's lr:
        # 300 steps instead of ~250k.
        "tiny": {
            "projector.layers": 2, "projector.hidden_dim": 256, "projector.out_dim": 256,
            "predictor.hidden_dim": 64, "optim.base_lr": 0.05, "optim.lr_multiplier": 4.0,
            "optim.weight_decay": 5e-4,
        },
    },
)  # fmt: skip

BYOL = Recipe(
    paper="byol",
    common={
        # App. A: projector and predictor Linear 4096 -> BN -> ReLU -> Linear 256, no BN on the outputs.
        "predictor.kind": "mlp", "predictor.lr": "cosine",
        "heads.bn": "hidden", "heads.output_bn_affine": False, "heads.output_bn_center": True,
        "heads.output_bias": False,  # utils/networks.py: the output Linear has no bias
        # The target network has its own random init (byol_experiment.py: two rngs), not a copy.
        "method.target_init": "independent",
        # LARS (biases and BN excluded from wd and adaptation), lr 0.2 x batch / 256, cosine, 10-epoch
        # warm-up; tau from 0.996 to 1 on a cosine (BYOLMethod's defaults).
        "optim.name": "lars", "optim.lr_scaling": "linear", "optim.base_lr": 0.2,
        **_BYOL_AUGMENT,
    },
    scaled={
        # batch 4096, 1000 epochs, wd 1.5e-6.
        "imagenet": {
            "projector.layers": 2, "projector.hidden_dim": 4096, "projector.out_dim": 256,
            "predictor.hidden_dim": 4096, "optim.lr_multiplier": 1.0, "optim.weight_decay": 1.5e-6,
            "optim.warmup_epochs": 10, "optim.batch_size": 4096, "optim.epochs": 1000,
        },
        "cifar10": {
            "projector.layers": 2, "projector.hidden_dim": 4096, "projector.out_dim": 256,
            "predictor.hidden_dim": 4096, "optim.lr_multiplier": 1.0, "optim.weight_decay": 1.5e-6,
            "optim.warmup_epochs": 10,
        },
        # 4x the paper's lr (as SimSiam's) for 300 steps instead of ~300k; 10% of training warms up.
        "tiny": {
            "projector.layers": 2, "projector.hidden_dim": 256, "projector.out_dim": 64,
            "predictor.hidden_dim": 256, "optim.lr_multiplier": 4.0, "optim.weight_decay": 1.5e-6,
            "optim.warmup_epochs": 6,
        },
    },
)  # fmt: skip

SIMCLR = Recipe(
    paper="simclr_v2",
    common={
        # v2 (Sec. 2; tf2/run.py: num_proj_layers=3, proj_out_dim=128): BN on every head layer, the
        # output's included; no predictor. LARS, 10-epoch warm-up. The loss's scale is the code's: the
        # gradient of both directions' sum at the paper's wd, the curves' loss their mean
        # (harness/methods/simclr.py), not the mean at half the wd.
        "predictor.kind": "none", "predictor.lr": "cosine", "predictor.hidden_dim": 512,
        # The output BN has a scale and no shift (tf2/model.py: center=False).
        "heads.bn": "hidden_and_projector_output", "heads.output_bn_affine": True,
        "heads.output_bn_center": False, "heads.output_bias": False,
        # SimCLR's LARS keeps the lr inside the momentum buffer (tf2/lars_optimizer.py, classic_momentum).
        "optim.name": "lars", "optim.classic_momentum": True,
        # v1 App. A (tf2/data_util.py): crop 0.08, blur 0.5, colour jitter at a strength (below).
        "data.augment.crop_min_scale": 0.08, "data.augment.jitter_p": 0.8, "data.augment.gray_p": 0.2,
        "data.augment.blur_p": (0.5, 0.5), "data.augment.solarize_p": (0.0, 0.0),
    },
    scaled={
        # The README's ImageNet command, "the default hyperparameters in our paper": batch 4096,
        # 100 epochs, T 0.1, lr 0.075 x sqrt(batch), wd 1e-4, colour strength 1.0.
        "imagenet": {
            "projector.layers": 3, "projector.hidden_dim": 2048, "projector.out_dim": 128,
            "optim.lr_scaling": "sqrt", "optim.base_lr": 0.075, "optim.lr_multiplier": 1.0,
            "optim.weight_decay": 1e-4, "optim.warmup_epochs": 10, "optim.batch_size": 4096,
            "optim.epochs": 100, **_COLOUR_STRENGTH_1,
        },
        # The README's CIFAR-10 command: batch 512, 1000 epochs, lr 1.0 (linear), wd 1e-4, T 0.5,
        # colour strength 0.5, no blur (the cifar10 preset removes it).
        "cifar10": {
            "projector.layers": 3, "projector.hidden_dim": 2048, "projector.out_dim": 128,
            "optim.lr_scaling": "linear", "optim.base_lr": 1.0, "optim.lr_multiplier": 1.0,
            "optim.weight_decay": 1e-4, "optim.warmup_epochs": 10, "optim.epochs": 1000,
            "method.temperature": 0.5, "data.augment.brightness": 0.4, "data.augment.contrast": 0.4,
            "data.augment.saturation": 0.4, "data.augment.hue": 0.1,
        },
        # The ImageNet setup at 4x the paper's lr (as SimSiam's and BYOL's); 10% of training warms up.
        "tiny": {
            "projector.layers": 3, "projector.hidden_dim": 256, "projector.out_dim": 64,
            "optim.lr_scaling": "sqrt", "optim.base_lr": 0.075, "optim.lr_multiplier": 4.0,
            "optim.weight_decay": 1e-4, "optim.warmup_epochs": 6, **_COLOUR_STRENGTH_1,
        },
    },
)  # fmt: skip

MOCOV3 = Recipe(
    paper="mocov3",
    common={
        # The ViT setup (Sec. 4, CONFIG.md; moco/builder.py MoCo_ViT): 3-layer projector and 2-layer
        # predictor with BN in every layer, the outputs' without affine; AdamW, lr 1.5e-4 x batch /
        # 256, cosine after a warm-up; momentum 0.99 to 1 on a cosine, T 0.2 (MoCoV3Method's
        # defaults). The recipe is the ViT's: it sets the backbone at every preset (MoCo v3's
        # ResNet-50 setup differs: LARS, a 2-layer projector, T 1.0).
        "predictor.kind": "mlp", "predictor.lr": "cosine",
        "heads.bn": "all", "heads.output_bn_affine": False, "heads.output_bn_center": True,
        "heads.output_bias": False,  # builder.py: every Linear without a bias
        "optim.name": "adamw", "optim.lr_scaling": "linear", "optim.base_lr": 1.5e-4,
        "optim.weight_decay": 0.1,
        **_BYOL_AUGMENT,
    },
    scaled={
        # ViT-S/16 (CONFIG.md): batch 4096, 300 epochs, 40 of them warming up, wd 0.1.
        "imagenet": {
            "backbone.name": "vit", "projector.layers": 3, "projector.hidden_dim": 4096,
            "projector.out_dim": 256, "predictor.hidden_dim": 4096, "optim.lr_multiplier": 1.0,
            "optim.warmup_epochs": 40, "optim.batch_size": 4096, "optim.epochs": 300,
        },
        "cifar10": {
            "backbone.name": "vit", "projector.layers": 3, "projector.hidden_dim": 4096,
            "projector.out_dim": 256, "predictor.hidden_dim": 4096, "optim.lr_multiplier": 1.0,
            "optim.warmup_epochs": 40,
        },
        # 300 steps instead of ~94k: 10x the paper's lr, so that a small ViT moves at all.
        "tiny": {
            "backbone.name": "vit", "projector.layers": 3, "projector.hidden_dim": 256,
            "projector.out_dim": 64, "predictor.hidden_dim": 256, "optim.lr_multiplier": 10.0,
            "optim.warmup_epochs": 10,
        },
    },
)  # fmt: skip
