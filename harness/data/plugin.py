"""The user's own dataset. A study names a function, `data.dataset: mypkg.data:load` (the study's
folder is on the import path, harness/plugins.py), and the harness calls it once per split:

    load(split, root) -> torch.utils.data.Dataset

with split "train" or "test" and root the --data-root (runtime.data_root: a Path, or None). Its items
are (image, label): a PIL image or a [C,H,W] tensor (uint8, or float in 0..1) of 1 or 3 channels, and
an integral label (an int, a NumPy or one-element tensor integer) in [0, classes). The train split
trains the run; both feed the kNN monitor and the linear probe, through the per-image pipeline an
ImageFolder uses (imagefolder.py: DataLoader workers, torchvision transforms v2).

What the harness reads besides the items, where the dataset has it: `classes` (else its `targets`,
or every item's label, are counted once: 0..max) and `mean`, `std` per channel in 0..1 units (else ImageNet's for 3 channels, 0.5
and 0.25 for one).

The items are checked before a run is launched (the preflight) and as training reads them, by the
same rules (`problem`): every item of a split of at most SAMPLE items, else SAMPLE items evenly
spaced from the first to the last, and every label of `targets`. The images take one channel count
whatever their order: one channel when every image checked is grayscale (PIL's modes 1, L, I, F, or
a 1-channel tensor), else 3, and every image is converted to it as it is read (PIL's convert("L") or
convert("RGB"), as torchvision's ImageFolder makes every image RGB; a tensor's channel repeated, or
its RGB made gray).
"""

from __future__ import annotations

import operator
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset
from torchvision.transforms.v2 import functional as F

from harness import plugins
from harness.config import BUILT_IN_DATASETS, RunConfig
from harness.data.imagefolder import IMAGENET_MEAN, IMAGENET_STD
from harness.data.pipeline import Splits

SPLITS = ("train", "test")
SAMPLE = 256  # items of each split the check reads (all of a split this small or smaller)
GRAY_BANDS = {("1",), ("L",), ("I",), ("F",)}  # PIL's one-channel modes; "P" holds colors by index
MODES = {1: "L", 3: "RGB"}  # the PIL mode of each channel count


def plugin_splits(config: RunConfig) -> Splits:
    """The named function's train and test splits, read through UserSplit (each item checked, its
    image in the dataset's channel count), with what normalizes them."""
    splits = load_splits(config)
    channels = check_items(config.data.dataset, splits)
    mean, std = normalization(config.data.dataset, splits["train"], channels)
    classes = _classes(splits["train"])
    read = {split: UserSplit(dataset, _where(config.data.dataset, split), channels, classes)
            for split, dataset in splits.items()}
    count = classes if classes is not None else _count_classes(read.values())
    return Splits(read["train"], read["test"], count, channels, mean, std)


def load_splits(config: RunConfig) -> dict[str, Dataset]:
    """{split: Dataset} from the named function; ValueError in one line naming the key if it cannot be
    imported or does not give map-style datasets."""
    name = config.data.dataset
    try:
        load = plugins.load(name, "harness.datasets", "dataset", BUILT_IN_DATASETS)
    except ValueError as err:
        raise ValueError(f"data.dataset={name!r}: {err}") from None
    if not callable(load):
        raise ValueError(f"data.dataset={name!r} is not a function (split, root) -> Dataset")
    root = Path(config.runtime.data_root) if config.runtime.data_root else None
    try:
        splits = {split: load(split, root) for split in SPLITS}
    except (Exception, SystemExit) as err:  # noqa: BLE001 - the user's function: say which, and what
        raise ValueError(f"data.dataset={name!r} {plugins.raised(err)}") from None
    for split, dataset in splits.items():
        if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
            raise ValueError(f"{_where(name, split)} is a {type(dataset).__name__}, not a Dataset with a "
                             "length (a map-style torch Dataset)")
        try:
            empty = len(dataset) == 0
        except (Exception, SystemExit) as err:  # noqa: BLE001 - the user's __len__
            raise ValueError(f"{_where(name, split)}'s len() {plugins.raised(err)}") from None
        if empty:
            raise ValueError(f"{_where(name, split)} is empty")
    return splits


def check_items(name: str, splits: dict[str, Dataset]) -> int:
    """The channel count the images take (module docstring), after checking the items of each split
    that the check reads and every label of `targets`; ValueError in one line naming the first wrong one."""
    classes = _classes(splits["train"])
    gray, modes = True, set()
    for split, dataset in splits.items():
        where = _where(name, split)
        for index, label in enumerate(_listed(getattr(dataset, "targets", ()))):
            why = label_problem(label, classes)
            if why:
                raise ValueError(f"{where}'s targets[{index}] {why}")
        for index in sample(len(dataset)):
            try:
                item = dataset[index]
            except (Exception, SystemExit) as err:  # noqa: BLE001 - the user's dataset: say which item, and what
                raise ValueError(f"{where}'s item {index} {plugins.raised(err)}") from None
            why = problem(item, classes)
            if why:
                raise ValueError(f"{where}'s item {index} {why}")
            image = item[0]
            gray &= _channels(image) == 1
            if isinstance(image, Image.Image):
                modes.add(image.mode)
    channels = 1 if gray else 3
    for mode in sorted(modes):  # what a mode converts to depends on the mode alone
        try:
            Image.new(mode, (1, 1)).convert(MODES[channels])
        except (ValueError, OSError) as err:
            raise ValueError(f"data.dataset={name!r}: its {mode} images cannot be made {MODES[channels]} "
                             f"for the {channels}-channel images of the dataset ({err})") from None
    return channels


