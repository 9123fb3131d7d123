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
    # The paper's linear evaluation as its official code runs it: config.PaperLinear's keys, filling
    # those a study leaves unset when probe.mode is paper_linear (what each `scaled` layer at cifar10
    # and imagenet names: PAPER_LINEAR_EVALUATION; at tiny the frozen-feature probe stays).
    linear: dict = field(default_factory=dict)


# The protocol of the linear top-1 beside the paper's: the paper's own at its scales. At cifar10 the
# values are the ImageNet command's, the crops at the preset's 32 px (as the preset scales the
# pretraining's images): a linear evaluation is cheap next to 800 epochs of pretraining. At tiny the
# frozen-feature probe (harness/probe.py, seconds) stays, so tiny results stay as they were.
PAPER_LINEAR_EVALUATION = {"probe.mode": "paper_linear"}


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
            **PAPER_LINEAR_EVALUATION,
        },
        # App. D: 2-layer projector, base lr 0.03, wd 5e-4 (the predictor's hidden width is not stated).
        "cifar10": {
            "projector.layers": 2, "projector.hidden_dim": 2048, "projector.out_dim": 2048,
            "predictor.hidden_dim": 512, "optim.base_lr": 0.03, "optim.lr_multiplier": 1.0,
            "optim.weight_decay": 5e-4,
            **PAPER_LINEAR_EVALUATION,
        },
        # As CIFAR, narrower (the predictor keeps the paper's 4:1 bottleneck), at 4x the paper's lr:
        # 300 steps instead of ~250k.
        "tiny": {
            "projector.layers": 2, "projector.hidden_dim": 256, "projector.out_dim": 256,
            "predictor.hidden_dim": 64, "optim.base_lr": 0.05, "optim.lr_multiplier": 4.0,
            "optim.weight_decay": 5e-4,
        },
    },
    # facebookresearch/simsiam main_lincls.py, run as its README says (l.43-51: --lars, batch 4096):
    # epochs 90 (l.44), batch 4096 (l.48), lr 0.1 (l.53) x batch / 256 (l.188), momentum 0.9 (l.55),
    # wd 0 (l.57), apex LARC trust 0.001 clip False over SGD (l.226-232), fc N(0, 0.01) bias 0
    # (l.160-161), RandomResizedCrop(224) + flip (l.267-268), cosine set per epoch (l.491-495),
    # model.eval() while training (l.342). LARC adapts the bias too; harness/lars.py does not.
    linear={
        "source": "facebookresearch/simsiam main_lincls.py --lars", "optimizer": "lars", "nesterov": False,
        "momentum": 0.9, "base_lr": 0.1, "batch_size": 4096, "epochs": 90, "weight_decay": 0.0,
        "classifier_init": "normal", "decay": "epoch", "crop_min_scale": 0.08, "flip": True,
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
            **PAPER_LINEAR_EVALUATION,
        },
        "cifar10": {
            "projector.layers": 2, "projector.hidden_dim": 4096, "projector.out_dim": 256,
            "predictor.hidden_dim": 4096, "optim.lr_multiplier": 1.0, "optim.weight_decay": 1.5e-6,
            "optim.warmup_epochs": 10,
            **PAPER_LINEAR_EVALUATION,
        },
        # 4x the paper's lr (as SimSiam's) for 300 steps instead of ~300k; 10% of training warms up.
        "tiny": {
            "projector.layers": 2, "projector.hidden_dim": 256, "projector.out_dim": 64,
            "predictor.hidden_dim": 256, "optim.lr_multiplier": 4.0, "optim.weight_decay": 1.5e-6,
            "optim.warmup_epochs": 6,
        },
    },
    # deepmind-research byol/configs/eval.py: 80 epochs (l.29: max_steps = 80 x N // batch), SGD
    # momentum 0.9 Nesterov (l.38-41; optax.sgd, no weight decay: eval_experiment.py l.299-301), lr
    # 0.2 (l.43) x batch / 256 (utils/schedules.py l.34), cosine per step, no warm-up (l.44); haiku's
    # default Linear init (eval_experiment.py l.151); one random crop (area 0.08-1, dataset.py
    # l.206-215) + flip (l.192-194); BN in eval mode (is_training=not freeze_backbone, l.325). The
    # batch is the paper's (App. C.1: 1024; the code takes a --batch_size flag).
    linear={
        "source": "deepmind-research byol/configs/eval.py", "optimizer": "sgd", "nesterov": True,
        "momentum": 0.9, "base_lr": 0.2, "batch_size": 1024, "epochs": 80, "weight_decay": 0.0,
        "classifier_init": "truncated_normal", "decay": "step", "crop_min_scale": 0.08, "flip": True,
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
            **PAPER_LINEAR_EVALUATION,
        },
        # The README's CIFAR-10 command: batch 512, 1000 epochs, lr 1.0 (linear), wd 1e-4, T 0.5,
        # colour strength 0.5, no blur (the cifar10 preset removes it).
        "cifar10": {
            "projector.layers": 3, "projector.hidden_dim": 2048, "projector.out_dim": 128,
            "optim.lr_scaling": "linear", "optim.base_lr": 1.0, "optim.lr_multiplier": 1.0,
            "optim.weight_decay": 1e-4, "optim.warmup_epochs": 10, "optim.epochs": 1000,
            "method.temperature": 0.5, "data.augment.brightness": 0.4, "data.augment.contrast": 0.4,
            "data.augment.saturation": 0.4, "data.augment.hue": 0.1,
            **PAPER_LINEAR_EVALUATION,
        },
        # The ImageNet setup at 4x the paper's lr (as SimSiam's and BYOL's); 10% of training warms up.
        "tiny": {
            "projector.layers": 3, "projector.hidden_dim": 256, "projector.out_dim": 64,
            "optim.lr_scaling": "sqrt", "optim.base_lr": 0.075, "optim.lr_multiplier": 4.0,
            "optim.weight_decay": 1e-4, "optim.warmup_epochs": 6, **_COLOUR_STRENGTH_1,
        },
    },
    # google-research/simclr README.md l.136-143, the ImageNet linear evaluation ("fine-tuning a linear
    # head": fine_tune_after_block=4): --optimizer=momentum (tf2/model.py l.31-32: Keras SGD,
    # Nesterov) --learning_rate=0.1 (linear scaling, tf2/run.py's default: x batch / 256)
    # --weight_decay=1e-6 --train_epochs=90 --train_batch_size=4096 --warmup_epochs=0
    # --zero_init_logits_layer=True; momentum 0.9 (run.py default), cosine per step (model.py
    # l.77-109); crop + flip (the fine-tuning preprocess).
    linear={
        "source": "google-research/simclr README.md linear eval", "optimizer": "sgd", "nesterov": True,
        "momentum": 0.9, "base_lr": 0.1, "batch_size": 4096, "epochs": 90, "weight_decay": 1e-6,
        "classifier_init": "zeros", "decay": "step", "crop_min_scale": 0.08, "flip": True,
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
            **PAPER_LINEAR_EVALUATION,
        },
        "cifar10": {
            "backbone.name": "vit", "projector.layers": 3, "projector.hidden_dim": 4096,
            "projector.out_dim": 256, "predictor.hidden_dim": 4096, "optim.lr_multiplier": 1.0,
            "optim.warmup_epochs": 40,
            **PAPER_LINEAR_EVALUATION,
        },
        # 300 steps instead of ~94k: 10x the paper's lr, so that a small ViT moves at all.
        "tiny": {
            "backbone.name": "vit", "projector.layers": 3, "projector.hidden_dim": 256,
            "projector.out_dim": 64, "predictor.hidden_dim": 256, "optim.lr_multiplier": 10.0,
            "optim.warmup_epochs": 10,
        },
    },
    # facebookresearch/moco-v3 main_lincls.py, the ViT's (the recipe's backbone): epochs 90 (l.49),
    # batch 1024 (l.53), lr 3 (CONFIG.md l.144: --lr=3 for vit_small; main_lincls.py's 0.1 default, l.58,
    # is the ResNet-50's) x batch / 256 (l.196), SGD momentum 0.9 (l.60, l.236), wd 0 (l.62), fc
    # N(0, 0.01) bias 0 (l.168-169), RandomResizedCrop(224) + flip (l.273-274), cosine per epoch
    # (l.499-503), model.eval() (l.348). A study of MoCo v3 on a ResNet-50 sets probe.base_lr: 0.1.
    linear={
        "source": "facebookresearch/moco-v3 main_lincls.py (ViT: --lr=3)", "optimizer": "sgd", "nesterov": False,
        "momentum": 0.9, "base_lr": 3.0, "batch_size": 1024, "epochs": 90, "weight_decay": 0.0,
        "classifier_init": "normal", "decay": "epoch", "crop_min_scale": 0.08, "flip": True,
    },
)  # fmt: skip
