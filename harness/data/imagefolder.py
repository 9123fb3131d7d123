"""Datasets read an image at a time: ImageNet-style trees (<data_root>/train/<class>/*.jpg,
<data_root>/val/<class>/*.jpg) and the user's own datasets (harness/data/plugin.py).

Too big for memory: images are decoded and augmented one at a time by torchvision.transforms.v2
in DataLoader workers. Every training item carries its own seed, drawn from the epoch's generator,
and is augmented under it: the views depend on (config.seed, epoch) and not on runtime.num_workers
(which is not part of the run id) or on which worker happened to take the item.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset
from torchvision.datasets import ImageFolder
from torchvision.transforms import v2

from harness.config import Augment, RunConfig
from harness.machine import usable_cpus
from harness.data.augment import BLUR_SIGMA, SOLARIZE_THRESHOLD, blur_kernel_size, crop_and_flip
from harness.data.pipeline import Batch, DataPipeline, Splits, epoch_generator

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# As the in-memory pipelines'; larger would cost memory too: a 224 px float batch of 1024 is 600 MB,
# and each worker keeps two batches in flight.
EVAL_BATCH = 256


def train_transform(
    recipe: Augment,
    size: int,
    view: int = 0,
    mean: tuple[float, ...] = IMAGENET_MEAN,
    std: tuple[float, ...] = IMAGENET_STD,
) -> v2.Compose:
    """The config's augmentation of one view (blur and solarize are per view), per image.

    On a PIL image the ops run on the PIL image and it becomes a tensor only at the end, as in the
    official code (ToTensor last), which is faster per image than converting to a tensor first.
    """
    ops = [v2.RandomResizedCrop(size, scale=(recipe.crop_min_scale, 1.0), antialias=True)]
    if recipe.jitter_p > 0:
        jitter = v2.ColorJitter(recipe.brightness, recipe.contrast, recipe.saturation, recipe.hue)
        ops.append(v2.RandomApply([jitter], p=recipe.jitter_p))
    if recipe.gray_p > 0:
        ops.append(v2.RandomGrayscale(recipe.gray_p))
    if recipe.blur_p[view % 2] > 0:
        blur = v2.GaussianBlur(blur_kernel_size(size), sigma=BLUR_SIGMA)
        ops.append(v2.RandomApply([blur], p=recipe.blur_p[view % 2]))
    if recipe.solarize_p[view % 2] > 0:  # on PIL's 0..255
        ops.append(v2.RandomSolarize(round(255 * SOLARIZE_THRESHOLD), p=recipe.solarize_p[view % 2]))
    if recipe.flip:
        ops.append(v2.RandomHorizontalFlip())
    ops += [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    return v2.Compose(ops)


def center_crop(
    size: int, mean: tuple[float, ...] = IMAGENET_MEAN, std: tuple[float, ...] = IMAGENET_STD
) -> v2.Compose:
    """The standard ImageNet evaluation view: resize the short side to size*256/224, center crop."""
    return v2.Compose([
        v2.ToImage(),
        v2.Resize(int(size * 256 / 224), antialias=True),
        v2.CenterCrop(size),
        v2.ToDtype(torch.float32, scale=True),
        v2.Normalize(mean, std),
    ])  # fmt: skip


class MultiViewDataset(Dataset):
    """Items are (index, seed) pairs; each returns one augmentation of image `index` per view
    transform (the views' recipes differ in blur and solarize)."""

    def __init__(self, folder: Dataset, transforms: list[v2.Compose]):
        self.folder, self.transforms = folder, transforms

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, item: tuple[int, int]) -> list[Tensor]:
        index, seed = item
        image, _ = self.folder[index]
        return self.views(image, seed)

    def views(self, image, seed: int) -> list[Tensor]:
        # v2 draws from torch's global RNG. Seeding it per item makes the views reproducible;
        # fork_rng restores it afterwards, so with num_workers=0 the caller's RNG is untouched.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return [transform(image) for transform in self.transforms]


class LabeledViewDataset(MultiViewDataset):
    """Items are (index, seed) pairs, as MultiViewDataset's; each returns (one augmentation of image
    `index`, its label): fine-tuning's labeled batches."""

    def __init__(self, folder: Dataset, transform: v2.Compose):
        super().__init__(folder, [transform])

    def __getitem__(self, item: tuple[int, int]) -> tuple[Tensor, int]:
        index, seed = item
        image, label = self.folder[index]
        [view] = self.views(image, seed)
        return view, label


