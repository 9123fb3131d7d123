"""harness/checkpoint.py: checkpoints are written atomically, loaded as weights only, and an unreadable one
falls back to the one before."""

import pytest

from harness import checkpoint, store


def test_checkpoint_round_trip_is_weights_only(tmp_path):
    import torch

    path = tmp_path / store.CHECKPOINT
    checkpoint.save(path, {"model": {"w": torch.ones(2)}, "epoch": 3, "curves": [{"epoch": 1, "loss": 0.5}]})
    state = checkpoint.load(path)
    assert state["epoch"] == 3 and torch.equal(state["model"]["w"], torch.ones(2))


def test_unreadable_checkpoint_falls_back_to_the_previous_one(tmp_path):
    import torch

    checkpoint.save(tmp_path / store.CHECKPOINT, {"epoch": 1, "w": torch.zeros(3)})
    checkpoint.save(tmp_path / store.CHECKPOINT, {"epoch": 2, "w": torch.ones(3)})
    assert checkpoint.load_latest(tmp_path)["epoch"] == 2
    data = (tmp_path / store.CHECKPOINT).read_bytes()
    (tmp_path / store.CHECKPOINT).write_bytes(data[: len(data) // 2])  # truncated by a full disk
    with pytest.warns(store.CorruptFileWarning, match="checkpoint.pt is unreadable"):
        assert checkpoint.load_latest(tmp_path)["epoch"] == 1
    assert (tmp_path / "checkpoint.pt.corrupt").exists()
