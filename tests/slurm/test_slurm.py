"""The SLURM executor: options and code pinning on their own, then studies on a real one-node
cluster (tests/support/slurm_cluster.py): results equal to the local executor's, requeue after a preemption
signal, a 2-task DDP run, and `harness status` for every state.

Without the SLURM binaries the cluster tests skip, except under CI (CI=true), where they fail.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
import torch

from harness import store
from harness.cli import build_parser, main
from harness.columns import EPOCH_SECONDS
from harness.commands import slurm_options
from harness.launch import code_pin
from harness.launch.slurm import chunks, executor_parameters
from harness.plan import load_study
from harness.spec import SlurmSpec, parse_set

from conftest import FAST, TINY_STUDY, checkpointed_epoch, unreadable_cifar
from slurm_cluster import MAX_ARRAY_SIZE, LocalCluster, missing_binaries

LONG = FAST + ["optim.epochs=8"]  # long enough to signal a job mid-training
VOLATILE = [EPOCH_SECONDS]


def sets(items):
    return [a for item in items for a in ("--set", item)]


# ---- options, sbatch lines and code pinning (no cluster) --------------------------------------


def test_study_file_options_with_the_command_line_on_top(tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntitle: t\nslurm:\n  partition: cpu\n  time_min: 30\n  sbatch: {mail-type: END}\n")
    study = load_study(path)
    args = build_parser().parse_args(["run", str(path), "--executor", "slurm", "--partition", "gpu",
                                      "--gpus-per-node", "4", "--sbatch", "comment=sweep"])
    options = slurm_options(study, args)
    assert (options.partition, options.time_min, options.gpus_per_node) == ("gpu", 30, 4)
    assert options.sbatch == {"mail-type": "END", "comment": "sweep"}


def test_bad_slurm_options_name_the_key(tmp_path, capsys):
    path = tmp_path / "s.yaml"
    path.write_text("name: s\ntitle: t\nslurm: {partiton: gpu}\n")
    assert main(["run", str(path), "--executor", "slurm", "--dry-run"]) == 2
    assert "slurm.partiton" in capsys.readouterr().err
    path.write_text("name: s\ntitle: t\n")
    with pytest.raises(SystemExit, match="2"):  # argparse refuses it, in one line
        main(["run", str(path), "--executor", "slurm", "--runs-per-job", "0"])
    assert capsys.readouterr().err == ("harness: error: argument --runs-per-job: 0 is not a positive integer "
                                       "(see harness run --help)\n")
    path.write_text("name: s\ntitle: t\nslurm: {runs_per_job: 0}\n")
    assert main(["run", str(path), "--executor", "slurm", "--dry-run"]) == 2
    assert "slurm.runs_per_job: Input should be greater than 0" in capsys.readouterr().err


def test_sbatch_lines(tmp_path):
    from submitit.slurm.slurm import _make_sbatch_string

    options = SlurmSpec(partition="gpu", time_min=120, gpus_per_node=4, cpus_per_task=10, mem_gb=64,
                        account="lab", qos="high", constraint="a100", array_parallelism=3,
                        sbatch={"mail-type": "END"}, setup=["module load cuda"])
    params = executor_parameters(options, "study", tmp_path / "code")
    text = _make_sbatch_string(command="python job.py", folder=tmp_path, map_count=10, **params)
    for line in ["--partition=gpu", "--time=120", "--gpus-per-node=4", "--ntasks-per-node=4",
                 "--cpus-per-task=10", "--mem=65536M", "--account=lab", "--qos=high", "--constraint=a100",
                 "--array=0-9%3", "--signal=USR2@120", "--mail-type=END", "--job-name=harness-study"]:
        assert f"#SBATCH {line}\n" in text, line
    setup = text.index("module load cuda")
    assert setup < text.index(f"cd {tmp_path / 'code'}") < text.index("export PYTHONPATH=") < text.index("srun")
    # CPU tasks for testing DDP: as many as asked; with GPUs, one task per GPU by default.
    assert executor_parameters(SlurmSpec(tasks_per_node=2), "s", tmp_path)["ntasks_per_node"] == 2
    assert executor_parameters(SlurmSpec(), "s", tmp_path)["ntasks_per_node"] == 1


def test_arrays_and_packing():
    assert chunks(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert chunks([], 3) == []


def test_code_is_pinned_once_per_content(tmp_path, monkeypatch):
    package = tmp_path / "src" / "harness"
    for name, text in (("__init__.py", "X = 1\n"), ("sub/mod.py", "Y = 2\n"), ("__pycache__/m.pyc", "junk")):
        (package / name).parent.mkdir(parents=True, exist_ok=True)
        (package / name).write_text(text)
    monkeypatch.setattr(code_pin, "package_dir", lambda: package)
    first = code_pin.pin_code(tmp_path / "store")
    assert code_pin.pin_code(tmp_path / "store") == first
    assert (first / "harness" / "sub" / "mod.py").read_text() == "Y = 2\n"
    assert not (first / "harness" / "__pycache__").exists()
    assert f"pinned:{first.name}" in (first / "harness" / code_pin.REVISION).read_text()
    (package / "sub" / "mod.py").write_text("Y = 3\n")  # the checkout changes after submission
    second = code_pin.pin_code(tmp_path / "store")
    assert second != first and (first / "harness" / "sub" / "mod.py").read_text() == "Y = 2\n"
    assert not list((tmp_path / "store").glob(".*"))  # no staging folder left behind


# ---- the cluster ------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def slurm_cluster(tmp_path_factory):
    missing = missing_binaries()
    if missing:
        message = f"SLURM is not installed (missing {', '.join(missing)}): apt-get install slurm-wlm munge"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    cluster = LocalCluster(tmp_path_factory.mktemp("slurm")).start()
    previous = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(cluster.conf)
    yield cluster
    cluster.stop()
    if previous is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = previous


@pytest.fixture
def cluster(slurm_cluster, monkeypatch):
    # Jobs inherit the submitting environment: one thread, as the local reference trains.
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    yield slurm_cluster
    subprocess.run(["scancel", "--me"], capture_output=True)  # nothing of this test outlives it


@pytest.fixture(scope="module")
def local_reference(tmp_path_factory) -> Path:
    """The tiny study's results from the local executor, on one thread."""
    root = tmp_path_factory.mktemp("local")
    study = root / "tiny_test.yaml"
    study.write_text(TINY_STUDY)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["run", str(study), "--results", str(root / "results"), "--reports", str(root / "reports"),
                     "--quiet", *sets(LONG)]) == 0
    finally:
        torch.set_num_threads(threads)
    return root / "results"


