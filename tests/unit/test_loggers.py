"""The live loggers (harness/loggers.py): TensorBoard's event files read back with TensorBoard's own
reader against curves.parquet, W&B offline, and a logger that fails never failing the run."""

import sys
import time
import types
import warnings
from pathlib import Path

import pandas as pd
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_multiplexer import EventMultiplexer

from harness import loggers, preflight, store
from harness.columns import DEFAULT_KNN_COLUMN, EPOCH_SECONDS
from harness.plan import load_study
from harness.spec import parse_set
from harness.train import train

from commandline import refused
from conftest import FAST


def planned(tiny_study, *sets, variant=0):
    return load_study(tiny_study, overrides=parse_set(FAST + ["optim.epochs=2", *sets])).runs[variant]


def trained(tiny_study, results, *sets, **kwargs):
    """The first run of the tiny study with `sets`, trained into results/<study>/<run_id>/."""
    run = planned(tiny_study, *sets)
    directory = store.run_dir(results, "tiny_test", run.run_id)
    train(run.config, directory, run.labels(), **kwargs)
    return run, directory


def scalars(directory, table="curves"):
    """{column: {step: value}} of the run's TensorBoard events, as TensorBoard reads them."""
    (events,) = (directory / loggers.TENSORBOARD_FOLDER).iterdir()
    reader = EventAccumulator(str(events), size_guidance={"scalars": 0})
    reader.Reload()
    prefix = f"{table}/"
    return {tag[len(prefix):]: {e.step: e.value for e in reader.Scalars(tag)}
            for tag in reader.Tags()["scalars"] if tag.startswith(prefix)}


def assert_logged_as_written(directory):
    """Every value of curves.parquet (and steps.parquet) is in TensorBoard at its row's step, once."""
    for table, name in (("curves", store.CURVES), ("steps", store.STEPS)):
        if table == "steps" and not (directory / name).exists():
            continue
        frame = store.read_curves(directory / name)
        logged = scalars(directory, table)
        for column in frame.columns.drop(["epoch", "step"]):
            written = frame.dropna(subset=[column])
            assert sorted(logged[column]) == written["step"].tolist(), column  # each step once
            assert [logged[column][s] for s in written["step"]] == pytest.approx(written[column].tolist(), rel=1e-6)


def test_tensorboard_logs_each_row_as_curves_hold_it(tiny_study, tmp_path):
    run, directory = trained(tiny_study, tmp_path, "runtime.loggers=[tensorboard]", "monitor.every_steps=3")
    assert_logged_as_written(directory)
    logged = scalars(directory)
    # (The linear probe's top-1 is its stage's, after the pretraining: no curves column any more.)
    assert {"loss", "output_std", "output_rank", DEFAULT_KNN_COLUMN} <= logged.keys()
    assert sorted(logged["loss"]) == [5, 10] and sorted(logged[DEFAULT_KNN_COLUMN]) == [0, 10]  # kNN at init too
    assert scalars(directory, "steps")["loss"]
    # A logger only reads rows: the curves are bitwise those of a run without one.
    _, plain = trained(tiny_study, tmp_path / "plain", "monitor.every_steps=3")
    volatile = [EPOCH_SECONDS]
    pd.testing.assert_frame_equal(store.read_curves(directory / store.CURVES).drop(columns=volatile),
                                  store.read_curves(plain / store.CURVES).drop(columns=volatile))
    assert not (plain / loggers.TENSORBOARD_FOLDER).exists()


def test_logdir_of_a_study_lists_one_run_per_harness_run_named_by_id_and_labels(tmp_path):
    study = tmp_path / "results" / "s"
    for run_id, variant in (("aaaa", "base"), ("bbbb", "no_predictor")):
        logs = loggers.open_loggers(["tensorboard"], study / run_id, run_id, {"variant": variant, "seed": 0}, {})
        logs.log([{"epoch": 1, "step": 10, "loss": 0.5}], [])
        logs.close()
    multiplexer = EventMultiplexer().AddRunsFromDirectory(str(study))
    multiplexer.Reload()
    assert sorted(multiplexer.Runs()) == ["aaaa/tb/variant=base,seed=0", "bbbb/tb/variant=no_predictor,seed=0"]


def rank_trains(rank: int, store_file: str, config_json: str, directory: str) -> None:
    """One of 2 gloo ranks training the same run into `directory` (rank 0 writes and logs)."""
    import torch.distributed as dist

    from harness.config import RunConfig

    dist.init_process_group("gloo", init_method=f"file://{store_file}", rank=rank, world_size=2)
    train(RunConfig.model_validate_json(config_json), Path(directory), {"variant": "two_ranks"})
    dist.destroy_process_group()


