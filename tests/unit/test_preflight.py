"""The preflight (harness/preflight.py): before anything is trained or submitted, what the runs need
and what can be known from here, refused in one line with exit status 2 and nothing written.
(Against a real SLURM cluster: test_slurm.py.)"""


import pytest
import torch

from harness import preflight
from harness.cli import main
from harness.methods.sections import BYOLMethod, SimSiamMethod
from harness.preflight import PreflightError
from harness.spec import SlurmSpec

from commandline import refused, study
from configs import config, dataset_config, image_tree
from conftest import STUDIES, unreadable_cifar


def test_cifar_without_its_files_launches_nothing(tmp_path, capsys):
    # Issue 14: each of the 4 runs failed at once with a traceback, a report of 4 failed runs was
    # written, and the command exited 0.
    empty = tmp_path / "cifar"
    empty.mkdir()
    line = refused(capsys, ["run", str(STUDIES / "simsiam_stopgrad.yaml"), "--preset", "cifar10",
                            "--data-root", str(empty)], tmp_path)
    assert line == (f"harness: error: no cifar10 at --data-root {empty}: {empty}/cifar-10-batches-py/data_batch_1 "
                    "is missing (6 of its files are); the data root must hold cifar-10-batches-py/ in CIFAR's "
                    "python format, or pass --download")
    assert list(empty.iterdir()) == []


def test_cifar_needs_a_data_root_or_the_files_or_download(tmp_path):
    with pytest.raises(PreflightError, match="dataset cifar100 needs a data folder: pass --data-root"):
        preflight.check_data([dataset_config("cifar100")])
    preflight.check_data([dataset_config("cifar10", unreadable_cifar(tmp_path / "c10"))])
    with pytest.raises(PreflightError, match="no cifar100 at --data-root"):  # CIFAR-10's files are not CIFAR-100's
        preflight.check_data([dataset_config("cifar100", tmp_path / "c10")])
    preflight.check_data([dataset_config("cifar100", tmp_path / "new" / "folder", download=True)])  # can be created
    with pytest.raises(PreflightError, match="to download into .*is not a folder"):
        preflight.check_data([dataset_config("cifar100", tmp_path / "c10" / "cifar-10-batches-py" / "test_batch", download=True)])
    preflight.check_data([dataset_config("digits")])  # built in


def test_imagefolder_tree(tmp_path):
    good = image_tree(tmp_path / "good", {"a": 3, "b": 2}, {"a": 1, "b": 1})
    preflight.check_data([dataset_config("imagefolder", good, batch_size=5)])
    with pytest.raises(PreflightError, match=r"train holds 5 images, fewer than optim.batch_size=6"):
        preflight.check_data([dataset_config("imagefolder", good, batch_size=6)])
    # The largest batch of the runs that share the folder decides.
    with pytest.raises(PreflightError, match="fewer than optim.batch_size=8"):
        preflight.check_data([dataset_config("imagefolder", good, batch_size=2), dataset_config("imagefolder", good, batch_size=8)])
    with pytest.raises(PreflightError, match=r"val/b: no image \(.jpg, .jpeg, .png"):
        preflight.check_data([dataset_config("imagefolder", image_tree(tmp_path / "e", {"a": 2, "b": 2}, {"a": 1, "b": 0}))])
    with pytest.raises(PreflightError, match=r"different class folders \(in one only: c\)"):
        preflight.check_data([dataset_config("imagefolder", image_tree(tmp_path / "d", {"a": 2, "c": 1}, {"a": 1}))])
    with pytest.raises(PreflightError, match="val is not a folder"):
        preflight.check_data([dataset_config("imagefolder", image_tree(tmp_path / "v", {"a": 2}, {}))])
    (tmp_path / "flat" / "train").mkdir(parents=True)
    (tmp_path / "flat" / "train" / "x.jpg").write_bytes(b"")
    with pytest.raises(PreflightError, match="train has no class folders"):
        preflight.check_data([dataset_config("imagefolder", tmp_path / "flat")])


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA")
def test_cuda_without_cuda(tiny_study, tmp_path, capsys):
    line = refused(capsys, ["run", str(tiny_study), "--device", "cuda"], tmp_path)
    assert "runtime.device='cuda' (--device): this machine has no cuda device" in line, line
    line = refused(capsys, ["run", str(tiny_study), "--device", "gpu"], tmp_path)
    assert "runtime.device='gpu' (--device): not a device name (cpu, cuda, cuda:1, mps, ...)" in line, line
    preflight.check_device("cuda:3", here=False)  # on SLURM the node's devices count, not this machine's
    with pytest.raises(PreflightError, match="not a device name"):
        preflight.check_device("cuda:x", here=False)


