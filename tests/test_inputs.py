"""Bad input is refused at the door: whatever reads it (a study file, --set, a command-line option),
the command exits 2 with one line naming the file and the key, writes nothing and prints no
traceback. The examples of issue 14, and the other input kinds tried; the generated ones are in
test_input_fuzz.py."""

from pathlib import Path

import pytest

from harness.cli import main


def refused(capsys, argv: list[str], tmp_path: Path) -> str:
    """Run the command line with tmp results/reports folders; it must exit 2 with one line on stderr
    and write nothing. Returns that line."""
    results, reports = tmp_path / "results", tmp_path / "reports"
    argv = [*argv, "--results", str(results)] + (["--reports", str(reports)] if argv[0] != "bench" else [])
    try:
        status = main(argv)
    except SystemExit as exit:  # argparse
        status = exit.code
    err = capsys.readouterr().err
    assert status == 2, err
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert not results.exists() and not reports.exists()
    return err.strip()


def study(tmp_path: Path, body: str | bytes, name: str = "s.yaml") -> Path:
    path = tmp_path / name
    if isinstance(body, str):
        body = f"name: s\ntitle: t\n{body}\n".encode()
    path.write_bytes(body)
    return path


@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e400", "-1e400"])
def test_non_finite_numbers_are_refused(tmp_path, capsys, value):
    path = study(tmp_path, f"base: {{optim.base_lr: {value}}}")
    line = refused(capsys, ["run", str(path)], tmp_path)
    assert str(path) in line and "optim.base_lr" in line and ("finite" in line or "greater than 0" in line), line
    line = refused(capsys, ["run", str(study(tmp_path, "")), "--set", f"optim.momentum={value}"], tmp_path)
    assert "--set: optim.momentum: Input should be a finite number" in line, line


def test_non_finite_numbers_are_refused_in_every_section(tmp_path, capsys):
    claim = "report: {claims: [{kind: ordering, better: default, worse: default, margin: .inf, text: x}]}"
    line = refused(capsys, ["run", str(study(tmp_path, claim))], tmp_path)
    assert "report.claims.0.ordering.margin: Input should be a finite number" in line, line
    line = refused(capsys, ["run", str(study(tmp_path, "slurm: {mem_gb: .inf}")), "--dry-run"], tmp_path)
    assert "slurm.mem_gb: Input should be a finite number" in line, line