def harness(command: str, study: Path, root: Path, *extra: str, overrides=LONG) -> int:
    return main([command, str(study), "--results", str(root / "results"), "--reports", str(root / "reports"),
                 *sets(overrides), *extra])


def submit(study: Path, root: Path, *extra: str, overrides=LONG) -> int:
    return harness("run", study, root, "--executor", "slurm", "--cpus-per-task", "1", "--time", "10", *extra,
                   overrides=overrides)


def wait(study: Path, root: Path, overrides=LONG) -> int:
    return harness("status", study, root, "--wait", "--poll", "0.5", "--quiet", overrides=overrides)


def curves(directory: Path) -> pd.DataFrame:
    return store.read_curves(directory / store.CURVES).drop(columns=VOLATILE)


def job_ids(out: str) -> list[str]:
    match = re.search(r"in \d+ jobs: ([\d_ ]+)", out)
    assert match, out
    return match.group(1).split()


def my_jobs() -> list[str]:
    out = subprocess.run(["squeue", "--me", "--array", "--noheader", "--states=all", "--format=%i"],
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def poll(condition, timeout: float = 120, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"waited {timeout:.0f} s for {what}")


def mid_training(directory: Path) -> bool:
    """The run has checkpointed an epoch and has at least half of its 8 epochs to go."""
    return 1 <= checkpointed_epoch(directory) <= 4


slurm = pytest.mark.slurm


@slurm
def test_the_cluster_reports_its_max_array_size(cluster):
    from harness.launch.slurm_queue import max_array_size

    assert max_array_size() == MAX_ARRAY_SIZE
    assert cluster.idle()


@slurm
def test_the_preflight_asks_the_cluster_and_submits_nothing(cluster, tiny_study, tmp_path, capsys):
    before = my_jobs()

    def refused(*extra: str) -> str:
        assert submit(tiny_study, tmp_path, *extra) == 2  # submit() asks for --time 10
        err = capsys.readouterr().err
        assert len(err.splitlines()) == 1 and "Traceback" not in err, err
        return err

    assert "--partition nope: no such partition (partitions: debug, short)" in refused("--partition", "nope")
    assert "--time 10 (minutes) is over partition short's MaxTime of 5 minutes" in refused("--partition", "short")
    assert "--nodes 2 is over partition debug's node count of 1" in refused("--nodes", "2")
    assert "--gpus-per-node 1: partition debug has no GPUs (sinfo's Gres)" in refused("--gpus-per-node", "1")
    # Issue 14: each job of the study would have failed on its node.
    (tmp_path / "cifar").mkdir()
    assert "no cifar10 at --data-root" in refused("--preset", "cifar10", "--data-root", str(tmp_path / "cifar"))
    assert my_jobs() == before and not (tmp_path / "results").exists() and not (tmp_path / "reports").exists()


@slurm
def test_a_study_on_slurm_equals_the_local_run(cluster, tiny_study, tmp_path, capsys, local_reference):
    assert submit(tiny_study, tmp_path) == 0
    out = capsys.readouterr().out
    ids = job_ids(out)
    assert "submitted 2 of 2 runs in 2 jobs" in out and len(ids) == 2 and ids[0].endswith("_0")  # one array
    # Submission does not wait: right after it, the runs are waiting or starting.
    assert harness("status", tiny_study, tmp_path) == 0
    assert re.search(r"2 (queued|running)|1 queued, 1 running", capsys.readouterr().out)

    assert wait(tiny_study, tmp_path) == 0
    assert "tiny_test: 2 done" in capsys.readouterr().out
    assert (tmp_path / "reports" / "tiny_test.md").exists()
    study = load_study(tiny_study, overrides=parse_set(LONG))
    for planned in study.runs:
        directory = store.run_dir(tmp_path / "results", study.name, planned.run_id)
        reference = store.run_dir(local_reference, study.name, planned.run_id)
        pd.testing.assert_frame_equal(curves(directory), curves(reference))
        # The job ran the code pinned at submission, not the checkout.
        job = store.read_json(directory / "job.json")
        assert f"harness from {job['code']}/harness/__init__.py" in Path(job["log"]).read_text()
        assert "pinned:" in store.read_json(directory / store.SUMMARY)["code_revision"]

    before = my_jobs()
    assert submit(tiny_study, tmp_path) == 0
    assert "nothing to submit: every run is done, queued or running" in capsys.readouterr().out
    assert my_jobs() == before


@slurm
def test_a_preempted_job_requeues_and_resumes(cluster, tiny_study, tmp_path, capsys, local_reference):
    # Both runs packed in one job: the signal hits the first mid-training.
    assert submit(tiny_study, tmp_path, "--runs-per-job", "2") == 0
    (job_id,) = job_ids(capsys.readouterr().out)
    study = load_study(tiny_study, overrides=parse_set(LONG))
    first = store.run_dir(tmp_path / "results", study.name, study.runs[0].run_id)

    poll(lambda: mid_training(first), what="the first run's checkpoint")
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)  # what SLURM sends before preempting
    assert wait(tiny_study, tmp_path) == 0
    assert "2 done" in capsys.readouterr().out

    job = store.read_json(first / "job.json")
    assert job["starts"] == 2, "the first run was not restarted"
    log = Path(job["log"]).read_text()
    assert "Requeued job" in log and "Job completed successfully" in log
    for planned in study.runs:
        directory = store.run_dir(tmp_path / "results", study.name, planned.run_id)
        resumed = curves(directory)
        assert resumed["epoch"].tolist() == list(range(9))  # every epoch exactly once
        pd.testing.assert_frame_equal(resumed, curves(store.run_dir(local_reference, study.name, planned.run_id)))


