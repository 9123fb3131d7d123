"""A toy labeled dataset the evaluations learn in a few steps (fine-tuning, the paper's linear
evaluation, distillation), and a small SimCLR network on it."""

import torch

from harness.data.augment import BatchAugment
from harness.data.pipeline import InMemoryPipeline, LabeledImages
from harness.methods.factory import build_method

from configs import config

CLASSES = 4


def data(n_train=64, n_test=32) -> InMemoryPipeline:
    """Four classes of 8x8 one-channel images, each a bright quadrant plus noise: learnable in a few steps."""
    g = torch.Generator().manual_seed(0)

    def split(n):
        labels = torch.arange(CLASSES).repeat(n // CLASSES)
        images = torch.randint(0, 80, (n, 1, 8, 8), generator=g, dtype=torch.uint8)
        for i, c in enumerate(labels.tolist()):
            images[i, 0, 4 * (c // 2) : 4 * (c // 2) + 4, 4 * (c % 2) : 4 * (c % 2) + 4] += 150
        return LabeledImages(images, labels)

    run = config()
    augment = BatchAugment(run.data.augment.model_copy(update={"crop_min_scale": 0.8, "flip": False}), 8, 1,
                           (0.5,), (0.25,))
    return InMemoryPipeline(split(n_train), split(n_test), CLASSES, augment, 8, 2, 0, torch.device("cpu"))


def method(layers=2):
    torch.manual_seed(0)
    return build_method(config(method={"name": "simclr"}, predictor={"kind": "none"},
                               projector={"layers": layers, "hidden_dim": 12, "out_dim": 8}), 1)




def stage_config(**probe):
    """method()'s config on data()'s 8 px images, with `probe` as its evaluation section."""
    return config(method={"name": "simclr"}, predictor={"kind": "none"}, data={"image_size": 8},
                  projector={"layers": 2, "hidden_dim": 12, "out_dim": 8}, probe=probe)