def test_a_device_index_beyond_the_machine(monkeypatch):
    monkeypatch.setattr(torch.accelerator, "is_available", lambda: True)
    monkeypatch.setattr(torch.accelerator, "current_accelerator", lambda: torch.device("cuda"))
    monkeypatch.setattr(torch.accelerator, "device_count", lambda: 2)
    preflight.check_device("cuda")
    preflight.check_device("cuda:1")
    with pytest.raises(PreflightError, match=r"this machine has 2 cuda device\(s\), cuda:0 to cuda:1"):
        preflight.check_device("cuda:2")


def test_results_and_reports_must_be_writable(tiny_study, tmp_path, capsys):
    afile = tmp_path / "a_file"
    afile.write_text("")
    results, reports = str(afile / "results"), str(tmp_path / "reports")
    assert main(["run", str(tiny_study), "--results", results, "--reports", reports]) == 2
    assert f"results folder (--results) {afile}/results: {afile} is not a folder" in capsys.readouterr().err
    assert main(["run", str(tiny_study), "--results", str(tmp_path / "r"), "--reports", "/proc/reports"]) == 2
    assert "reports folder (--reports) /proc/reports: cannot write in /proc" in capsys.readouterr().err
    assert main(["report", str(tiny_study), "--results", str(tmp_path / "r"), "--reports", "/proc/reports"]) == 2
    assert "cannot write in /proc" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a_file", "tiny_test.yaml"]
    preflight.check_writable(tmp_path / "new" / "deeper", "results folder")  # creatable: fine, and not created
    assert not (tmp_path / "new").exists()
    (tmp_path / "link").symlink_to(tmp_path / "nowhere")
    with pytest.raises(PreflightError, match=r"link is a symbolic link to nothing"):  # was a FileExistsError traceback
        preflight.check_writable(tmp_path / "link" / "results", "results folder")


def test_finished_runs_need_nothing(tiny_study, tmp_path, monkeypatch):
    # Only the runs to train are checked: a study whose runs are all done rewrites its report without its data.
    checked = []
    monkeypatch.setattr(preflight, "check_data", lambda configs: checked.append(len(configs)))
    preflight.check([])
    preflight.check([dataset_config("digits")] * 2)
    assert checked == [2]


PARTITIONS = {
    "debug": {"PartitionName": "debug", "Default": "YES", "State": "UP", "MaxTime": "UNLIMITED",
              "MaxNodes": "UNLIMITED", "TotalNodes": "4"},
    "short": {"PartitionName": "short", "State": "UP", "MaxTime": "01:00:00", "MaxNodes": "2", "TotalNodes": "8"},
    "gpu": {"PartitionName": "gpu", "State": "UP", "MaxTime": "2-00:00:00", "MaxNodes": "UNLIMITED", "TotalNodes": "2"},
    "old": {"PartitionName": "old", "State": "DRAIN", "MaxTime": "UNLIMITED", "TotalNodes": "1"},
}


@pytest.fixture
def fake_cluster(monkeypatch):
    from harness.launch import slurm_queue

    monkeypatch.setattr(slurm_queue, "partitions", lambda: PARTITIONS)
    monkeypatch.setattr(slurm_queue, "gpus_per_node", lambda name: 4 if name == "gpu" else 0)


