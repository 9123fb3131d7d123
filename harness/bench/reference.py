"""The reference input pipeline: how the official SimSiam code feeds its model.

facebookresearch/simsiam main_simsiam.py: a Dataset hands out PIL images, TwoCropsTransform applies
the per-image torchvision augmentation once per view, a DataLoader with workers shuffles, collates
and pins the batches (pin_memory=True), and the loop copies them to the GPU with non_blocking=True.

Here the images come from memory, as torchvision's CIFAR datasets give them (Image.fromarray per
item), and the per-image augmentation is the harness's own recipe (data/imagefolder.py's
train_transform, ops on the PIL image and ToTensor last as in the official code), so the two
pipelines do the same augmentation, one image at a time or one batch at a time.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import torch
from PIL import Image
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.transforms import v2

from harness.data.augment import BatchAugment
from harness.data.imagefolder import train_transform


class PerImageViews(Dataset):
    """One augmentation of an in-memory image per view transform, each from its own PIL copy."""

    def __init__(self, images: Tensor, transforms: list[v2.Compose]):
        # uint8 [N,C,H,W] -> [N,H,W,C], the layout PIL reads ([N,H,W] for one channel: mode "L").
        array = images.permute(0, 2, 3, 1).numpy()
        self.array = array[..., 0] if array.shape[-1] == 1 else array
        self.transforms = transforms

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, index: int) -> list[Tensor]:
        image = Image.fromarray(self.array[index])
        return [transform(image) for transform in self.transforms]


def reference_loader(
    images: Tensor, augment: BatchAugment, batch_size: int, n_views: int, workers: int, device: torch.device
) -> DataLoader:
    """The official code's DataLoader over `images` (uint8 [N,C,H,W], on the CPU), with the
    recipe, size and normalization of the harness's batched `augment`."""
    transforms = [train_transform(augment.recipe, augment.image_size, view, augment.mean, augment.std)
                  for view in range(n_views)]
    return DataLoader(
        PerImageViews(images.cpu(), transforms),
        batch_size=batch_size,
        shuffle=True,
        num_workers=workers,
        pin_memory=device.type == "cuda",
        drop_last=True,
    )


def reference_batches(loader: DataLoader, device: torch.device) -> Iterator[list[Tensor]]:
    """Training batches on the device, epoch after epoch, as the official loop takes them: each
    epoch starts the loader's workers afresh. Closing the generator stops them."""
    for _ in itertools.count():
        for views in loader:
            yield [v.to(device, non_blocking=True) for v in views]
