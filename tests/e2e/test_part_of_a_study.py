"""A part of a study through the command line: one variant first, then more seeds of it (--only, --seeds),
and what status and the report read afterwards."""

from harness.cli import main
from harness.report.intervals import DECIDING_RULE

from commandline import run, write
from conftest import TINY_STUDY, fast_overrides


def row(markdown: str, variant: str) -> str:
    return next(line for line in markdown.splitlines() if line.startswith(f"| {variant} "))


def test_more_seeds_of_one_variant_train_only_the_missing_seed(tmp_path, capsys):
    study = write(tmp_path, TINY_STUDY.replace("seeds: [0]", "seeds: [0, 1]"), "tiny_test.yaml")
    assert run(study, tmp_path, "--only", "with_stop_gradient") == 0
    out = capsys.readouterr().out
    assert "training 2 of 2 runs" in out and "2 done" in out  # the selection's states; the whole study's report
    assert row((tmp_path / "reports" / "tiny_test.md").read_text(), "without_stop_gradient").endswith("| 2 missing |")

    assert run(study, tmp_path, "--only", "with_stop_gradient", "--seeds", "3") == 0
    out = capsys.readouterr().out
    assert "training 1 of 3 runs (2 already finished)" in out  # seed 2 alone
    markdown = (tmp_path / "reports" / "tiny_test.md").read_text()
    assert row(markdown, "with_stop_gradient").endswith("| 3 | 4 | 3 done |")
    assert row(markdown, "without_stop_gradient").endswith("| 3 missing |")  # the report's seeds are --seeds'

    # Without --seeds, status and the report read seed 2's run too: it is the study's run at that seed.
    results = ["--results", str(tmp_path / "results"), *fast_overrides()]
    assert main(["status", str(study), *results]) == 0
    out = capsys.readouterr().out
    assert "5 runs" in out and "with_stop_gradient seed=2" in out and "3 done, 2 new" in out
    assert main(["status", str(study), *results, "--only", "with_stop_gradient"]) == 0
    assert "3 runs (of 5, by --only/--where)" in capsys.readouterr().out
    assert main(["report", str(study), *results, "--reports", str(tmp_path / "again")]) == 0
    markdown = (tmp_path / "again" / "tiny_test.md").read_text()
    assert row(markdown, "with_stop_gradient").endswith("| 3 | 4 | 3 done |")
    assert row(markdown, "without_stop_gradient").endswith("| 2 missing |")
    assert f"would likely decide it: {DECIDING_RULE}." in markdown  # the estimate's rule
    assert run(study, tmp_path, "--only", "with_stop_gradient") == 0  # nothing to train; its report reads seed 2
    assert "all 2 runs already finished" in capsys.readouterr().out
    assert row((tmp_path / "reports" / "tiny_test.md").read_text(), "with_stop_gradient").endswith("| 3 | 4 | 3 done |")
