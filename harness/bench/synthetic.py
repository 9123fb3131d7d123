"""Random images in the shape of a dataset, for benchmarks where its files are not at hand.

Throughput does not depend on what the pixels show: the augmentation, the networks and the kNN do
the same work on noise as on photographs. The splits have the dataset's sizes, so that a per-epoch
cost (an epoch's steps, the kNN bank) is that of the real dataset.
"""

from __future__ import annotations

import torch

from harness.config import RunConfig
from harness.data.cifar import NUM_CLASSES, STATS
from harness.data.datasets import Cifar
from harness.data.pipeline import InMemoryPipeline, LabeledImages, Splits

# (train images, test images, channels) of the datasets that need files.
SHAPES = {"cifar10": (50_000, 10_000, 3), "cifar100": (50_000, 10_000, 3)}


class Synthetic(Cifar):
    """CIFAR built as the harness builds it, from random uint8 images of its splits' sizes."""

    def splits(self, config: RunConfig) -> Splits:
        n_train, n_test, channels = SHAPES[self.name]
        size, num_classes = config.data.image_size, NUM_CLASSES[self.name]
        generator = torch.Generator().manual_seed(config.seed)

        def split(n: int) -> LabeledImages:
            images = torch.randint(0, 256, (n, channels, size, size), generator=generator, dtype=torch.uint8)
            return LabeledImages(images, torch.randint(0, num_classes, (n,), generator=generator))

        return Splits(split(n_train), split(n_test), num_classes, channels, *STATS[self.name])


def synthetic_data(config: RunConfig, n_views: int, device: torch.device) -> InMemoryPipeline:
    """The pipeline build_data would make for config.data.dataset, on random uint8 images."""
    name = config.data.dataset
    if name not in SHAPES:
        raise ValueError(
            f"--synthetic stands in for {' and '.join(SHAPES)}, not for data.dataset={name!r}"
            + (" (the digits are built in: drop --synthetic)" if name == "digits" else "")
        )
    return Synthetic(name).build(config, n_views, device)