def sample(n: int) -> list[int]:
    """The items of a split of n that the check reads: all of them, or SAMPLE evenly spaced."""
    if n <= SAMPLE:
        return list(range(n))
    return sorted({round(k * (n - 1) / (SAMPLE - 1)) for k in range(SAMPLE)})


def problem(item, classes: int | None) -> str | None:
    """What is wrong with one item, (image, label), as a message continues "its train split's item 7 ...";
    None if it can be trained on."""
    if not (isinstance(item, (tuple, list)) and len(item) == 2):
        return f"is of type {type(item).__name__}, not an (image, label) pair"
    image, label = item
    if isinstance(image, torch.Tensor):
        shape = tuple(image.shape)
        if image.ndim != 3:
            return f"has an image of shape {shape}, not [C,H,W]"
        if shape[0] not in (1, 3):
            layout = " (an [H,W,C] image: give image.permute(2, 0, 1))" if shape[-1] in (1, 3) else ""
            return f"has an image of shape {shape}, not [C,H,W] with 1 or 3 channels{layout}"
        if not (image.dtype == torch.uint8 or image.dtype.is_floating_point):
            return f"has a {image.dtype} image, not uint8 (0..255) or float (0..1)"
        if image.numel() == 0:
            return f"has an empty image, of shape {shape}"
        if image.dtype.is_floating_point:  # color jitter clamps to 0..1, and the pipeline normalizes
            low, high = image.aminmax()
            if low < 0 or high > 1:
                return (f"has a float image with values in [{float(low):g}, {float(high):g}], not in 0..1 "
                        "(uint8 for 0..255; the harness normalizes)")
    elif not isinstance(image, Image.Image):
        return f"has an image of type {type(image).__name__}, not a PIL image or a [C,H,W] tensor"
    return label_problem(label, classes)


def label_problem(label, classes: int | None) -> str | None:
    """An integral label in [0, classes) (classes None: any >= 0, the count follows from the labels)."""
    if isinstance(label, bool):
        return f"has the label {label!r}, not a class index (an int)"
    try:
        index = operator.index(label)
    except TypeError:
        return f"has the label {label!r} ({type(label).__name__}), not a class index (an int)"
    if index < 0 or classes is not None and index >= classes:
        bound = f"[0, {classes}) (its {classes} classes)" if classes is not None else ">= 0"
        return f"has the label {index}, not a class index {bound}"
    return None


def normalization(name: str, train: Dataset, channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """The dataset's `mean` and `std`, a number per channel (std above 0), else ImageNet's for RGB
    and 0.5, 0.25 for gray."""
    defaults = {"mean": IMAGENET_MEAN if channels == 3 else (0.5,), "std": IMAGENET_STD if channels == 3 else (0.25,)}
    found = {}
    for key, default in defaults.items():
        values = getattr(train, key, default)
        try:
            found[key] = tuple(float(v) for v in values)
        except (TypeError, ValueError):
            raise ValueError(f"data.dataset={name!r}: its {key} {values!r} is not a number per channel") from None
        if len(found[key]) != channels:
            raise ValueError(f"data.dataset={name!r}: its {key} has {len(found[key])} values, for "
                             f"{channels}-channel images")
    if not all(s > 0 for s in found["std"]):
        raise ValueError(f"data.dataset={name!r}: its std {found['std']} has a value that is not above 0")
    return found["mean"], found["std"]


class UserSplit(Dataset):
    """A split of the user's dataset as training reads it: each item checked (`problem`; one a check
    did not read may still be wrong), its image in the dataset's channel count, its label an int."""

    def __init__(self, dataset: Dataset, where: str, channels: int, classes: int | None):
        self.dataset, self.where, self.channels, self.classes = dataset, where, channels, classes

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, index: int):
        item = self.dataset[index]
        why = problem(item, self.classes)
        if why:
            raise ValueError(f"{self.where}'s item {index} {why}")
        image, label = item
        return converted(image, self.channels), operator.index(label)

    @property
    def targets(self):  # the labels, where the dataset keeps them apart (read without decoding an image)
        return self.dataset.targets


def converted(image, channels: int):
    """The image in `channels` channels; itself if it has them."""
    if isinstance(image, Image.Image):
        return image if image.mode == MODES[channels] else image.convert(MODES[channels])
    if image.shape[0] == channels:
        return image
    return image.repeat(3, 1, 1) if channels == 3 else F.rgb_to_grayscale(image)


def _where(name: str, split: str) -> str:
    return f"data.dataset={name!r}: its {split} split"


def _listed(labels):
    """A tensor's or an array's labels as Python numbers (a million are checked in a blink)."""
    return labels.tolist() if hasattr(labels, "tolist") else labels


def _channels(image) -> int:
    if isinstance(image, Image.Image):
        return 1 if image.getbands() in GRAY_BANDS else 3
    return image.shape[0]


def _classes(train: Dataset) -> int | None:
    classes = getattr(train, "classes", None)
    return None if classes is None else len(classes)


def _count_classes(splits) -> int:
    splits = list(splits)
    if all(hasattr(d, "targets") for d in splits):  # torchvision's datasets keep their labels apart
        return 1 + max(operator.index(label) for d in splits for label in d.targets)
    return 1 + max(d[i][1] for d in splits for i in range(len(d)))  # reads every item, once
