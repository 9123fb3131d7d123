"""The user's own dataset (harness/data/plugin.py): a function named module:function in the study,
from a module beside the study file, trains a run and feeds its kNN and probe; bad ones are refused
by the preflight in one line."""

import pandas as pd
import pytest

from harness import columns, store
from harness.cli import main
from harness.plan import load_study
from harness.spec import parse_set

from commandline import refused
from conftest import FAST, fast_overrides

MODULE = """\
import torch
from torch.utils.data import Dataset


class Patches(Dataset):
    # Two classes of 3-channel 16 px images: dark and light noise. Uint8 [C,H,W] tensors, int labels.
    def __init__(self, split, n):
        g = torch.Generator().manual_seed(0 if split == "train" else 1)
        self.labels = torch.randint(0, 2, (n,), generator=g)
        noise = torch.randint(0, 128, (n, 3, 16, 16), generator=g)
        self.images = (noise + 127 * self.labels.view(-1, 1, 1, 1)).to(torch.uint8)

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        return self.images[i], int(self.labels[i])


def load(split, root):
    return Patches(split, 96 if split == "train" else 48)


def not_images(split, root):
    return [1, 2, 3]


def small(split, root):
    return Patches(split, 8)


def raises(split, root):
    raise OSError("no such bucket")
"""

STUDY = """\
name: own_data
title: "A study on the user's own dataset"
base: {{data.dataset: "{function}", data.image_size: 16, optim.batch_size: 32, runtime.num_workers: 0}}
variants:
  with_stop_gradient: {{}}
"""


def write(tmp_path, function="patches:load"):
    (tmp_path / "patches.py").write_text(MODULE)
    path = tmp_path / "own_data.yaml"
    path.write_text(STUDY.format(function=function))
    return path


def test_a_dataset_from_the_users_module_trains_a_run_with_its_knn_and_probe(tmp_path):
    study = write(tmp_path)
    argv = ["run", str(study), "--results", str(tmp_path / "results"), "--reports", str(tmp_path / "reports"),
            "--quiet", *fast_overrides()]
    assert main(argv) == 0
    planned = load_study(study, overrides=parse_set(FAST)).runs[0]
    directory = store.run_dir(tmp_path / "results", "own_data", planned.run_id)
    assert store.run_state(directory) == "done"
    curves = pd.read_parquet(directory / store.CURVES)
    # The two classes differ in brightness alone: kNN and the probe on the features tell them apart
    # (fractions; 0.5 is chance), so both saw the dataset's images and labels.
    knn = curves[columns.knn("k20")].dropna()
    assert len(knn) >= 2 and knn.iloc[-1] > 0.9
    assert curves[columns.LINEAR].dropna().iloc[-1] > 0.9


def test_the_same_dataset_gives_the_same_curves(tmp_path):
    study = write(tmp_path)
    runs = []
    for name in ("a", "b"):
        argv = ["run", str(study), "--results", str(tmp_path / name), "--reports", str(tmp_path / f"{name}r"),
                "--quiet", *fast_overrides(), "--set", "optim.epochs=2"]
        assert main(argv) == 0
        planned = load_study(study, overrides=parse_set([*FAST, "optim.epochs=2"])).runs[0]
        curves = pd.read_parquet(store.run_dir(tmp_path / name, "own_data", planned.run_id) / store.CURVES)
        runs.append(curves.drop(columns=[columns.EPOCH_SECONDS]))
    pd.testing.assert_frame_equal(*runs)


@pytest.mark.parametrize(("function", "says"), [
    ("nosuchmodule:load", "data.dataset='nosuchmodule:load': cannot import dataset module 'nosuchmodule'"),
    ("patches:nothing", "data.dataset='patches:nothing': dataset module 'patches' has no 'nothing'"),
    ("patches:not_images", "data.dataset='patches:not_images': its train split's item 0 is of type int, not an (image, label) pair"),
    ("patches:small", "data.dataset='patches:small': its train split holds 8 images, fewer than optim.batch_size=32"),
    ("patches:raises", "data.dataset='patches:raises' raised OSError: no such bucket"),
])
def test_a_dataset_that_cannot_give_its_splits_is_refused_before_launch(tmp_path, capsys, function, says):
    line = refused(capsys, ["run", str(write(tmp_path, function)), *fast_overrides()], tmp_path)
    assert says in line


def test_a_dataset_name_that_is_neither_built_in_nor_module_function_is_refused(tmp_path, capsys):
    line = refused(capsys, ["run", str(write(tmp_path, "cifar11"))], tmp_path)
    assert "data.dataset" in line and "unknown dataset (built in: digits, cifar10, cifar100, imagefolder" in line
