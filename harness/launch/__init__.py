"""Launchers: turn planned runs into executed ones. Every executor calls launch.run_one.run_one.

Imported lazily: `harness status` reads SLURM's queue (launch/slurm_queue.py) without loading torch.
"""

__all__ = ["run_local", "run_one"]


def __getattr__(name: str):
    if name == "run_local":
        from harness.launch.local import run_local

        return run_local
    if name == "run_one":
        from harness.launch.run_one import run_one

        return run_one
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
