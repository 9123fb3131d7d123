"""Named scales. A preset is a set of overrides on RunConfig's defaults (the paper's ImageNet setup).

Every study runs at any preset; the study file may add its own per-preset overrides on top.
"""

PRESETS: dict[str, dict] = {
    # Built-in offline data (scikit-learn digits upsampled to 16 px), a 3-layer CNN, CPU, minutes.
    # Tuned so the SimSiam phenomena can show: see the README's "tiny scale" section.
    "tiny": {
        "data.dataset": "digits",
        "data.image_size": 16,
        "data.augment": "digits",
        "data.crop_min_scale": 0.5,
        "backbone.name": "small_cnn",
        "backbone.width": 32,
        "projector.layers": 2,
        "projector.hidden_dim": 256,
        "projector.out_dim": 256,
        "predictor.hidden_dim": 64,
        "optim.base_lr": 0.2,
        "optim.batch_size": 256,
        "optim.epochs": 60,
        "optim.weight_decay": 5.0e-4,
        "monitor.every_epochs": 2,
    },
    # SimSiam App. D: CIFAR ResNet-18 (3x3 stem, no max-pool), 2-layer projector, 2048-d,
    # base lr 0.03, wd 5e-4, batch 512, 800 epochs, 32 px, no blur. Predictor hidden 512 (assumed).
    "cifar10": {
        "data.dataset": "cifar10",
        "data.image_size": 32,
        "data.augment": "cifar",
        "backbone.name": "resnet18_cifar",
        "projector.layers": 2,
        "projector.hidden_dim": 2048,
        "projector.out_dim": 2048,
        "predictor.hidden_dim": 512,
        "optim.base_lr": 0.03,
        "optim.batch_size": 512,
        "optim.epochs": 800,
        "optim.weight_decay": 5.0e-4,
        "monitor.every_epochs": 10,
    },
    # The paper's ImageNet setup is RunConfig's default: ResNet-50, 224 px, batch 512, 100 epochs.
    "imagenet": {
        "data.dataset": "imagefolder",
        "monitor.every_epochs": 10,
    },
}

DEFAULT_PRESET = "tiny"