@pytest.mark.parametrize(
    "options, problem",
    [
        ({}, None),  # the default partition
        ({"partition": "short", "time_min": 60, "nodes": 2}, None),
        ({"partition": "gpu", "gpus_per_node": 4, "time_min": 2880}, None),
        ({"partition": "short,gpu", "time_min": 120}, None),  # the job may run in either
        ({"partition": "nope"}, "--partition nope: no such partition (partitions: debug, short, gpu, old)"),
        ({"partition": "short", "time_min": 61}, "--time 61 (minutes) is over partition short's MaxTime of 60 minutes"),
        ({"partition": "short", "nodes": 3}, "--nodes 3 is over partition short's MaxNodes of 2"),
        ({"nodes": 5}, "--nodes 5 is over partition debug's node count of 4"),
        ({"gpus_per_node": 1}, "--gpus-per-node 1: partition debug has no GPUs (sinfo's Gres)"),
        ({"partition": "gpu", "gpus_per_node": 8}, "partition gpu has at most 4 GPUs per node"),
        ({"partition": "old"}, "partition old is DRAIN: it takes no new jobs"),
        ({"partition": "short,debug", "gpus_per_node": 1}, "partition short has no GPUs"),  # neither can
    ],
)
def test_slurm_options_against_the_partition(fake_cluster, options, problem):
    spec = SlurmSpec(**options)
    if problem is None:
        preflight.check_slurm(spec)
    else:
        with pytest.raises(PreflightError, match=problem.replace("(", r"\(").replace(")", r"\)")):
            preflight.check_slurm(spec)


def test_no_partition_and_no_default(monkeypatch):
    from harness.launch import slurm_queue

    monkeypatch.setattr(slurm_queue, "partitions", lambda: {"a": {"PartitionName": "a"}})
    with pytest.raises(PreflightError, match=r"no --partition given and the cluster has no default partition \(partitions: a\)"):
        preflight.check_slurm(SlurmSpec())


def test_slurm_time_limits_read_as_minutes():
    from harness.launch.slurm_queue import minutes

    assert [minutes(t) for t in ("60", "30:30", "01:00:00", "2-00:00:00", "1-12", "1-02:30")] == [
        60, 30.5, 60, 2880, 2160, 1590]
    assert minutes("UNLIMITED") is None and minutes("INFINITE") is None


# ---- a method's constraint against the launch options (issue 28) ---------------------------------------

@pytest.mark.parametrize("options, ranks", [
    (["--tasks-per-node", "2"], "2 ranks (--nodes 1 x --tasks-per-node 2)"),
    (["--nodes", "2"], "2 ranks (--nodes 2 x --gpus-per-node 0, a rank per GPU)"),
    (["--nodes", "2", "--gpus-per-node", "4"], "8 ranks (--nodes 2 x --gpus-per-node 4, a rank per GPU)"),
])
@pytest.mark.parametrize("dry_run", [[], ["--dry-run"]])
def test_the_per_image_eta_with_several_ranks_is_refused_before_submitting(tmp_path, capsys, options, ranks, dry_run):
    # Issue 28: it passed the preflight and a SLURM dry run; only the node's attach_data refused it.
    path = study(tmp_path, "base: {method.eta_momentum: 0.8}")
    line = refused(capsys, ["run", str(path), "--executor", "slurm", *options, *dry_run], tmp_path)
    assert line == ("harness: error: method.eta_momentum keeps eta per training image in one process: it does not "
                    f"run with {ranks}")


def test_a_methods_constraint_on_ranks_is_its_sections():
    eta = SimSiamMethod(eta_momentum=0.8)
    assert eta.ranks_problem(1) is None and "does not run with 2 ranks" in eta.ranks_problem(2)
    assert SimSiamMethod().ranks_problem(8) is None and BYOLMethod().ranks_problem(8) is None
    preflight.check_ranks([config(method={"name": "simsiam", "eta_momentum": 0.8})], None)  # here: one process
    with pytest.raises(PreflightError, match=r"^method.eta_momentum .* with 2 ranks \(--nodes 1 x --tasks-per-node 2\)$"):
        preflight.check_ranks([config(), config(method={"name": "simsiam", "eta_momentum": 0.8})],
                              SlurmSpec(tasks_per_node=2))
