"""Each dataset as one object, found by name (`dataset`): what the preflight asks of it before a run
is trained or submitted (`check`: the data is there, its training split holds a batch, and the
channel count of its images, which the preflight builds each backbone for) and the pipeline training
reads (`build`). Each rule is written here once, for the preflight and the build alike: a data root is
given, the training split holds a batch, ImageFolder's splits have the same classes, a user's items
are what training can read (plugin.py).

    digits                 scikit-learn's, built in (digits.py), in memory
    cifar10, cifar100      CIFAR's python batch files under --data-root (cifar.py), in memory
    imagefolder            <data_root>/train/<class>/*, <data_root>/val/<class>/* (imagefolder.py)
    module.path:function   the user's own (plugin.py), read an image at a time as an ImageFolder

config.py checks the name (BUILT_IN_DATASETS, PLUGIN_NAME) while planning, which imports no torch:
neither does this module, for the preflight; a dataset imports its loader when it checks or builds.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from harness.config import RunConfig

if TYPE_CHECKING:
    import torch

    from harness.data.pipeline import DataPipeline, Splits


@dataclass(frozen=True)
class Dataset:
    """A dataset by its data.dataset name (not a torch Dataset: it builds the pipeline that reads one)."""

    name: str
    channels = 3  # of the images a run is fed (the preflight builds each backbone for it)

    def check(self, config: RunConfig, batch_size: int) -> int:
        """What the preflight can know before `config`'s runs are launched, `batch_size` the largest
        of them: ValueError in one line if they cannot train on it. What only reading every image
        shows (a corrupt file) is left to the build. Returns the images' channel count."""
        return self.channels

    def download_into(self, config: RunConfig) -> Path | None:
        """The folder the build downloads into, if it will (the preflight checks it can be written)."""
        return None

    def build(self, config: RunConfig, n_views: int, device: torch.device) -> DataPipeline:
        """The pipeline training reads: n_views views per training batch, on `device`."""
        splits = self.splits(config)
        self.check_batch(config, len(splits.train), config.optim.batch_size)
        return self.pipeline(config, splits, n_views, device)

    def splits(self, config: RunConfig) -> Splits:
        """The train and test splits, and what normalizes their images."""
        raise NotImplementedError

    def pipeline(self, config: RunConfig, splits: Splits, n_views: int, device: torch.device) -> DataPipeline:
        raise NotImplementedError

    def check_batch(self, config: RunConfig, train_images: int, batch_size: int) -> None:
        """Every epoch drops its last partial batch: a training split smaller than a batch has none."""
        if train_images < batch_size:
            raise ValueError(f"{self.train_split(config)} holds {train_images} images, fewer than "
                             f"optim.batch_size={batch_size}: an epoch would have no batch")

    def train_split(self, config: RunConfig) -> str:
        """The training split, as a message names it."""
        return f"data.dataset={self.name!r}: its train split"

    def data_root(self, config: RunConfig) -> Path:
        root = config.runtime.data_root
        if root is None:
            raise ValueError(f"dataset {self.name} needs a data folder: pass --data-root (runtime.data_root)")
        return Path(root)


class InMemory(Dataset):
    """Small enough to live on the device, augmented a whole batch at a time (InMemoryPipeline)."""

    def pipeline(self, config: RunConfig, splits: Splits, n_views: int, device: torch.device) -> DataPipeline:
        from harness.data.augment import BatchAugment
        from harness.data.pipeline import InMemoryPipeline

        data = config.data
        augment = BatchAugment(data.augment, data.image_size, splits.channels, splits.mean, splits.std)
        return InMemoryPipeline(splits.train, splits.test, splits.num_classes, augment, config.optim.batch_size,
                                n_views, config.seed, device)


class PerImage(Dataset):
    """Too big for memory, or the user's: decoded and augmented an image at a time (PerImagePipeline)."""

    def pipeline(self, config: RunConfig, splits: Splits, n_views: int, device: torch.device) -> DataPipeline:
        from harness.data.imagefolder import PerImagePipeline

        return PerImagePipeline(config, n_views, device, splits)


class Digits(InMemory):
    """Built in: nothing to check."""

    channels = 1

    def splits(self, config: RunConfig) -> Splits:
        from harness.data.digits import NUM_CLASSES, channel_stats, load_digits
        from harness.data.pipeline import Splits

        train, test = load_digits(config.data.image_size)
        # Normalized with the training split's own statistics (fixed: the split is fixed).
        return Splits(train, test, NUM_CLASSES, train.images.shape[1], *channel_stats(train.images))