@pytest.mark.slow
def test_only_rank_0_logs(tiny_study, tmp_path):
    import torch.multiprocessing as mp

    config = planned(tiny_study, "runtime.loggers=[tensorboard]", "optim.epochs=1", "optim.sync_bn=false",
                     "probe.enabled=false", "runtime.threads=1").config
    directory = tmp_path / "s" / config.run_id()
    mp.spawn(rank_trains, args=(str(tmp_path / "store"), config.model_dump_json(), str(directory)), nprocs=2)
    (events,) = (directory / loggers.TENSORBOARD_FOLDER / "variant=two_ranks").iterdir()  # rank 0's alone
    assert_logged_as_written(directory)


class Crash(Exception):
    pass


def test_a_resumed_run_continues_its_logged_run_without_repeating_a_step(tiny_study, tmp_path):
    sets = ("runtime.loggers=[tensorboard]", "optim.epochs=4", "runtime.checkpoint_every=2", "monitor.every_steps=2")

    def crash_at_3(row):
        if row["epoch"] == 3:  # epoch 3 is written and logged; the checkpoint is epoch 2's
            raise Crash

    with pytest.raises(Crash):
        trained(tiny_study, tmp_path, *sets, on_epoch=crash_at_3)
    _, directory = trained(tiny_study, tmp_path, *sets)
    assert len(list((directory / loggers.TENSORBOARD_FOLDER).rglob("events.*"))) == 2  # one per process
    assert_logged_as_written(directory)  # epoch 3's first values hidden (purge_step), no step twice


def test_the_probe_added_to_the_last_row_is_logged_and_nothing_twice():
    logged = []

    class Memory:
        def open(self, run):
            logged.append(("open", run.start_step, run.name))

        def log(self, step, values):
            logged.append((step, values))

        def close(self):
            logged.append("close")

    logs = loggers.Loggers({"memory": Memory()}, ([{"epoch": 1, "step": 4, "loss": 1.0}], []))
    rows = [{"epoch": 1, "step": 4, "loss": 1.0}, {"epoch": 2, "step": 8, "loss": 0.5}]
    steps = [{"epoch": 2, "step": 6, "loss": 0.7}]
    logs.log(rows, steps)
    rows[-1]["linear_top1"] = 0.9
    logs.log(rows, steps)
    logs.close()
    assert logged == [(6, {"steps/loss": 0.7}), (8, {"curves/loss": 0.5}), (8, {"curves/linear_top1": 0.9}), "close"]


def test_a_failing_logger_warns_once_and_the_others_go_on():
    calls = []

    class Broken:
        def log(self, step, values):
            raise OSError("disk full")

    class Fine:
        def log(self, step, values):
            calls.append(step)

    logs, rows = loggers.Loggers({"wandb": Broken(), "tensorboard": Fine()}), []
    with pytest.warns(RuntimeWarning) as caught:
        for epoch in (1, 2, 3):
            rows.append({"epoch": epoch, "step": epoch, "loss": 1.0})
            logs.log(rows, [])
    assert [str(w.message) for w in caught] == [
        "runtime.loggers: wandb failed to log (OSError: disk full); the run goes on without it"]
    assert calls == [1, 2, 3]


@pytest.fixture
def wandb_home(tmp_path, monkeypatch):
    """W&B's own folders under tmp_path, never the user's, and its process-wide settings (read from
    the environment at the first wandb.init of a process) set up anew for the test."""
    import wandb

    for key in ("WANDB_CONFIG_DIR", "WANDB_CACHE_DIR", "WANDB_DATA_DIR", "WANDB_ARTIFACT_DIR"):
        monkeypatch.setenv(key, str(tmp_path / "wandb-home" / key.lower()))
    monkeypatch.delenv("WANDB_DIR", raising=False)
    monkeypatch.setenv("WANDB_SILENT", "true")
    wandb.teardown()
    yield
    wandb.teardown()


def test_a_logger_that_cannot_import_warns_and_the_run_is_done(tiny_study, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # import wandb raises ImportError
    with pytest.warns(RuntimeWarning, match="runtime.loggers: wandb failed to open .ModuleNotFoundError"):
        run, directory = trained(tiny_study, tmp_path, "runtime.loggers=[wandb]")
    assert store.run_state(directory) == store.RunState.DONE


def test_a_wandb_init_that_raises_warns_once_and_the_run_is_done(tiny_study, tmp_path, monkeypatch):
    def init(**kwargs):
        raise RuntimeError("wandb.init timed out")

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init, Settings=dict))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, directory = trained(tiny_study, tmp_path, "runtime.loggers=[wandb]")
    assert [str(w.message) for w in caught if "runtime.loggers" in str(w.message)] == [
        "runtime.loggers: wandb failed to open (RuntimeError: wandb.init timed out); the run goes on without it"]
    assert store.run_state(directory) == store.RunState.DONE


