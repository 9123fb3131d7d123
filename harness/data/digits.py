"""scikit-learn's digits: 1797 8x8 grayscale images of 10 classes, shipped with sklearn (no download).

Small enough for a whole study on a CPU in minutes: the `tiny` scale of the harness.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits as sklearn_digits
from sklearn.model_selection import train_test_split

from harness.data.pipeline import LabeledImages

NUM_CLASSES = 10


def load_digits(image_size: int) -> tuple[LabeledImages, LabeledImages]:
    """(train, test) as uint8 [N,1,S,S] images, upsampled from 8x8 to image_size.

    The split is fixed (random_state=0, stratified), independent of the run seed: every run of a
    study evaluates on the same 450 test images, so runs differ only in what they vary.
    """
    bunch = sklearn_digits()
    images = torch.from_numpy(bunch.images).float().mul(255 / 16).unsqueeze(1)  # values 0..16 -> 0..255
    if image_size != images.shape[-1]:
        images = F.interpolate(images, size=(image_size, image_size), mode="bilinear", align_corners=False)
    images = images.round().clamp(0, 255).to(torch.uint8)
    labels = torch.from_numpy(bunch.target).long()
    train_idx, test_idx = train_test_split(
        np.arange(len(labels)), test_size=0.25, random_state=0, stratify=bunch.target
    )
    # Sorted: both splits keep the dataset's own order.
    train_idx, test_idx = torch.from_numpy(np.sort(train_idx)), torch.from_numpy(np.sort(test_idx))
    return (
        LabeledImages(images[train_idx], labels[train_idx]),
        LabeledImages(images[test_idx], labels[test_idx]),
    )


def channel_stats(images: torch.Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images [N,C,H,W], in 0..1 units (for normalization)."""
    x = images.double().div(255).transpose(0, 1).flatten(1)
    return tuple(x.mean(1).tolist()), tuple(x.std(1).tolist())
