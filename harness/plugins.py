"""The user's own code, named in a study: `module.path:Name`, or the name of an entry point that an
installed package declares in a group (`harness.methods`). A study's folder is on the import path,
as a script's folder is for python, so a package beside the study imports without being installed.
A name that cannot be loaded is a ValueError of one line naming it and why: a module that raises,
or exits (`sys.exit()` in it), while it is imported is refused as one that is not there; only an
interrupt (KeyboardInterrupt) goes through."""

from __future__ import annotations

import functools
import importlib
import sys
from importlib.metadata import entry_points
from pathlib import Path


def load(name: str, group: str, what: str, built_in: tuple[str, ...] = ()):
    """The object `name` stands for: `module.path:Name` (Name may be dotted) or an entry point of `group`."""
    if ":" not in name:
        found = entry_points(group=group, name=name)
        if not found:
            raise ValueError(f"unknown {what} (known: {', '.join(built_in)}; or module.path:Name, "
                             f"or an entry point of {group})")
        entry = next(iter(found))
        try:
            return entry.load()
        except (Exception, SystemExit) as err:  # noqa: BLE001 - the installed package's module: say what
            raise ValueError(f"loading the entry point {name!r} ({entry.value}) {raised(err)}") from None
    module_name, _, attribute = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        raise ValueError(f"cannot import {what} module {module_name!r} ({err})") from None
    except (Exception, SystemExit) as err:  # noqa: BLE001 - the user's module raised while importing: say what
        raise ValueError(f"importing {what} module {module_name!r} {raised(err)}") from None
    try:
        return functools.reduce(getattr, attribute.split("."), module)
    except AttributeError:
        raise ValueError(f"{what} module {module_name!r} has no {attribute!r}") from None


def raised(err: BaseException) -> str:
    """What the user's code did instead of returning, as a refusal says it: "raised OSError: ...", or
    "exited (sys.exit(1))" for a SystemExit, which would otherwise end the harness with the user's
    status and no word."""
    if isinstance(err, SystemExit):
        return f"exited (sys.exit({'' if err.code is None else repr(err.code)}))"
    return f"raised {type(err).__name__}: {err}"


def search_beside(path: Path) -> None:
    """Put the folder of `path` (a study file) on the import path, first, once. Spawned workers
    inherit it; a SLURM job does not (install the package, or set PYTHONPATH, there)."""
    folder = str(Path(path).resolve().parent)
    if folder not in sys.path:
        sys.path.insert(0, folder)
