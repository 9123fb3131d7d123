"""The user's own dataset (harness/data/plugin.py): a function named module:function in the study,
from a module beside the study file, trains a run and feeds its kNN and probe; bad ones are refused
by the preflight in one line."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from harness import columns, store
from harness.cli import main
from harness.data import plugin
from harness.data.datasets import dataset
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
    # The probe is the evaluation stage after the pretraining.
    stage = store.read_json(directory / store.STAGES / planned.evaluation.stage_id / store.SUMMARY)
    assert stage["metrics"][columns.LINEAR] > 0.9


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


# ---- every item the check reads, not the first alone (issue 28) ----------------------------------------

ITEMS = """\
import torch
from PIL import Image
from torch.utils.data import Dataset


class Items(Dataset):
    # n items made from their index by `item`; the attributes a dataset may have (classes, targets).
    def __init__(self, n, item, **attributes):
        self.n, self.item = n, item
        self.__dict__.update(attributes)

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        if not 0 <= i < self.n:
            raise IndexError(i)
        return self.item(i)


def image(i):  # a 3-channel uint8 [C,H,W] tensor, dark for class 0, light for class 1
    return torch.full((3, 16, 16), 40 + 160 * (i % 2), dtype=torch.uint8)


def picture(i, gray):  # a PIL image, grayscale (mode L) or RGB
    return Image.new("L" if gray else "RGB", (16, 16), 40 + 160 * (i % 2) if gray else (40 + 160 * (i % 2), 0, 9))


def string_label_later(split, root):
    return Items(64, lambda i: (image(i), "cat" if i == 40 else i % 2))


def unlabeled_later(split, root):  # as STL-10's train+unlabeled: its unlabeled images have the label -1
    return Items(64, lambda i: (image(i), -1 if i >= 32 else i % 2))


def stl10_sized(split, root):  # 5,000 labeled images, then 100,000 unlabeled: beyond the first 256 items
    return Items(105_000, lambda i: (image(i), -1 if i >= 5_000 else i % 2))


def beyond_classes(split, root):
    return Items(64, lambda i: (image(i), 2 if i == 63 else i % 2), classes=["dark", "light"])


def negative_target(split, root):
    return Items(64, lambda i: (image(i), i % 2), targets=[-1 if i == 5 else i % 2 for i in range(64)])


def float_labels(split, root):
    return Items(64, lambda i: (image(i), float(i % 2)))


def hwc(split, root):
    return Items(64, lambda i: (image(i).permute(1, 2, 0), i % 2))


def int64_images(split, root):
    return Items(64, lambda i: (image(i).long(), i % 2))


def float_0_255(split, root):
    return Items(64, lambda i: (image(i).float(), i % 2))


def four_channels(split, root):
    return Items(64, lambda i: (torch.cat([image(i), image(i)[:1]]), i % 2))


def dict_items(split, root):  # as a Hugging Face dataset gives them
    return Items(64, lambda i: {"image": image(i), "label": i % 2})


def later_item_raises(split, root):
    return Items(64, lambda i: (image(i), i % 2) if i != 50 else {}["missing"])


def gray_first(split, root):
    return Items(64, lambda i: (picture(i, gray=i < 32), i % 2))


def rgb_first(split, root):
    return Items(64, lambda i: (picture(i, gray=i >= 32), i % 2))


def all_gray(split, root):
    return Items(64, lambda i: (picture(i, gray=True), i % 2))


def gray_with_rgb_mean(split, root):
    return Items(64, lambda i: (picture(i, gray=True), i % 2), mean=(0.5, 0.5, 0.5), std=(0.2, 0.2, 0.2))


def tensor_labels_and_gray_tensors(split, root):
    return Items(64, lambda i: (image(i)[:1], torch.tensor(i % 2)))