@slurm
def test_two_tasks_train_one_run_with_ddp_and_stop_together(cluster, tmp_path, capsys):
    study = tmp_path / "one.yaml"
    study.write_text("name: one\ntitle: one run\n")
    overrides = LONG + ["optim.sync_bn=false"]  # torch's SyncBatchNorm needs GPUs
    assert submit(study, tmp_path, "--tasks-per-node", "2", overrides=overrides) == 0
    (job_id,) = job_ids(capsys.readouterr().out)
    (planned,) = load_study(study, overrides=parse_set(overrides)).runs
    directory = store.run_dir(tmp_path / "results", "one", planned.run_id)
    # Both ranks get the signal; they must stop after the same epoch, or one would wait forever.
    poll(lambda: mid_training(directory), what="the first checkpoint")
    subprocess.run(["scancel", "--signal=USR2", job_id], check=True)
    assert wait(study, tmp_path, overrides=overrides) == 0
    assert "one: 1 done" in capsys.readouterr().out

    summary = store.read_json(directory / store.SUMMARY)
    batch = planned.config.optim.batch_size
    # The two ranks' shares add up to the configured global batch, and an epoch is as long as
    # a single process's.
    assert (summary["world_size"], summary["global_batch"]) == (2, batch)
    assert summary["steps_per_epoch"] == 1347 // batch
    assert curves(directory)["epoch"].tolist() == list(range(9))
    assert store.read_json(directory / "job.json")["starts"] == 2
    # Rank 0 alone logs, each epoch once across the requeue.
    log = Path(store.read_json(directory / "job.json")["log"])
    rank0, rank1 = log.read_text(), log.with_name(log.name.replace("_0_log", "_1_log")).read_text()
    assert "global_rank=1(2)" in rank1 and "rank 1: stopped on request" in rank1
    assert rank0.count('{"run": ') == 8 and '{"run": ' not in rank1


