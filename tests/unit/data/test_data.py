"""harness.data: the digits, CIFAR in its own file format, ImageFolder trees, and the pipelines'
contract (shapes, fixed splits, batches that are a function of (seed, epoch) alone)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from harness.config import RunConfig
from harness.data import build_data
from harness.data.cifar import STATS
from harness.data.digits import load_digits
from harness.data.pipeline import EVAL_BATCH

from configs import CPU, digits_config, folder_config, write_tree


def equal_batches(a, b) -> bool:
    pairs = zip(a, b, strict=True)
    return all(torch.equal(x, y) for views_a, views_b in pairs for x, y in zip(views_a, views_b, strict=True))


# ---- digits ------------------------------------------------------------------------------------


def test_digits_splits():
    train, test = load_digits(16)
    assert (len(train), len(test)) == (1347, 450)
    assert train.images.shape == (1347, 1, 16, 16) and train.images.dtype == torch.uint8
    assert train.labels.dtype == torch.long
    assert int(train.images.max()) == 255
    for split in (train, test):
        assert torch.equal(split.labels.unique(), torch.arange(10))  # stratified: every class in both
    assert load_digits(8)[0].images.shape == (1347, 1, 8, 8)


def test_digits_pipeline_shapes():
    pipe = build_data(digits_config(), n_views=2, device=CPU)
    assert (pipe.num_classes, pipe.channels) == (10, 1)
    assert pipe.steps_per_epoch() == 1347 // 128
    batches = list(pipe.train_batches(0))
    assert len(batches) == pipe.steps_per_epoch()
    views = batches[0]
    assert len(views) == 2
    assert all(v.shape == (128, 1, 16, 16) and v.dtype == torch.float32 for v in views)
    assert not torch.equal(views[0], views[1])  # two independent augmentations
    test = list(pipe.eval_batches("test"))
    assert torch.cat([y for _, y in test]).shape == (450,)
    assert test[0][0].shape[1:] == (1, 16, 16)
    bank = list(pipe.eval_batches("train"))
    assert [len(y) for _, y in bank] == [EVAL_BATCH] * (1347 // EVAL_BATCH) + [1347 % EVAL_BATCH]


def test_split_fixed_across_seeds():
    a, b = (build_data(digits_config(seed=s), n_views=2, device=CPU) for s in (0, 1))
    for split in ("train", "test"):
        for (xa, ya), (xb, yb) in zip(a.eval_batches(split), b.eval_batches(split), strict=True):
            assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_train_batches_depend_on_seed_and_epoch_only():
    state = torch.get_rng_state()
    a = list(build_data(digits_config(), 2, CPU).train_batches(3))
    b = list(build_data(digits_config(), 2, CPU).train_batches(3))  # another pipeline, as a resumed run
    assert equal_batches(a, b)
    assert torch.equal(state, torch.get_rng_state())  # the global RNG is not used
    assert not equal_batches(a, list(build_data(digits_config(), 2, CPU).train_batches(4)))
    assert not equal_batches(a, list(build_data(digits_config(seed=1), 2, CPU).train_batches(3)))


def test_batch_size_larger_than_dataset():
    with pytest.raises(ValueError, match=r"'digits': its train split holds 1347 images, fewer than optim\.batch_size=2000"):
        build_data(digits_config(optim={"batch_size": 2000}), 2, CPU)


# ---- CIFAR in its own format -------------------------------------------------------------------


def write_pickle(path, obj):
    with open(path, "wb") as f:
        pickle.dump(obj, f)


def fake_images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 3072), dtype=np.uint8)


def write_cifar10(root, per_batch=4, n_test=6):
    folder = root / "cifar-10-batches-py"
    folder.mkdir()
    written = {"train": [], "test": None}
    for i in range(1, 6):
        data = fake_images(per_batch, i)
        labels = [(i + j) % 10 for j in range(per_batch)]
        write_pickle(folder / f"data_batch_{i}", {b"data": data, b"labels": labels})
        written["train"].append((data, labels))
    data, labels = fake_images(n_test, 0), list(range(n_test))
    write_pickle(folder / "test_batch", {b"data": data, b"labels": labels})
    written["test"] = (data, labels)
    write_pickle(folder / "batches.meta", {b"label_names": [f"c{i}".encode() for i in range(10)]})
    return written


def cifar_config(root, dataset="cifar10", size=32, batch_size=8):
    return digits_config(
        data={"dataset": dataset, "image_size": size, "augment": {"blur_p": (0.0, 0.0)}},
        optim={"batch_size": batch_size},
        runtime={"data_root": str(root)},
    )


def unnormalize(x: torch.Tensor, dataset: str) -> torch.Tensor:
    mean, std = (torch.tensor(s).view(1, 3, 1, 1) for s in STATS[dataset])
    return ((x * std + mean) * 255).round().to(torch.uint8)


def test_cifar10_own_format(tmp_path):
    written = write_cifar10(tmp_path)
    pipe = build_data(cifar_config(tmp_path), n_views=2, device=CPU)
    assert (pipe.num_classes, pipe.channels) == (10, 3)
    assert pipe.steps_per_epoch() == 20 // 8
    (train_x, train_y), = pipe.eval_batches("train")
    (test_x, test_y), = pipe.eval_batches("test")
    data, labels = written["train"][0]
    # Rows are channel-major (1024 red, 1024 green, 1024 blue): the image in CHW.
    assert torch.equal(unnormalize(train_x[:1], "cifar10")[0], torch.from_numpy(data[0]).view(3, 32, 32))
    all_train_labels = [label for _, batch_labels in written["train"] for label in batch_labels]
    assert train_y.tolist() == all_train_labels
    test_images = torch.from_numpy(written["test"][0]).view(-1, 3, 32, 32)
    assert torch.equal(unnormalize(test_x, "cifar10"), test_images)
    assert test_y.tolist() == written["test"][1]
    views = next(pipe.train_batches(0))
    assert len(views) == 2 and views[0].shape == (8, 3, 32, 32)


def test_cifar_resized(tmp_path):
    write_cifar10(tmp_path)
    pipe = build_data(cifar_config(tmp_path, size=16), n_views=2, device=CPU)
    assert next(pipe.train_batches(0))[0].shape == (8, 3, 16, 16)
    assert next(pipe.eval_batches("test"))[0].shape == (6, 3, 16, 16)


def test_cifar100_own_format(tmp_path):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    train, test = fake_images(10, 1), fake_images(4, 2)
    write_pickle(folder / "train", {b"data": train, b"fine_labels": list(range(90, 100))})
    write_pickle(folder / "test", {b"data": test, b"fine_labels": [5, 6, 7, 99]})
    write_pickle(folder / "meta", {b"fine_label_names": [f"c{i}".encode() for i in range(100)]})
    pipe = build_data(cifar_config(tmp_path, "cifar100", batch_size=4), n_views=2, device=CPU)
    assert pipe.num_classes == 100
    (x, y), = pipe.eval_batches("train")
    assert torch.equal(unnormalize(x, "cifar100"), torch.from_numpy(train).view(-1, 3, 32, 32))
    assert y.tolist() == list(range(90, 100))
    assert next(pipe.eval_batches("test"))[1].tolist() == [5, 6, 7, 99]


def test_cifar_str_keys(tmp_path):
    # The official files are Python 2 pickles whose keys load as str.
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        write_pickle(folder / name, {"data": fake_images(2, 0), "labels": [1, 2]})
    pipe = build_data(cifar_config(tmp_path, batch_size=2), n_views=2, device=CPU)
    assert next(pipe.eval_batches("train"))[1].tolist() == [1, 2] * 5


def test_cifar_missing_root(tmp_path):
    with pytest.raises(ValueError, match=r"runtime\.data_root"):
        build_data(digits_config(data={"dataset": "cifar10", "image_size": 32}), 2, CPU)
    with pytest.raises(FileNotFoundError, match=r"runtime\.data_root"):
        build_data(cifar_config(tmp_path), 2, CPU)  # a root without the files
    write_cifar10(tmp_path)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(b"not a pickle")
    with pytest.raises(FileNotFoundError, match="test_batch"):
        build_data(cifar_config(tmp_path), 2, CPU)


# ---- ImageFolder -------------------------------------------------------------------------------


def test_imagefolder(tmp_path):
    write_tree(tmp_path)
    pipe = build_data(folder_config(tmp_path), n_views=2, device=CPU)
    assert (pipe.num_classes, pipe.channels) == (3, 3)
    assert pipe.steps_per_epoch() == 12 // 4
    state = torch.get_rng_state()
    batches = list(pipe.train_batches(0))
    assert torch.equal(state, torch.get_rng_state())
    assert len(batches) == 3
    for views in batches:
        assert len(views) == 2
        assert all(v.shape == (4, 3, 24, 24) and v.dtype == torch.float32 for v in views)
        assert not torch.equal(views[0], views[1])
    assert equal_batches(batches, list(pipe.train_batches(0)))
    assert not equal_batches(batches, list(pipe.train_batches(1)))
    (x, y), = pipe.eval_batches("test")
    assert x.shape == (6, 3, 24, 24) and y.tolist() == [0, 0, 1, 1, 2, 2]
    (x, y), = pipe.eval_batches("train")
    assert y.tolist() == [0] * 4 + [1] * 4 + [2] * 4


def test_imagefolder_views_independent_of_workers(tmp_path):
    write_tree(tmp_path)
    serial = list(build_data(folder_config(tmp_path, workers=0), 2, CPU).train_batches(0))
    parallel = list(build_data(folder_config(tmp_path, workers=2), 2, CPU).train_batches(0))
    assert equal_batches(serial, parallel)


def test_imagefolder_missing(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"runtime\.data_root"):
        build_data(folder_config(tmp_path), 2, CPU)


def test_loader_workers_follow_the_machine(monkeypatch):
    from harness.data.imagefolder import loader_workers

    monkeypatch.delenv("SLURM_CPUS_PER_TASK", raising=False)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(2)))
    assert loader_workers("auto") == 1  # 2 cores: the main process and one worker (the imagenet preset had 8)
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: set(range(64)))
    assert loader_workers("auto") == 7  # at most 8 processes
    monkeypatch.setenv("SLURM_CPUS_PER_TASK", "4")
    assert loader_workers("auto") == 3  # the job's --cpus-per-task
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0})
    assert loader_workers("auto") == 0
    assert loader_workers(8) == 8 and loader_workers(0) == 0  # as given
    config = RunConfig()
    assert config.runtime.num_workers == "auto"
    assert config.run_id() == config.model_copy(update={"runtime": config.runtime.model_copy(
        update={"num_workers": 5})}).run_id()  # not part of the run id
