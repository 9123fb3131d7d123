"""Launchers: turn planned runs into executed ones. Every executor calls launch.run_one.run_one.

local.py (this process, or N worker processes), slurm.py (submitit job arrays, code_pin.py),
status.py (each planned run's state, and which runs are still to do; torch-free) and slurm_queue.py
(what the SLURM controller says of jobs and partitions; torch-free, for status).
"""
