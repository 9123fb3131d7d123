import os

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from harness import store


def test_atomic_write_leaves_old_file_on_failure(tmp_path, monkeypatch):
    path = tmp_path / "f.json"
    store.write_json(path, {"a": 1})

    def boom(*args):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        store.write_json(path, {"a": 2})
    assert store.read_json(path) == {"a": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]  # no temporary left behind


def test_curves_are_typed_and_read_alike_in_pandas_and_duckdb(tmp_path):
    rows = [{"epoch": 0, "step": 0, "knn_top1_k200": 0.5},
            {"epoch": 1, "step": 5, "loss": -0.5, "output_std": 0.06, "knn_top1_k200": None}]
    path = tmp_path / store.CURVES
    store.write_curves(path, rows)
    schema = pa.parquet.read_schema(path)
    assert schema.field("epoch").type == pa.int64() and schema.field("loss").type == pa.float64()
    frame = pd.read_parquet(path)
    con = duckdb.connect()
    duck = con.execute(f"SELECT * FROM read_parquet('{path}') ORDER BY epoch").df()
    assert list(frame.columns) == list(duck.columns)
    pd.testing.assert_frame_equal(frame, duck, check_dtype=False)
    assert frame["loss"].isna().tolist() == [True, False]


def test_checkpoint_round_trip_is_weights_only(tmp_path):
    import torch

    path = tmp_path / store.CHECKPOINT
    store.save_checkpoint(path, {"model": {"w": torch.ones(2)}, "epoch": 3, "curves": [{"epoch": 1, "loss": 0.5}]})
    state = store.load_checkpoint(path)
    assert state["epoch"] == 3 and torch.equal(state["model"]["w"], torch.ones(2))


def test_run_state(tmp_path):
    assert store.run_state(tmp_path) == store.NEW
    (tmp_path / store.CHECKPOINT).write_bytes(b"x")
    assert store.run_state(tmp_path) == store.PARTIAL
    store.write_json(tmp_path / store.SUMMARY, {"status": "diverged"})
    assert store.run_state(tmp_path) == store.DIVERGED
