"""Launchers: turn planned runs into executed ones. Every executor calls launch.run_one.run_one."""

from harness.launch.local import run_local
from harness.launch.run_one import run_one

__all__ = ["run_local", "run_one"]
