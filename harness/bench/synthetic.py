"""Random images in the shape of a dataset, for benchmarks where its files are not at hand.

Throughput does not depend on what the pixels show: the augmentation, the networks and the kNN do
the same work on noise as on photographs. The splits have the dataset's sizes, so that a per-epoch
cost (an epoch's steps, the kNN bank) is that of the real dataset.
"""

from __future__ import annotations

import torch

from harness.config import RunConfig
from harness.data import BatchAugment, InMemoryPipeline, LabeledImages
from harness.data.cifar import NUM_CLASSES as CIFAR_CLASSES
from harness.data.cifar import STATS as CIFAR_STATS

# (train images, test images, channels) of the datasets that need files.
SHAPES = {"cifar10": (50_000, 10_000, 3), "cifar100": (50_000, 10_000, 3)}


def synthetic_data(config: RunConfig, n_views: int, device: torch.device) -> InMemoryPipeline:
    """The pipeline build_data would make for config.data.dataset, on random uint8 images."""
    data = config.data
    if data.dataset not in SHAPES:
        raise ValueError(
            f"--synthetic stands in for {' and '.join(SHAPES)}, not for data.dataset={data.dataset!r}"
            + (" (the digits are built in: drop --synthetic)" if data.dataset == "digits" else "")
        )
    n_train, n_test, channels = SHAPES[data.dataset]
    num_classes = CIFAR_CLASSES[data.dataset]
    generator = torch.Generator().manual_seed(config.seed)

    def split(n: int) -> LabeledImages:
        shape = (n, channels, data.image_size, data.image_size)
        images = torch.randint(0, 256, shape, generator=generator, dtype=torch.uint8)
        return LabeledImages(images, torch.randint(0, num_classes, (n,), generator=generator))

    mean, std = CIFAR_STATS[data.dataset]
    augment = BatchAugment(data.augment, data.image_size, channels, mean, std)
    return InMemoryPipeline(
        split(n_train), split(n_test), num_classes, augment, config.optim.batch_size, n_views, config.seed, device
    )
