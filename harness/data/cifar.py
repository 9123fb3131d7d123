"""CIFAR-10 and CIFAR-100, loaded whole into memory as uint8 [N,3,S,S].

60k 32x32 images are 180 MB: they go through the same in-memory batched path as the digits.

torchvision's CIFAR classes are used for what they know (the archive's URL, its MD5 and the file
names in it), not to read the files: they check every batch file against the MD5 of the official
download and index the pickled dicts with str keys. That refuses files in CIFAR's own format that
did not come from that download, e.g. a copy written from Python 3 following CIFAR's page (whose
dicts have bytes keys, b"data", b"labels") or the tests' tiny ones. Here the files only have to
exist and unpickle; a download still verifies the official archive's MD5.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torchvision.datasets import CIFAR10, CIFAR100
from torchvision.datasets.utils import download_and_extract_archive

from harness.data.pipeline import LabeledImages

# Per-channel statistics of the training splits, the values the CIFAR literature normalizes with.
STATS = {
    "cifar10": ((0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)),
    "cifar100": ((0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)),
}
NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
SOURCES = {"cifar10": CIFAR10, "cifar100": CIFAR100}


def load_cifar(dataset: str, root: Path, size: int, download: bool) -> tuple[LabeledImages, LabeledImages]:
    """(train, test) of `dataset` ("cifar10" or "cifar100") under the data root, as size x size images;
    with `download`, the official archive is fetched there first unless every file is."""
    source = SOURCES[dataset]
    files = split_files(dataset, root)
    if download and not all(p.is_file() for p in files["train"] + files["test"]):
        download_and_extract_archive(source.url, str(root), filename=source.filename, md5=source.tgz_md5)
    train, test = (_read_split(files[split], root, source.base_folder) for split in ("train", "test"))
    if size != train.images.shape[-1]:
        train, test = (LabeledImages(_resize(s.images, size), s.labels) for s in (train, test))
    return train, test


def split_files(dataset: str, root: Path) -> dict[str, list[Path]]:
    """The batch files of each split under the data root (what the preflight looks for)."""
    source = SOURCES[dataset]
    folder = Path(root) / source.base_folder
    return {
        "train": [folder / name for name, _ in source.train_list],
        "test": [folder / name for name, _ in source.test_list],
    }


def _read_split(paths: list[Path], root: Path, base_folder: str) -> LabeledImages:
    data, labels = [], []
    for path in paths:
        try:
            entry = _unpickle(path)
        except Exception as error:  # missing, truncated or not a pickle: no usable dataset here
            raise FileNotFoundError(
                f"cannot read {path} ({error}): runtime.data_root={str(root)!r} (--data-root) must contain "
                f"{base_folder}/ in CIFAR's python format; set runtime.download to fetch it"
            ) from error
        data.append(entry["data"])
        labels.extend(entry["labels"] if "labels" in entry else entry["fine_labels"])  # CIFAR-100: fine
    # Each row is 3072 bytes: the 1024 red values of the 32x32 image, then green, then blue (CHW).
    images = torch.from_numpy(np.concatenate(data).astype(np.uint8, copy=False)).reshape(-1, 3, 32, 32)
    return LabeledImages(images, torch.tensor(labels, dtype=torch.long))


def _unpickle(path: Path) -> dict[str, Any]:
    with open(path, "rb") as f:
        # latin1: the official files are Python 2 pickles of numpy arrays.
        entry = pickle.load(f, encoding="latin1")
    # Their keys load as str; files pickled from Python 3 with bytes keys load as bytes.
    return {key.decode() if isinstance(key, bytes) else key: value for key, value in entry.items()}


def _resize(images: torch.Tensor, size: int, chunk: int = 4096) -> torch.Tensor:
    """Resizes uint8 images in chunks, so the float copy of 50k images is never whole in memory."""
    out = []
    for part in images.split(chunk):
        x = F.interpolate(part.float(), (size, size), mode="bilinear", align_corners=False, antialias=True)
        out.append(x.round().clamp(0, 255).to(torch.uint8))
    return torch.cat(out)
