"""`harness bench`: the numbers behind "training is compute-bound" and "orchestration scales".

training.py    compute vs the harness pipeline vs the official per-image pipeline, and the monitors
workload.py    the run being measured: data, networks, optimizer, and the training step
reference.py   the official SimSiam input pipeline (per-image transforms in DataLoader workers)
monitors.py    what each monitor costs per epoch
synthetic.py   random images in a dataset's shape, when its files are not at hand
study.py       what a seed of a study costs: its runs trained end to end
orchestration.py  planning a big study and reading the status of a big results tree
"""

from harness.bench.orchestration import OrchestrationBench, bench_orchestration, format_orchestration
from harness.bench.study import StudyTime, format_study_time, time_study_seed
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
    "StudyTime",
    "TrainingBench",
    "Workload",
    "bench_orchestration",
    "bench_training",
    "build_workload",
    "format_orchestration",
    "format_study_time",
    "format_training",
    "profile_pipeline",
    "time_study_seed",
]
