"""Preflight: before `harness run` trains or submits anything, check what the runs it would train
need and what can be known from here, so that a mistake is one line and exit status 2 with nothing
written, not a study of runs that each fail at once (or a queue of SLURM jobs that each fail on a
GPU node).

Checked, for the runs to train or submit (not those done):
- the dataset at runtime.data_root (--data-root): CIFAR's batch files, or an ImageFolder tree with
  the same class folders in train/ and val/, an image in each, and a training batch's worth; with
  --download, a data root that can be created;
- the user's own dataset (data.dataset module:function, harness/data/plugin.py): that it imports and
  gives train and test splits, a training batch's worth, and items training can read, checked over
  every item of a split of at most plugin.SAMPLE (256; else that many evenly spaced, the first and
  the last among them) and every label of its `targets`: (image, label) pairs, PIL images or [C,H,W]
  tensors of 1 or 3 channels (an [H,W,C] one named as such), uint8 or float, labels integral and in
  [0, classes), a `mean` and `std` per channel. Its images' channel count follows from them
  whatever their order (1 if all checked are grayscale, else 3: plugin.py converts each as it reads it);
- a registry's backbone (backbone.name torchvision:<model>, timm:<model>): that the registry has
  it (else the close matches), that a CIFAR stem has a ResNet stem to replace, and that a batch of 2
  of the runs' images (data.image_size, the dataset's channel count) goes through it on the CPU and
  gives features; the refusal quotes the model's complaint;
- a user's method: that the implementation its registration names imports and is a Method (planning
  reads the registration alone, torch-free); a plug-in's module that raises or exits on import is
  refused naming the key and the module (harness/plugins.py);
- each method's constraint on the processes that train one run (its section's ranks_problem):
  one here, --nodes x the ranks per node on SLURM (method.eta_momentum needs one);
- runtime.loggers: that each asked for is installed (its pyproject extra, harness/loggers.py);
- runtime.device (--device): a device torch knows, and here, one this machine has (on SLURM the
  device is the node's: only the name is checked);
- the results and reports folders: writable, or creatable under a writable folder;
- on SLURM, the job options against the partition (`scontrol show partition`, `sinfo`): that it
  exists and accepts jobs, its MaxTime, MaxNodes and node count, and its GPUs (Gres).
Not checked: what only reading the data or training shows (a corrupt image, a user's item beyond
those checked, which training refuses as it reads it, the memory a batch takes), and what the
cluster keeps elsewhere (accounts, QOS limits). Torch is imported by the checks that need it alone:
a built-in study on the digits, on the CPU, is checked without it.
"""

from __future__ import annotations

import importlib.util
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path

from harness.config import RunConfig
from harness.data.datasets import dataset
from harness.loggers import REQUIRES
from harness.methods.registry import BUILT_IN
from harness.spec import SlurmSpec, SpecError


class PreflightError(SpecError):
    """Something a planned run needs is not here. One line; the command exits 2."""


def check(configs: Iterable[RunConfig], slurm: SlurmSpec | None = None, data: bool = True) -> None:
    """What the runs with these configs need to be trained here (slurm None) or submitted, beyond
    the results and reports folders (check_writable)."""
    configs = list(configs)
    if not configs:
        return
    channels = check_data(configs) if data else {}
    check_methods(configs)
    check_ranks(configs, slurm)
    check_loggers(configs)
    for device in sorted({c.runtime.device for c in configs}):
        check_device(device, here=slurm is None)
    if slurm is not None:
        check_slurm(slurm)
    check_backbones(configs, channels)  # last: a forward pass takes a second or more


def check_folder(path: Path, what: str) -> Path:
    """The folder, or the nearest one above it that exists (returned), is a folder: a file in the way
    would make every read below it fail."""
    path = Path(path).absolute()
    existing = path
    while not existing.exists():
        if existing.is_symlink():  # to nothing: a folder cannot be made there
            raise PreflightError(f"{what} {path}: {existing} is a symbolic link to nothing ({os.readlink(existing)})")
        existing = existing.parent
    if not existing.is_dir():
        raise PreflightError(f"{what} {path}: {existing} is not a folder")
    return existing


def check_writable(path: Path, what: str) -> None:
    """The folder exists and is writable, or the nearest folder above it that exists is. Leaves
    nothing behind: the kernel is asked with a file that has no name (O_TMPFILE), or one removed at
    once; os.access alone says yes to root on a folder like /proc."""
    existing = check_folder(path, what)
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as err:
        why = err.strerror or err
        raise PreflightError(f"{what} {Path(path).absolute()}: cannot write in {existing} ({why})") from None


def check_backbones(configs: list[RunConfig], channels: dict[tuple, int] | None = None) -> None:
    """A registry's backbone (torchvision:<name>, timm:<name>) is one the registry has, and it takes a
    batch of the run's images (their size, and their channel count: `channels` by the dataset's key,
    as check_data found it, else the dataset's own)."""
    channels = channels or {}
    probes = {(c.backbone.name, c.backbone.cifar_stem, c.data.image_size,
               channels.get(_data_key(c)) or dataset(c.data.dataset).channels) for c in configs if ":" in c.backbone.name}
    if not probes:
        return
    from harness.nets import registry

    for name, cifar_stem, image_size, in_channels in sorted(probes):
        why = registry.problem(name, cifar_stem) or registry.forward_problem(name, in_channels, image_size, cifar_stem)
        if why:
            raise PreflightError(why)


def check_methods(configs: list[RunConfig]) -> None:
    """A user's method's implementation (module.path:Class in its registration) imports and is a
    Method. The built-ins' are the harness's own, and importing them here would import torch."""
    plug_ins = sorted({c.method.name for c in configs} - BUILT_IN.keys())
    if not plug_ins:
        return
    from harness.methods.factory import method_class

    for name in plug_ins:
        try:
            method_class(name)
        except ValueError as err:
            raise PreflightError(str(err)) from None


