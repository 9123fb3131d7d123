"""`harness bench`: the numbers behind "training is compute-bound" and "orchestration scales".

training.py    compute vs the harness pipeline vs the official per-image pipeline, and the monitors
workload.py    the run being measured: data, networks, optimizer, and the training step
reference.py   the official SimSiam input pipeline (per-image transforms in DataLoader workers)
monitors.py    what each monitor costs per epoch
synthetic.py   random images in a dataset's shape, when its files are not at hand
orchestration.py  planning a big study and reading the status of a big results tree
"""

from harness.bench.orchestration import OrchestrationBench, bench_orchestration, format_orchestration
from harness.bench.training import TrainingBench, bench_training, format_training, profile_pipeline
from harness.bench.workload import Workload, build_workload

# Named workloads: what `--workload NAME` stands for.
WORKLOADS = {
    # The CIFAR-shaped workload of the performance targets: CIFAR ResNet-18, 32 px, batch 256, on
    # synthetic images (no download needed).
    "cifar": {"preset": "cifar10", "set": ["optim.batch_size=256"], "synthetic": True},
}

__all__ = [
    "WORKLOADS",
    "OrchestrationBench",
    "TrainingBench",
    "Workload",
    "bench_orchestration",
    "bench_training",
    "build_workload",
    "format_orchestration",
    "format_training",
    "profile_pipeline",
]