def test_wandb_offline_leaves_its_run_under_the_runs_folder_and_resumes_it(tiny_study, tmp_path, monkeypatch,
                                                                           wandb_home):
    monkeypatch.setenv("WANDB_MODE", "offline")

    def crash_at_1(row):
        if row["epoch"] == 1:
            raise Crash

    hooks = sys.exit, sys.excepthook
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # a logger's failure would be one
        with pytest.raises(Crash):
            trained(tiny_study, tmp_path, "runtime.loggers=[wandb]", on_epoch=crash_at_1)
        run, directory = trained(tiny_study, tmp_path, "runtime.loggers=[wandb]")
    # W&B replaces both for the process it runs in; the harness keeps its own (a plug-in's sys.exit()
    # would otherwise read as sys.exit(0) in its refusal, and the interrupt handling is the harness's).
    assert (sys.exit, sys.excepthook) == hooks
    # One offline run per process, both of the run's id: `wandb sync` makes them one run.
    offline = sorted((directory / "wandb").glob(f"offline-run-*-{run.run_id}"))
    assert len(offline) == 2 and all((o / f"run-{run.run_id}.wandb").stat().st_size > 0 for o in offline)
    assert store.run_state(directory) == store.RunState.DONE


def test_wandb_gets_one_run_per_harness_run_in_its_studys_project(tmp_path, monkeypatch):
    inits, logged = [], []
    run = types.SimpleNamespace(log=lambda values, step: logged.append((step, values)), finish=lambda: None)

    def init(**kwargs):
        inits.append(kwargs)
        return run

    monkeypatch.setitem(sys.modules, "wandb", types.SimpleNamespace(init=init, Settings=dict))
    labels = {"variant": "no_predictor", "seed": 3, "data.augment.crop_min_scale": "x" * 80}
    with loggers.open_loggers(["wandb"], tmp_path / "s" / "abc123", "abc123", labels, {"seed": 3},
                              ([{"epoch": 1, "step": 4, "loss": 1.0}], [])) as logs:
        logs.log([{"epoch": 1, "step": 4, "loss": 1.0}, {"epoch": 2, "step": 8, "loss": 0.5}], [])
    (kwargs,) = inits
    assert (kwargs["project"], kwargs["group"], kwargs["id"], kwargs["resume"]) == ("s", "s", "abc123", "allow")
    assert kwargs["name"].startswith("abc123 variant=no_predictor seed=3 ")
    assert kwargs["tags"][:2] == ["variant=no_predictor", "seed=3"] and len(kwargs["tags"][2]) == 64
    assert kwargs["config"] == {"seed": 3} and kwargs["dir"] == str(tmp_path / "s" / "abc123")
    assert logged == [(8, {"curves/loss": 0.5})]  # the restored row was logged by the process that trained it


@pytest.mark.slow
def test_an_unreachable_wandb_service_does_not_fail_the_run(tiny_study, tmp_path, monkeypatch, wandb_home):
    # A port nothing listens on, on this machine: the service is unreachable at once.
    monkeypatch.setenv("WANDB_MODE", "online")
    monkeypatch.setenv("WANDB_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("WANDB_API_KEY", "0" * 40)  # not a key: the service is never reached
    monkeypatch.setenv("WANDB_INIT_TIMEOUT", "2")
    started = time.perf_counter()
    with pytest.warns(RuntimeWarning, match="runtime.loggers: wandb failed to open"):
        _, directory = trained(tiny_study, tmp_path, "runtime.loggers=[wandb, tensorboard]")
    assert store.run_state(directory) == store.RunState.DONE
    assert_logged_as_written(directory)  # the other logger goes on
    assert time.perf_counter() - started < 60


def test_a_logger_not_installed_is_refused_before_anything_runs(tiny_study, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "wandb", None)  # as if not installed
    line = refused(capsys, ["run", str(tiny_study), "--set", "runtime.loggers=[tensorboard, wandb]"], tmp_path)
    assert line == "harness: error: runtime.loggers: wandb is not installed; pip install 'harness[wandb]'"
    preflight.check_loggers([planned(tiny_study, "runtime.loggers=[tensorboard]").config])  # installed


def test_an_unknown_logger_is_refused_naming_the_key(tiny_study, tmp_path, capsys):
    line = refused(capsys, ["run", str(tiny_study), "--set", "runtime.loggers=[mlflow]"], tmp_path)
    assert "runtime.loggers" in line and "mlflow" in line