class EvalDataset(Dataset):
    def __init__(self, folder: Dataset, transform: v2.Compose):
        self.folder, self.transform = folder, transform

    def __len__(self) -> int:
        return len(self.folder)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        image, label = self.folder[index]
        return self.transform(image), label


class PerImagePipeline(DataPipeline):
    def __init__(self, config: RunConfig, n_views: int, device: torch.device, splits: Splits):
        self.folders = {"train": splits.train, "test": splits.test}
        self.num_classes, self.channels = splits.num_classes, splits.channels
        size, augment = config.data.image_size, config.data.augment
        self.train_transforms = [
            train_transform(augment, size, view, splits.mean, splits.std) for view in range(n_views)
        ]
        self.labeled_transform = train_transform(crop_and_flip(augment), size, 0, splits.mean, splits.std)
        self.eval_view = center_crop(size, splits.mean, splits.std)
        self.batch_size = config.optim.batch_size
        self.n_views = n_views
        self.seed = config.seed
        self.num_workers = loader_workers(config.runtime.num_workers)
        self.device = device
        self.pin = device.type == "cuda"  # page-locked batches copy asynchronously to the GPU

    def train_size(self) -> int:
        return len(self.folders["train"])

    def train_batches(self, epoch: int) -> Iterator[Batch]:
        generator = epoch_generator(self.seed, epoch)
        n = self.train_size()
        order = torch.randperm(n, generator=generator).tolist()
        seeds = torch.randint(2**62, (n,), generator=generator).tolist()
        # This rank's share of each global batch (all of it in a single process): it loads only those.
        pairs, size, mine = list(zip(order, seeds)), self.batch_size, self.share()
        shares = [p for k in range(self.steps_per_epoch()) for p in pairs[k * size : (k + 1) * size][mine]]
        loader = DataLoader(
            MultiViewDataset(self.folders["train"], self.train_transforms),
            batch_size=size // self.world_size,
            sampler=shares,
            drop_last=True,
            num_workers=self.num_workers,
            pin_memory=self.pin,
            generator=generator,  # worker base seeds come from here, not from the global RNG
        )
        b = size // self.world_size
        for k, views in enumerate(loader):
            indices = torch.tensor([index for index, _ in shares[k * b : (k + 1) * b]], device=self.device)
            yield Batch([v.to(self.device, non_blocking=True) for v in views], indices)

    def eval_batches(self, split: str) -> Iterator[tuple[Tensor, Tensor]]:
        if split not in self.folders:
            raise ValueError(f"split must be 'train' or 'test', not {split!r}")
        loader = DataLoader(
            EvalDataset(self.folders[split], self.eval_view),
            batch_size=EVAL_BATCH,
            num_workers=self.num_workers,
            pin_memory=self.pin,
            generator=torch.Generator().manual_seed(0),  # worker seeds: not from the global RNG
        )
        for images, labels in loader:
            yield images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)

    def train_labels(self) -> Tensor:
        folder = self.folders["train"]
        if hasattr(folder, "targets"):  # ImageFolder's: no image decoded
            return torch.as_tensor(folder.targets)
        return torch.cat([labels.cpu() for _, labels in self.eval_batches("train")])

    def labeled_batches(self, indices: Tensor, batch_size: int,
                        generator: torch.Generator) -> Iterator[tuple[Tensor, Tensor]]:
        order = indices.cpu()[torch.randperm(len(indices), generator=generator)].tolist()
        seeds = torch.randint(2**62, (len(order),), generator=generator).tolist()
        loader = DataLoader(
            LabeledViewDataset(self.folders["train"], self.labeled_transform),
            batch_size=batch_size,
            sampler=list(zip(order, seeds)),
            drop_last=True,
            num_workers=self.num_workers,
            pin_memory=self.pin,
            generator=generator,
        )
        for images, labels in loader:
            yield images.to(self.device, non_blocking=True), labels.to(self.device, non_blocking=True)


def loader_workers(setting: int | str) -> int:
    """runtime.num_workers as given, or for "auto" one worker per CPU this process may use (its
    affinity; in a SLURM job, also its --cpus-per-task), at most 8, less one for the main process:
    8 workers on a 2-core machine only make torch warn and the cores thrash."""
    if setting != "auto":
        return int(setting)
    return max(0, min(8, usable_cpus()) - 1)


def image_folder(path: Path) -> ImageFolder:
    """One split's tree (<data_root>/train or /val), its files listed, none decoded."""
    if not path.is_dir():
        raise FileNotFoundError(
            f"{path} does not exist: runtime.data_root (--data-root) must hold train/ and val/ class folders"
        )
    return ImageFolder(str(path))
