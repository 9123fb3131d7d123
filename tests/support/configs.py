"""RunConfigs and inputs for the unit tests: one way to build a config (a named base with some sections
overridden), and the few bases the tests share."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image

from harness.config import RunConfig
from harness.methods.factory import build_method
from harness.optim import build_optimizer, peak_lr, set_lr

CPU = torch.device("cpu")

# A method's networks at their smallest: 8 px one-channel images, a 4-channel CNN, 16-d heads.
SMALL_NETWORKS = {
    "backbone": {"name": "small_cnn", "width": 4},
    "projector": {"layers": 2, "hidden_dim": 16, "out_dim": 16},
    "predictor": {"hidden_dim": 4},
    "data": {"dataset": "digits", "image_size": 8},
    "optim": {"batch_size": 8},
}
# The digits pipeline as `tiny` reads it: 16 px, no flip, no blur, batches of 128.
DIGITS = {
    "data": {"dataset": "digits", "image_size": 16, "augment": {"flip": False, "blur_p": (0.0, 0.0)}},
    "optim": {"batch_size": 128},
}


def config_over(base: dict, **sections) -> RunConfig:
    """`base` with each given section's keys replaced (a section given as a dict updates the base's,
    any other value replaces it: seed=3)."""
    merged = dict(base)
    for name, values in sections.items():
        merged[name] = {**merged.get(name, {}), **values} if isinstance(values, dict) else values
    return RunConfig.model_validate(merged)


def config(**sections) -> RunConfig:
    """A method's config at its smallest (SMALL_NETWORKS), e.g. config(method={"name": "byol"})."""
    return config_over(SMALL_NETWORKS, **sections)


def digits_config(**sections) -> RunConfig:
    """The digits pipeline's config (DIGITS)."""
    return config_over(DIGITS, **sections)


def dataset_config(dataset="cifar10", root=None, batch_size=4, download=False, device="cpu") -> RunConfig:
    """A dataset's config as the preflight reads it: the dataset, its folder, the batch, the device."""
    return config_over({}, data={"dataset": dataset}, optim={"batch_size": batch_size},
                       runtime={"data_root": None if root is None else str(root), "download": download,
                                "device": device})


def folder_config(root, workers=0) -> RunConfig:
    """An ImageFolder tree at `root` (write_tree's), 24 px, batches of 4."""
    return digits_config(data={"dataset": "imagefolder", "image_size": 24}, optim={"batch_size": 4},
                         runtime={"data_root": str(root), "num_workers": workers})


def views(n=2, batch=8):
    g = torch.Generator().manual_seed(0)
    return [torch.randn(batch, 1, 8, 8, generator=g) for _ in range(n)]


def train_steps(m, n=1, total_steps=100):
    """n optimizer steps of method m on fresh random views, with its per-step update after each."""
    opt = build_optimizer(m, m.config.optim)
    for k in range(n):
        opt.zero_grad()
        m(views()).loss.backward()
        opt.step()
        m.after_step(k, total_steps)
    return opt


def groups(cfg: RunConfig, lr=0.001):
    """The optimizer of cfg's method with the schedule at `lr`, and each parameter group's lr by name."""
    opt = build_optimizer(build_method(cfg, 1), cfg.optim)
    set_lr(opt, lr, peak_lr(cfg.optim))
    return opt, {g["name"]: g["lr"] for g in opt.param_groups}


def write_tree(root, per_class=(("train", 4), ("val", 2)), classes=("ant", "bee", "cat")):
    """An ImageFolder tree of small random RGB images of several sizes."""
    rng = np.random.default_rng(0)
    for split, n in per_class:
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for i in range(n):
                size = (40 + 4 * i, 30 + 2 * i)
                pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / c / f"{i}.png")


def image_tree(root: Path, train: dict[str, int], val: dict[str, int]) -> Path:
    """An ImageFolder tree of empty files: enough for the preflight, which counts them."""
    for split, classes in (("train", train), ("val", val)):
        for name, n in classes.items():
            (root / split / name).mkdir(parents=True)
            for i in range(n):
                (root / split / name / f"{i}.JPEG").write_bytes(b"")
    return root
