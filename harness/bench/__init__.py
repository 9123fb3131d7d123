"""The benchmarks: `harness bench` (is training compute-bound? does orchestration scale?), the
report's and the SLURM path's.

training.py    compute vs the harness pipeline vs the official per-image pipeline, and the monitors
workload.py    the run being measured: train.set_up's run, stepped by train.train_step
reference.py   the official SimSiam input pipeline (per-image transforms in DataLoader workers)
monitors.py    what each monitor costs per epoch
synthetic.py   random images in a dataset's shape, when its files are not at hand
study.py       what a seed of a study costs: its runs trained end to end
orchestration.py  planning a big study and reading the status of a big results tree
clock.py       wall-clock and CPU time together
report.py      writing the report of a synthetic 1,000-run study (python -m harness.bench.report)
slurm.py       the SLURM executor's overhead per run against the local one (python -m harness.bench.slurm)
"""