SIZES = [item for item in FAST if not item.startswith("optim.epochs")]  # the variants set epochs
STATUS_STUDY = """\
name: status_test
title: one run of each fate
variants:
  ok: {optim.epochs: 4}
  broken: {data.dataset: cifar10, data.image_size: 32}   # unreadable data: fails
  slow: {optim.epochs: 500}
"""


@slurm
def test_status_of_done_failed_running_queued_and_new_runs(cluster, tmp_path, capsys):
    study = tmp_path / "status_test.yaml"
    study.write_text(STATUS_STUDY)
    data = ["--data-root", str(unreadable_cifar(tmp_path / "cifar"))]  # there for the preflight, not for the run
    # 3 jobs: an array of 2 (ok, broken), then an array of 1 (slow) that waits for it (MaxArraySize 2).
    assert submit(study, tmp_path, "--max-timeouts", "0", *data, overrides=SIZES) == 0
    first, _, slow_job = job_ids(capsys.readouterr().out)
    assert first.split("_")[0] != slow_job.split("_")[0]

    def states():
        assert harness("status", study, tmp_path, overrides=SIZES) == 0
        out = capsys.readouterr().out
        return {m.group(2): m.group(1) for m in re.finditer(r"^\s+\w{12}\s+(\w+)\s+(\w+) seed=0", out, re.M)}, out

    assert states()[0]["slow"] == "queued"  # waits for the first array
    poll(lambda: states()[0]["slow"] == "running", what="the slow run to start")
    now, out = states()
    assert now == {"ok": "done", "broken": "failed", "slow": "running"}, out
    extended = tmp_path / "extended.yaml"
    extended.write_text(STATUS_STUDY + "  never_submitted: {optim.base_lr: 0.1}\n")
    assert harness("status", extended, tmp_path, overrides=SIZES) == 0
    assert re.search(r"new\s+never_submitted seed=0", capsys.readouterr().out)

    # A second submission retries the failed run only: nothing done, queued or running.
    assert submit(study, tmp_path, *data, overrides=SIZES) == 0
    out = capsys.readouterr().out
    assert "submitted 1 of 3 runs in 1 jobs" in out
    subprocess.run(["scancel", job_ids(out)[0]], check=True)

    # Signalled once more than --max-timeouts 0 allows, the slow run's job gives up.
    slow = store.run_dir(tmp_path / "results", "status_test", load_study(study, overrides=parse_set(SIZES)).runs[2].run_id)
    poll(lambda: (slow / store.CHECKPOINT).exists(), what="the slow run's checkpoint")
    subprocess.run(["scancel", "--signal=USR2", slow_job], check=True)
    now, out = poll(lambda: (s := states())[0]["slow"] == "failed" and s, what="the slow run to fail")
    assert now["ok"] == "done"
    assert f"job {slow_job} failed before the run finished; a new submission resumes it" in out
    assert "timed-out too many times" in Path(store.read_json(slow / "job.json")["log"]).read_text()