"""


def write_items(tmp_path, function):
    (tmp_path / "user_items.py").write_text(ITEMS)
    path = tmp_path / "own_data.yaml"
    path.write_text(STUDY.format(function=f"user_items:{function}"))
    return path


@pytest.mark.parametrize(("function", "says"), [
    ("string_label_later", "its train split's item 40 has the label 'cat' (str), not a class index (an int)"),
    ("unlabeled_later", "its train split's item 32 has the label -1, not a class index >= 0"),
    ("stl10_sized", "its train split's item 5353 has the label -1, not a class index >= 0"),
    ("beyond_classes", "its train split's item 63 has the label 2, not a class index [0, 2) (its 2 classes)"),
    ("negative_target", "its train split's targets[5] has the label -1, not a class index >= 0"),
    ("float_labels", "its train split's item 0 has the label 0.0 (float), not a class index (an int)"),
    ("hwc", "its train split's item 0 has an image of shape (16, 16, 3), not [C,H,W] with 1 or 3 channels "
            "(an [H,W,C] image: give image.permute(2, 0, 1))"),
    ("int64_images", "its train split's item 0 has a torch.int64 image, not uint8 (0..255) or float (0..1)"),
    ("float_0_255", "its train split's item 0 has a float image with values in [40, 40], not in 0..1 (uint8 for "
                    "0..255; the harness normalizes)"),
    ("four_channels", "its train split's item 0 has an image of shape (4, 16, 16), not [C,H,W] with 1 or 3 channels"),
    ("dict_items", "its train split's item 0 is of type dict, not an (image, label) pair"),
    ("later_item_raises", "its train split's item 50 raised KeyError: 'missing'"),
    ("gray_with_rgb_mean", "its mean has 3 values, for 1-channel images"),
])
def test_a_bad_item_after_the_first_is_refused_before_launch(tmp_path, capsys, function, says):
    # Issue 28: only the first item was checked; each of these passed the preflight, then every run
    # failed (invalid literal for int(), index -1 is out of bounds, permitted channel values are 1 or 3).
    line = refused(capsys, ["run", str(write_items(tmp_path, function)), *fast_overrides()], tmp_path)
    assert line == f"harness: error: data.dataset='user_items:{function}': {says}"


def test_the_check_reads_a_split_whole_or_an_even_sample():
    assert plugin.sample(plugin.SAMPLE) == list(range(plugin.SAMPLE))
    picked = plugin.sample(105_000)
    assert len(picked) == plugin.SAMPLE and picked[0] == 0 and picked[-1] == 104_999
    assert max(b - a for a, b in zip(picked, picked[1:])) <= 105_000 // (plugin.SAMPLE - 1) + 1


def pipeline(tmp_path, function):
    """The pipeline training reads from user_items:function (built as a run builds it)."""
    write_items(tmp_path, function)
    config = load_study(tmp_path / "own_data.yaml", overrides=parse_set(FAST)).runs[0].config
    assert dataset(config.data.dataset).check(config, config.optim.batch_size) == build(config).channels
    return build(config)


def build(config):
    return dataset(config.data.dataset).build(config, 2, torch.device("cpu"))


@pytest.mark.parametrize("function", ["gray_first", "rgb_first"])
def test_grayscale_and_rgb_images_are_made_rgb_in_either_order(tmp_path, function):
    # Issue 28: grayscale first failed every run ("stack expects each tensor to be equal size,
    # [1,16,16] ... [3,16,16]"); RGB first trained. Either order now reads 3-channel images.
    data = pipeline(tmp_path, function)
    assert data.channels == 3
    views = next(iter(data.train_batches(0)))
    assert [tuple(v.shape) for v in views] == [(32, 3, 16, 16)] * 2
    images, labels = next(iter(data.eval_batches("train")))
    assert images.shape == (64, 3, 16, 16) and labels.tolist() == [i % 2 for i in range(64)]


def test_grayscale_images_alone_stay_one_channel(tmp_path):
    data = pipeline(tmp_path, "all_gray")
    assert data.channels == 1 and next(iter(data.eval_batches("test")))[0].shape == (64, 1, 16, 16)
    data = pipeline(tmp_path, "tensor_labels_and_gray_tensors")  # 0-dim tensor labels read as ints
    assert data.channels == 1 and next(iter(data.eval_batches("test")))[1].tolist() == [i % 2 for i in range(64)]


def test_an_item_the_check_did_not_read_is_refused_as_training_reads_it():
    items = [(torch.zeros(1, 4, 4, dtype=torch.uint8), 0)] * 3 + [(Image.new("RGB", (4, 4)), -1)]
    split = plugin.UserSplit(items, "data.dataset='m:f': its train split", channels=1, classes=None)
    image, label = split[0]
    assert image is items[0][0] and label == 0  # as the user gave it
    with pytest.raises(ValueError, match=r"^data.dataset='m:f': its train split's item 3 has the label -1, not a "
                                         r"class index >= 0$"):
        split[3]
    assert split[1][1] == 0 and type(split[1][1]) is int
    assert plugin.UserSplit([(items[0][0], np.int64(1)), (items[0][0], torch.tensor([1]))], "", 1, 2)[1][1] == 1
    assert plugin.converted(Image.new("RGB", (4, 4)), 1).mode == "L"  # converted to the dataset's count
    assert plugin.converted(torch.zeros(1, 4, 4), 3).shape == (3, 4, 4)
    assert plugin.converted(torch.zeros(3, 4, 4, dtype=torch.uint8), 1).shape == (1, 4, 4)


@pytest.mark.slow
def test_grayscale_first_trains_a_run(tmp_path):
    assert main(["run", str(write_items(tmp_path, "gray_first")), "--results", str(tmp_path / "results"),
                 "--reports", str(tmp_path / "reports"), "--quiet", *fast_overrides(), "--set", "optim.epochs=1"]) == 0
