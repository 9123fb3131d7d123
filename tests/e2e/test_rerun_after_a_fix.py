"""A plug-in method whose bug made its run diverge, fixed, then `harness run --rerun diverged`: the
run id does not cover the plug-in's code, so without --rerun the next `run` skips the run as finished."""

import sys

from harness import store
from harness.plan import load_study
from harness.spec import parse_set

from commandline import run
from conftest import FAST

REGISTRATION = """\
from harness.methods.registry import Registration
from harness.methods.sections import MethodSection, StopGradient, SymmetricLoss


class Section(StopGradient, SymmetricLoss, MethodSection):
    pass


METHOD = Registration(Section, "buggy.method:Buggy")
"""

METHOD = """\
import torch.nn.functional as F

from harness.methods.base import VIEW_PAIRS, Method, StepOutput


class Buggy(Method):
    def __init__(self, config, in_channels):
        super().__init__()
        self.build_online(config, in_channels)

    def forward(self, views):
        z, pre_bn = zip(*(self.project(v) for v in views))
        pairs = VIEW_PAIRS[self.config.method.loss]
        loss = sum(-F.cosine_similarity(self.predictor(z[i]), z[j].detach()).mean() for i, j in pairs) / len(pairs)
        return StepOutput(loss=loss{bug}, embedding=z[0], embedding_pre_bn=pre_bn[0])
"""


def test_a_diverged_plugin_run_is_trained_anew_after_its_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sys, "path", list(sys.path))  # the study's folder goes on it (plugins.search_beside)
    package = tmp_path / "buggy"
    package.mkdir()
    (package / "__init__.py").write_text(REGISTRATION)
    (package / "method.py").write_text(METHOD.format(bug=' * float("nan")'))
    study = tmp_path / "plug.yaml"
    study.write_text("name: plug\ntitle: t\nbase: {method.name: 'buggy:METHOD'}\n")

    assert run(study, tmp_path, "--jobs", "1") == 4
    hint = f"plug: 1 diverged; after a fix, `harness run {study} --rerun diverged` (with this command's"
    assert hint in capsys.readouterr().out
    assert run(study, tmp_path) == 4  # skipped as finished: the run id does not cover the plug-in's code
    assert "all 1 runs already finished; nothing to train" in capsys.readouterr().out

    (package / "method.py").write_text(METHOD.format(bug=""))  # the fix
    for name in ("buggy", "buggy.method"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    assert run(study, tmp_path, "--jobs", "1", "--rerun", "diverged") == 0
    out = capsys.readouterr().out
    assert f"plug: set 1 runs (1 diverged) aside in {tmp_path / 'results'}/plug.rerun-" in out
    assert "plug: 1 done; evaluations: 1 done\n" in out
    planned = load_study(study, overrides=parse_set(FAST)).runs[0]
    assert store.run_state(store.run_dir(tmp_path / "results", "plug", planned.run_id)) == store.RunState.DONE
    (aside,) = (tmp_path / "results").glob("plug.rerun-*")
    assert store.read_json(aside / planned.run_id / store.SUMMARY)["status"] == "diverged"  # kept, not deleted
