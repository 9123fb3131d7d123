import os

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from harness import store
from harness.store import RunState


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


def test_run_state(tmp_path):
    assert store.run_state(tmp_path) == RunState.NEW
    (tmp_path / store.CHECKPOINT).write_bytes(b"x")
    assert store.run_state(tmp_path) == RunState.PARTIAL
    store.write_json(tmp_path / store.SUMMARY, {"status": "diverged"})
    assert store.run_state(tmp_path) == RunState.CORRUPT  # a finished run without readable curves
    store.write_curves(tmp_path / store.CURVES, [{"epoch": 0, "step": 0}])
    assert store.run_state(tmp_path) == RunState.DIVERGED
    (tmp_path / store.SUMMARY).write_text('{"status": "do')  # truncated
    assert store.run_state(tmp_path) == RunState.CORRUPT


def test_lock_is_exclusive_and_dies_with_its_holder(tmp_path):
    import subprocess
    import sys
    import time

    with store.run_lock(tmp_path) as held:
        assert held
        with store.run_lock(tmp_path) as second:
            assert not second
    assert not store.is_locked(tmp_path)
    # A holder killed with SIGKILL cannot keep the lock.
    holder = subprocess.Popen([sys.executable, "-c",
                               "import sys, time; from harness import store\n"
                               f"with store.run_lock({str(tmp_path)!r}):\n print('held', flush=True); time.sleep(60)"],
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    assert store.is_locked(tmp_path) and store.run_state(tmp_path) == RunState.RUNNING
    holder.kill()
    holder.wait()
    time.sleep(0.05)
    assert not store.is_locked(tmp_path)
