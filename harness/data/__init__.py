"""Datasets, augmentations and the batches the training loop and the kNN monitor consume."""

from __future__ import annotations

import torch

from harness.config import BUILT_IN_DATASETS, RunConfig
from harness.data.augment import AugmentParams, BatchAugment, eval_transform
from harness.data.cifar import NUM_CLASSES as CIFAR_CLASSES
from harness.data.cifar import STATS as CIFAR_STATS
from harness.data.cifar import load_cifar
from harness.data.digits import NUM_CLASSES as DIGITS_CLASSES
from harness.data.digits import channel_stats, load_digits
from harness.data.imagefolder import PerImagePipeline, imagefolder_splits
from harness.data.plugin import plugin_splits
from harness.data.pipeline import Batch, DataPipeline, InMemoryPipeline, LabeledImages, epoch_generator

__all__ = [
    "AugmentParams",
    "Batch",
    "BatchAugment",
    "DataPipeline",
    "PerImagePipeline",
    "InMemoryPipeline",
    "LabeledImages",
    "build_data",
    "epoch_generator",
    "eval_transform",
]


def build_data(config: RunConfig, n_views: int, device: torch.device) -> DataPipeline:
    """The pipeline for config.data.dataset, yielding n_views views per training batch on `device`."""
    data = config.data
    if data.dataset == "imagefolder":
        return PerImagePipeline(config, n_views, device, imagefolder_splits(config))
    if data.dataset not in BUILT_IN_DATASETS:  # the user's own (module.path:function)
        return PerImagePipeline(config, n_views, device, plugin_splits(config))
    if data.dataset == "digits":
        train, test = load_digits(data.image_size)
        # Normalized with the training split's own statistics (fixed: the split is fixed).
        (mean, std), num_classes = channel_stats(train.images), DIGITS_CLASSES
    else:
        train, test = load_cifar(config)
        (mean, std), num_classes = CIFAR_STATS[data.dataset], CIFAR_CLASSES[data.dataset]
    channels = train.images.shape[1]
    augment = BatchAugment(data.augment, data.image_size, channels, mean, std)
    batch_size = config.optim.batch_size
    return InMemoryPipeline(train, test, num_classes, augment, batch_size, n_views, config.seed, device)
