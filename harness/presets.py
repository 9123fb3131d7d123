"""Named scales. A preset is what a scale changes for every method: the data, the backbone, the length
of training and the monitors' cadence; and, where the data cannot hold a paper's augmentation, the
augmentation. How each method scales its lr, weight decay and heads is its recipe's (harness/recipes.py):
    RunConfig defaults < recipe.common < preset < recipe.scaled[preset] < study ...
Every study runs at any preset; the study file may add its own per-preset overrides on top.
"""

PRESETS: dict[str, dict] = {
    # Built-in offline data (scikit-learn digits upsampled to 16 px), a 3-layer CNN (or a 3-block ViT
    # on 4x4 patches), CPU, minutes. See the README's "tiny scale" section.
    "tiny": {
        "data.dataset": "digits",
        "data.image_size": 16,
        # A mirrored digit is another symbol; an 8x8 digit cropped to 8% of its area is no digit; and
        # small images get no blur (as SimSiam App. D on CIFAR).
        "data.augment.flip": False,
        "data.augment.crop_min_scale": 0.5,
        "data.augment.blur_p": (0.0, 0.0),
        "backbone.name": "small_cnn",
        # 16-32-64 channels: a run takes half the time of 32-64-128 (its convolutions are 80% of it)
        # for the same Table 1 numbers (kNN 87.3 +- 1.2 against 87.0 +- 2.2 for the baseline), so
        # that the default study's 3 seeds train in minutes.
        "backbone.width": 16,
        "backbone.vit.patch_size": 4,
        "backbone.vit.dim": 48,
        "backbone.vit.depth": 3,
        "backbone.vit.heads": 3,
        "optim.batch_size": 256,
        "optim.epochs": 60,
        "monitor.every_epochs": 2,
        # One thread a run: the runs of a study fill the cores side by side (`harness run --jobs`'s
        # default), faster than one at a time on all of them, and a run's curves do not depend on
        # --jobs or on the machine's core count (other thread counts sum in other orders).
        "runtime.threads": 1,
    },
    # SimSiam App. D: CIFAR ResNet-18 (3x3 stem, no max-pool), batch 512, 800 epochs, 32 px, no blur.
    # A ViT takes 4x4 patches (64 tokens).
    "cifar10": {
        "data.dataset": "cifar10",
        "data.image_size": 32,
        "data.augment.blur_p": (0.0, 0.0),
        "backbone.name": "resnet18_cifar",
        "backbone.vit.patch_size": 4,
        "optim.batch_size": 512,
        "optim.epochs": 800,
        "monitor.every_epochs": 10,
    },
    # The papers' ImageNet setups: RunConfig's defaults (ResNet-50, 224 px) and each method's recipe.
    "imagenet": {
        "data.dataset": "imagefolder",
        "monitor.every_epochs": 10,
    },
}

DEFAULT_PRESET = "tiny"
