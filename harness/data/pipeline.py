"""DataPipeline: what the training loop and the kNN monitor see of a dataset.

Two implementations: InMemoryPipeline (digits, CIFAR: the whole dataset as one uint8 tensor on the
device, augmented a batch at a time by BatchAugment) and PerImagePipeline (imagefolder.py: a
per-image DataLoader for ImageFolder trees too big for memory and for the user's own datasets).

Training batches are a function of (config.seed, epoch) alone: each epoch makes a fresh generator
from both for its shuffle and its augmentations, so a run resumed at epoch e in a new process sees
exactly the batches an uninterrupted run sees, and the global RNG is never used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import Dataset

from harness.data.augment import BatchAugment, crop_and_flip, eval_transform

# Images per evaluation batch (the kNN monitor's embeddings, no gradients). Not larger: on a CPU the
# activations of bigger batches fall out of the caches, and the tiny preset's kNN evaluation took
# twice the time at 1024 as at 256 (harness bench, one thread); a GPU is as busy at 256 as at 1024.
EVAL_BATCH = 256


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """A CPU generator seeded from (seed, epoch); SeedSequence mixes the pair so that different
    pairs do not collide the way seed + epoch would."""
    state = np.random.SeedSequence([seed, epoch]).generate_state(1, dtype=np.uint64)[0]
    return torch.Generator().manual_seed(int(state))


def steps_per_epoch(train_size: int, batch_size: int) -> int:
    """Training batches per epoch: every epoch drops its last partial batch (drop_last)."""
    return train_size // batch_size


class Batch(list):
    """A training batch as every method's forward takes it: the list of views [B,C,S,S], and
    `indices`, the positions in the training split of its B images (int64, on the device; this rank's
    share), for a method that keeps a state per image (SimSiam Sec. 5.2's eta). Batches that come from
    elsewhere (harness bench's, a plain list) have none."""

    def __init__(self, views: list[Tensor], indices: Tensor | None = None):
        super().__init__(views)
        self.indices = indices


@dataclass(frozen=True)
class LabeledImages:
    images: Tensor  # uint8 [N,C,H,W]
    labels: Tensor  # int64 [N]

    def __len__(self) -> int:
        return len(self.labels)


@dataclass(frozen=True)
class Splits:
    """A dataset's train and test splits (LabeledImages in memory, or Datasets of (image, label)
    items read an image at a time) and what normalizes its images (datasets.py builds them)."""

    train: LabeledImages | Dataset
    test: LabeledImages | Dataset
    num_classes: int
    channels: int
    mean: tuple[float, ...]
    std: tuple[float, ...]


class DataPipeline(ABC):
    num_classes: int
    channels: int
    batch_size: int  # the global batch
    rank, world_size = 0, 1  # which share of each global batch train_batches yields (see shard)

    def shard(self, rank: int, world_size: int) -> None:
        """Make train_batches yield only rank `rank`'s share of each global batch, samples
        [rank * b, (rank + 1) * b) with b = batch_size / world_size. The global batches are drawn
        as in a single process, so what the run sees does not depend on how many ranks share it."""
        if self.batch_size % world_size:
            raise ValueError(
                f"optim.batch_size={self.batch_size} (the global batch) does not split evenly over "
                f"{world_size} tasks"
            )
        self.rank, self.world_size = rank, world_size

    def share(self) -> slice:
        """This rank's positions within a global batch."""
        b = self.batch_size // self.world_size
        return slice(self.rank * b, (self.rank + 1) * b)

    @abstractmethod
    def train_size(self) -> int:
        """Images in the training split."""

    def steps_per_epoch(self) -> int:
        """Training batches per epoch: what the lr schedule and the training loop count by."""
        return steps_per_epoch(self.train_size(), self.batch_size)

    @abstractmethod
    def train_batches(self, epoch: int) -> Iterator[Batch]:
        """Per batch, a list of n_views augmented views [B,C,S,S], float, on the device, with the
        images' indices in the training split (Batch)."""

    @abstractmethod
    def eval_batches(self, split: str) -> Iterator[tuple[Tensor, Tensor]]:
        """Un-augmented normalized images and their labels, on the device, in a fixed order.
        split "train" (the kNN bank) or "test" (the queries)."""

    @abstractmethod
    def train_labels(self) -> Tensor:
        """The train split's labels in eval_batches' order: what labeled_subset (probe.py) indexes."""

    @abstractmethod
    def labeled_batches(self, indices: Tensor, batch_size: int,
                        generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
        """One pass over the train split's samples `indices`, in an order drawn from `generator`:
        batches of `batch_size` (a last partial one dropped) of images augmented by
        crop_and_flip(data.augment) and their labels, on the device. Fine-tuning's data (finetune.py)."""


class InMemoryPipeline(DataPipeline):
    """A dataset small enough to live on the device, augmented a whole batch at a time."""

    def __init__(
        self,
        train: LabeledImages,
        test: LabeledImages,
        num_classes: int,
        augment: BatchAugment,
        batch_size: int,
        n_views: int,
        seed: int,
        device: torch.device,
    ):
        # One transfer up front (CIFAR-10 is 180 MB as uint8); batches are then indexed on the device.
        self.splits = {
            name: LabeledImages(split.images.to(device), split.labels.to(device))
            for name, split in (("train", train), ("test", test))
        }
        self.num_classes = num_classes
        self.channels = train.images.shape[1]
        self.augment = augment
        self.labeled_augment = BatchAugment(crop_and_flip(augment.recipe), augment.image_size, augment.channels,
                                            augment.mean, augment.std)
        self.batch_size = batch_size
        self.n_views = n_views
        self.seed = seed
        self.device = device

    def train_size(self) -> int:
        return len(self.splits["train"])

    def train_batches(self, epoch: int) -> Iterator[Batch]:
        generator = epoch_generator(self.seed, epoch)
        images = self.splits["train"].images
        order = torch.randperm(len(images), generator=generator).to(self.device)
        mine, size = self.share(), self.batch_size
        for step in range(self.steps_per_epoch()):
            indices = order[step * size : (step + 1) * size][mine]
            batch = images[indices]
            # Every rank draws the whole global batch's augmentations (the generator's stream stays
            # the one a single process sees) and applies its own share of them.
            yield Batch([self.augment.apply(batch, self.augment.sample_params(size, generator, view)[mine])
                         for view in range(self.n_views)], indices)

    def eval_batches(self, split: str) -> Iterator[tuple[Tensor, Tensor]]:
        if split not in self.splits:
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        data = self.splits[split]
        a = self.augment
        for start in range(0, len(data), EVAL_BATCH):
            images = data.images[start : start + EVAL_BATCH]
            yield eval_transform(images, a.image_size, a.mean, a.std), data.labels[start : start + EVAL_BATCH]

    def train_labels(self) -> Tensor:
        return self.splits["train"].labels

    def labeled_batches(self, indices: Tensor, batch_size: int,
                        generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
        train = self.splits["train"]
        order = indices.cpu()[torch.randperm(len(indices), generator=generator)].to(self.device)
        for step in range(len(order) // batch_size):
            batch = order[step * batch_size : (step + 1) * batch_size]
            params = self.labeled_augment.sample_params(batch_size, generator)
            yield self.labeled_augment.apply(train.images[batch], params), train.labels[batch]
