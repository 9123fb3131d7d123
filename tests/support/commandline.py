"""The command line as the tests drive it: a refusal (exit 2, one line, nothing written), a study file
written from a few lines, a tiny study run."""

from pathlib import Path

from harness.cli import main

from conftest import fast_overrides


def refused(capsys, argv: list[str], tmp_path: Path) -> str:
    """Run the command line with tmp results/reports folders; it must exit 2 with one line on stderr
    and write nothing. Returns that line."""
    results, reports = tmp_path / "results", tmp_path / "reports"
    if argv[0] not in ("bench", "export"):  # they take no results or reports folder
        argv = [*argv, "--results", str(results), "--reports", str(reports)]
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


def write(tmp_path, text, name="s.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def run(study, tmp_path, *extra):
    return main(["run", str(study), "--results", str(tmp_path / "results"), "--reports",
                 str(tmp_path / "reports"), "--quiet", *fast_overrides(), *extra])
