"""harness.data.datasets: each dataset one object, found by name, that the preflight asks to check and
training asks to build; a rule both ask is written once, so they refuse a bad dataset with the same line.
(Each check's cases: test_preflight.py, test_dataset_plugin.py; the pipelines: test_data.py.)"""

import pytest
import torch

from harness import preflight
from harness.config import BUILT_IN_DATASETS, RunConfig
from harness.data import build_data
from harness.data.datasets import BUILT_IN, Cifar, Digits, ImageFolder, Plugin, dataset
from harness.preflight import PreflightError

from configs import dataset_config, image_tree

CPU = torch.device("cpu")


def test_every_name_finds_its_dataset():
    assert list(BUILT_IN) == list(BUILT_IN_DATASETS)  # the names config.py accepts, each with its object
    assert dataset("digits") == Digits("digits")
    assert dataset("cifar100") == Cifar("cifar100")
    assert dataset("imagefolder") == ImageFolder("imagefolder")
    assert dataset("mypkg.data:load") == Plugin("mypkg.data:load")  # any other name: the user's own


def refusals(cfg) -> tuple[str, str]:
    """What the preflight says of the config's dataset, and what building its pipeline says."""
    with pytest.raises(PreflightError) as checked:
        preflight.check_data([cfg])
    with pytest.raises(ValueError) as built:
        build_data(cfg, 2, CPU)
    return str(checked.value), str(built.value)


def test_preflight_and_build_refuse_with_the_same_line(tmp_path):
    checked, built = refusals(dataset_config("cifar10"))
    assert checked == built == "dataset cifar10 needs a data folder: pass --data-root (runtime.data_root)"
    small = image_tree(tmp_path / "small", {"a": 3, "b": 2}, {"a": 1, "b": 1})  # files listed, never decoded
    checked, built = refusals(dataset_config("imagefolder", small, batch_size=6))
    assert checked == built == f"{small}/train holds 5 images, fewer than optim.batch_size=6: an epoch would have no batch"
    apart = image_tree(tmp_path / "apart", {"a": 2, "c": 1}, {"a": 1})
    checked, built = refusals(dataset_config("imagefolder", apart))
    assert checked == built == f"{apart}/train and {apart}/val have different class folders (in one only: c)"


def test_a_training_split_smaller_than_a_batch_builds_no_pipeline():
    def digits(batch_size):
        return RunConfig.model_validate({"data": {"dataset": "digits", "image_size": 8},
                                         "optim": {"batch_size": batch_size}})

    with pytest.raises(ValueError, match="'digits': its train split holds 1347 images, fewer than optim.batch_size=1348"):
        build_data(digits(1348), 2, CPU)
    assert build_data(digits(1347), 2, CPU).steps_per_epoch() == 1
    assert build_data(digits(600), 2, CPU).steps_per_epoch() == 2  # the last partial batch dropped