class Cifar(InMemory):
    def check(self, config: RunConfig, batch_size: int) -> int:
        missing = self.missing(config)
        if missing and not config.runtime.download:
            raise ValueError(
                f"no {self.name} at --data-root {self.data_root(config)}: {missing[0]} is missing ({len(missing)} "
                f"of its files are); the data root must hold {missing[0].parent.name}/ in CIFAR's python format, "
                "or pass --download"
            )
        return self.channels

    def download_into(self, config: RunConfig) -> Path | None:
        return self.data_root(config) if config.runtime.download and self.missing(config) else None

    def missing(self, config: RunConfig) -> list[Path]:
        from harness.data.cifar import split_files

        return [p for paths in split_files(self.name, self.data_root(config)).values() for p in paths if not p.is_file()]

    def splits(self, config: RunConfig) -> Splits:
        from harness.data.cifar import NUM_CLASSES, STATS, load_cifar
        from harness.data.pipeline import Splits

        train, test = load_cifar(self.name, self.data_root(config), config.data.image_size, config.runtime.download)
        return Splits(train, test, NUM_CLASSES[self.name], train.images.shape[1], *STATS[self.name])


class ImageFolder(PerImage):
    def check(self, config: RunConfig, batch_size: int) -> int:
        from torchvision.datasets.folder import IMG_EXTENSIONS

        root = self.data_root(config)
        classes = {}
        for split in ("train", "val"):
            folder = root / split
            if not folder.is_dir():
                raise ValueError(f"no image folder at --data-root {root}: {folder} is not a folder "
                                 "(the data root must hold train/ and val/, each with a folder per class)")
            classes[split] = sorted(e.name for e in os.scandir(folder) if e.is_dir())  # as ImageFolder finds them
            if not classes[split]:
                raise ValueError(f"{folder} has no class folders (ImageFolder: one folder of images per class)")
        self.check_classes(root, classes["train"], classes["val"])
        images = 0
        for split in ("train", "val"):
            for name in classes[split]:
                # ImageFolder needs an image in every class folder; the training split a batch's worth.
                wanted = max(1, batch_size - images) if split == "train" else 1
                found = _count_images(root / split / name, IMG_EXTENSIONS, wanted)
                if not found:
                    raise ValueError(f"{root / split / name}: no image ({', '.join(IMG_EXTENSIONS)}): "
                                     "ImageFolder needs one in every class folder")
                images += found if split == "train" else 0
        self.check_batch(config, images, batch_size)
        return self.channels  # ImageFolder's loader makes every image RGB

    def check_classes(self, root: Path, train: list[str], val: list[str]) -> None:
        if train != val:
            only = sorted(set(train) ^ set(val))
            raise ValueError(f"{root}/train and {root}/val have different class folders (in one only: "
                             f"{', '.join(only[:3])}{', ...' if len(only) > 3 else ''})")

    def train_split(self, config: RunConfig) -> str:
        return f"{self.data_root(config)}/train"

    def splits(self, config: RunConfig) -> Splits:
        from harness.data.imagefolder import IMAGENET_MEAN, IMAGENET_STD, image_folder
        from harness.data.pipeline import Splits

        root = self.data_root(config)
        train, test = image_folder(root / "train"), image_folder(root / "val")
        self.check_classes(root, train.classes, test.classes)
        return Splits(train, test, len(train.classes), self.channels, IMAGENET_MEAN, IMAGENET_STD)


class Plugin(PerImage):
    """The user's own: data.dataset names a function (split, root) -> Dataset. Its items are checked
    as plugin.py says (every item of a split of at most plugin.SAMPLE, else that many evenly spaced),
    and they tell the channel count."""

    def check(self, config: RunConfig, batch_size: int) -> int:
        from harness.data.plugin import check_items, load_splits, normalization

        splits = load_splits(config)
        channels = check_items(self.name, splits)
        normalization(self.name, splits["train"], channels)
        self.check_batch(config, len(splits["train"]), batch_size)
        return channels

    def splits(self, config: RunConfig) -> Splits:
        from harness.data.plugin import plugin_splits

        return plugin_splits(config)


BUILT_IN = {"digits": Digits("digits"), "cifar10": Cifar("cifar10"), "cifar100": Cifar("cifar100"),
            "imagefolder": ImageFolder("imagefolder")}  # the names of config.BUILT_IN_DATASETS


def dataset(name: str) -> Dataset:
    """The dataset data.dataset names: a built-in one, else the user's module.path:function."""
    return BUILT_IN.get(name) or Plugin(name)


def build_data(config: RunConfig, n_views: int, device: torch.device) -> DataPipeline:
    """The pipeline for config.data.dataset, yielding n_views views per training batch on `device`."""
    return dataset(config.data.dataset).build(config, n_views, device)


def _count_images(folder: Path, extensions: tuple[str, ...], stop: int) -> int:
    """The images under `folder`, counted up to `stop` (ImageNet's 1.28M files are never all listed)."""
    count = 0
    for _, _, files in os.walk(folder, followlinks=True):
        count += sum(f.lower().endswith(extensions) for f in files)
        if count >= stop:
            break
    return count