@slurm
def test_two_slurm_submissions_at_once_submit_each_run_once(cluster, tiny_study, tmp_path, capsys, monkeypatch):
    """Two terminals submit one study at the same moment. Each reads the study's status, then submits
    what is not done, queued or running; the study's submit lock makes that read-and-submit atomic."""
    from harness.launch import slurm as slurm_launcher

    read_status = slurm_launcher.study_status

    def slow_status(*args, **kwargs):  # widen the race: both would read "new" before either submits
        statuses = read_status(*args, **kwargs)
        time.sleep(1.0)
        return statuses

    monkeypatch.setattr(slurm_launcher, "study_status", slow_status)
    study = load_study(tiny_study, overrides=parse_set(FAST))
    options = SlurmSpec(cpus_per_task=1, time_min=10)
    before = set(my_jobs())  # squeue --states=all still lists earlier tests' finished jobs
    with ThreadPoolExecutor(2) as pool:
        submissions = list(pool.map(lambda _: slurm_launcher.submit(study, tmp_path / "results", options), range(2)))
    assert sorted(s.runs for s in submissions) == [0, 2]
    submitted = [job for s in submissions for job in s.job_ids]
    assert len(submitted) == 2 and set(my_jobs()) - before == set(submitted)
    assert wait(tiny_study, tmp_path, overrides=FAST) == 0
    assert "tiny_test: 2 done" in capsys.readouterr().out
    assert trained_in_jobs(tmp_path, study) == 2


def harness_process(study: Path, root: Path, *extra: str) -> subprocess.Popen:
    """`harness run` in its own process, as from a second terminal."""
    return subprocess.Popen([sys.executable, "-m", "harness", "run", str(study), "--results", str(root / "results"),
                             "--reports", str(root / "reports"), "--quiet", *sets(FAST), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def trained_in_jobs(root: Path, study) -> int:
    """Runs whose epochs a SLURM job logged (RunJob prints one JSON line per epoch of a run it trains)."""
    count = 0
    for planned in study.runs:
        job = store.read_json(store.run_dir(root / "results", study.name, planned.run_id) / "job.json")
        count += job is not None and f'"run": "{planned.run_id}"' in Path(job["log"]).read_text()
    return count


@slurm
def test_a_local_run_and_a_slurm_submission_at_once_train_each_run_once(cluster, tiny_study, tmp_path, capsys):
    """One terminal runs the study here while another submits it: whichever holds a run's lock
    trains it; the other skips it (queued on SLURM) or finds it taken."""
    procs = [harness_process(tiny_study, tmp_path, "--executor", "slurm", "--cpus-per-task", "1", "--time", "10"),
             harness_process(tiny_study, tmp_path)]
    outs = [p.communicate(timeout=300)[0] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    ran_here = sum(int(m.group(1)) for out in outs for m in re.finditer(r"trained (\d+) networks", out))
    assert wait(tiny_study, tmp_path, overrides=FAST) == 0
    assert "tiny_test: 2 done" in capsys.readouterr().out
    study = load_study(tiny_study, overrides=parse_set(FAST))
    assert ran_here + trained_in_jobs(tmp_path, study) == 2, outs
    for planned in study.runs:
        directory = store.run_dir(tmp_path / "results", study.name, planned.run_id)
        assert curves(directory)["epoch"].tolist() == list(range(5))
