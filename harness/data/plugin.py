"""The user's own dataset. A study names a function, `data.dataset: mypkg.data:load` (the study's
folder is on the import path, harness/plugins.py), and the harness calls it once per split:

    load(split, root) -> torch.utils.data.Dataset

with split "train" or "test" and root the --data-root (runtime.data_root: a Path, or None). Its items
are (image, label): a PIL image or a [C,H,W] tensor (uint8, or float in 0..1), and an int label. The
train split trains the run; both feed the kNN monitor and the linear probe, through the per-image
pipeline an ImageFolder uses (imagefolder.py: DataLoader workers, torchvision transforms v2).

What the harness reads besides the items, where the dataset has it: `classes` (else its `targets`,
or every item's label, are counted once: 0..max) and `mean`, `std` per channel in 0..1 units (else ImageNet's for 3 channels, 0.5
and 0.25 for any other count).
"""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset

from harness import plugins
from harness.config import BUILT_IN_DATASETS, RunConfig
from harness.data.imagefolder import IMAGENET_MEAN, IMAGENET_STD
from harness.data.pipeline import Splits

SPLITS = ("train", "test")


def plugin_splits(config: RunConfig) -> Splits:
    """The named function's train and test splits, with what normalizes them."""
    splits = load_splits(config)
    channels = _channels(splits["train"][0][0])
    mean = getattr(splits["train"], "mean", IMAGENET_MEAN if channels == 3 else (0.5,) * channels)
    std = getattr(splits["train"], "std", IMAGENET_STD if channels == 3 else (0.25,) * channels)
    return Splits(splits["train"], splits["test"], _num_classes(splits.values()), channels, tuple(mean), tuple(std))


def load_splits(config: RunConfig) -> dict[str, Dataset]:
    """{split: Dataset} from the named function; ValueError in one line naming the key if it cannot be
    imported or does not give datasets of (image, label) (preflight asks this before any launch)."""
    name = config.data.dataset
    try:
        load = plugins.load(name, "harness.datasets", "dataset", BUILT_IN_DATASETS)
    except ValueError as err:
        raise ValueError(f"data.dataset={name!r}: {err}") from None
    if not callable(load):
        raise ValueError(f"data.dataset={name!r} is not a function (split, root) -> Dataset")
    root = Path(config.runtime.data_root) if config.runtime.data_root else None
    splits = {split: load(split, root) for split in SPLITS}
    for split, dataset in splits.items():
        problem = _problem(dataset)
        if problem:
            raise ValueError(f"data.dataset={name!r}: its {split} split {problem}")
    return splits


def _problem(dataset) -> str | None:
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        return f"is a {type(dataset).__name__}, not a Dataset with a length (a map-style torch Dataset)"
    if len(dataset) == 0:
        return "is empty"
    item = dataset[0]
    if not (isinstance(item, (tuple, list)) and len(item) == 2):
        return f"gives {type(item).__name__} items, not (image, label) pairs"
    image, label = item
    if isinstance(image, torch.Tensor) and image.ndim != 3:
        return f"gives images of shape {tuple(image.shape)}, not [C,H,W]"
    if not isinstance(image, (torch.Tensor, Image.Image)):
        return f"gives {type(image).__name__} images, not PIL images or [C,H,W] tensors"
    if isinstance(label, bool) or not isinstance(label, (int, torch.Tensor)) or int(label) < 0:
        return f"gives the label {label!r}, not a class index (an int >= 0)"
    return None


def _channels(image) -> int:
    return len(image.getbands()) if isinstance(image, Image.Image) else image.shape[0]


def _num_classes(datasets) -> int:
    datasets = list(datasets)
    classes = getattr(datasets[0], "classes", None)
    if classes is not None:
        return len(classes)
    if all(hasattr(d, "targets") for d in datasets):  # torchvision's datasets keep their labels apart
        return 1 + max(int(label) for d in datasets for label in d.targets)
    return 1 + max(int(label) for d in datasets for _, label in d)  # reads every item, once