def check_ranks(configs: list[RunConfig], slurm: SlurmSpec | None) -> None:
    """Each method's constraint on the processes that train one of its runs: one here, --nodes times
    the ranks per node on SLURM (the method's section says, harness/methods/sections.py)."""
    if slurm is None:
        return
    ranks = slurm.nodes * slurm.ranks_per_node
    problems = sorted({c.method.ranks_problem(ranks) for c in configs} - {None})
    if problems:
        per_node = (f"--tasks-per-node {slurm.tasks_per_node}" if slurm.tasks_per_node
                    else f"--gpus-per-node {slurm.gpus_per_node}, a rank per GPU")
        raise PreflightError(f"{problems[0]} (--nodes {slurm.nodes} x {per_node})")


def check_data(configs: list[RunConfig]) -> dict[tuple, int]:
    """Each dataset's own check (harness/data/datasets.py), once per dataset and folder, against the
    largest batch drawn from it; with --download, that the folder it downloads into can be written.
    Returns the channel count of each one's images."""
    needs: dict[tuple, int] = {}
    example: dict[tuple, RunConfig] = {}
    for c in configs:
        key = _data_key(c)
        needs[key] = max(needs.get(key, 0), c.optim.batch_size)
        example.setdefault(key, c)
    channels = {}
    for key, batch_size in needs.items():
        data, config = dataset(key[0]), example[key]
        try:
            channels[key] = data.check(config, batch_size)
            folder = data.download_into(config)
        except ValueError as err:
            raise PreflightError(str(err)) from None
        if folder is not None:
            check_writable(folder, "data folder (--data-root) to download into")
    return channels


def _data_key(config: RunConfig) -> tuple:
    """What a dataset's check depends on besides the batch: its name and folder, and --download."""
    return config.data.dataset, config.runtime.data_root, config.runtime.download


def check_loggers(configs: list[RunConfig]) -> None:
    """Each logger in runtime.loggers has its module installed (without importing it: wandb's import
    takes seconds). Here and on SLURM alike: the job runs on this environment's Python."""
    for name in sorted({name for c in configs for name in c.runtime.loggers}):
        if importlib.util.find_spec(REQUIRES[name]) is None:
            raise PreflightError(f"runtime.loggers: {name} is not installed; pip install 'harness[{name}]'")


def check_device(name: str, here: bool = True) -> None:
    """A device torch can parse, and with `here`, one this machine has."""
    if name == "cpu":  # without importing torch
        return
    import torch

    try:
        device = torch.device(name)
    except (RuntimeError, ValueError):
        raise PreflightError(
            f"runtime.device={name!r} (--device): not a device name (cpu, cuda, cuda:1, mps, ...)") from None
    if not here or device.type == "cpu":
        return
    accelerator = torch.accelerator.current_accelerator() if torch.accelerator.is_available() else None
    count = torch.accelerator.device_count() if accelerator is not None and accelerator.type == device.type else 0
    if not count:
        if device.type != "cuda":
            why = f"torch's accelerator here is {accelerator.type if accelerator else 'none'}"
        elif torch.version.cuda is None and torch.version.hip is None:
            why = f"this torch ({torch.__version__}) is built without CUDA"
        else:
            why = "torch sees no GPU: check the driver and CUDA_VISIBLE_DEVICES"
        raise PreflightError(f"runtime.device={name!r} (--device): this machine has no {device.type} device; {why}")
    if device.index is not None and device.index >= count:
        raise PreflightError(f"runtime.device={name!r} (--device): this machine has {count} {device.type} "
                             f"device(s), {device.type}:0 to {device.type}:{count - 1}")


def check_slurm(options: SlurmSpec) -> None:
    """The job options against what the cluster says of the partition(s) they name (or its default)."""
    from harness.launch import slurm_queue

    partitions = slurm_queue.partitions()
    if options.partition:
        names = options.partition.split(",")  # sbatch takes a list: the job runs in the first that can
    else:
        names = [n for n, fields in partitions.items() if fields.get("Default") == "YES"]
        if not names:
            raise PreflightError("no --partition given and the cluster has no default partition "
                                 f"(partitions: {', '.join(partitions)})")
    unknown = [n for n in names if n not in partitions]
    if unknown:
        raise PreflightError(f"--partition {unknown[0]}: no such partition (partitions: {', '.join(partitions)})")
    problems = [_partition_problem(name, partitions[name], options) for name in names]
    if all(problems):
        raise PreflightError(problems[0])


def _partition_problem(name: str, fields: dict[str, str], options: SlurmSpec) -> str | None:
    from harness.launch import slurm_queue

    state = fields.get("State", "UP")
    if state in ("DRAIN", "INACTIVE"):
        return f"partition {name} is {state}: it takes no new jobs"
    max_time = slurm_queue.minutes(fields.get("MaxTime", "UNLIMITED"))
    if max_time is not None and options.time_min > max_time:
        return f"--time {options.time_min} (minutes) is over partition {name}'s MaxTime of {max_time:g} minutes"
    for key, what in (("MaxNodes", "MaxNodes"), ("TotalNodes", "node count")):
        limit = fields.get(key, "UNLIMITED")
        if limit.isdigit() and options.nodes > int(limit):
            return f"--nodes {options.nodes} is over partition {name}'s {what} of {limit}"
    if options.gpus_per_node:
        gpus = slurm_queue.gpus_per_node(name)
        if options.gpus_per_node > gpus:
            has = f"at most {gpus} GPUs per node" if gpus else "no GPUs"
            return f"--gpus-per-node {options.gpus_per_node}: partition {name} has {has} (sinfo's Gres)"
    return None
