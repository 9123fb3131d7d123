"""Bad input is refused at the door: whatever reads it (a study file, --set, a command-line option),
the command exits 2 with one line naming the file and the key, writes nothing and prints no
traceback. The examples of issue 14, and the other input kinds tried; the generated ones are in
test_input_fuzz.py."""


import pytest

from harness.cli import main

from commandline import refused, study


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


def bomb(levels: int = 7) -> bytes:
    """A "billion laughs": each level is 9 aliases of the one before, 9**levels strings in all."""
    lines = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, levels)]
    return ("\n".join(lines) + f"\nname: s\ntitle: t\nbase: {{optim.epochs: *l{levels - 1}}}\n").encode()


@pytest.mark.parametrize(
    "body, expected",
    [
        # issue 14: a study file of random bytes was a UnicodeDecodeError traceback
        (bytes([0xD1, 0x9C, 0xFF, 0x80]) * 64, "not UTF-8 text (byte 0xff at offset 2): a study file is UTF-8 YAML"),
        ("name: s\ntitle: caf\u00e9\n".encode("latin-1"), "not UTF-8 text (byte 0xe9 at offset 18)"),
        ("name: s\ntitle: t\n".encode("utf-16"), "UTF-16 or UTF-32 text: a study file is UTF-8 YAML"),
        (b"name: s\x00\ntitle: t\n", "binary (a NUL byte at offset 7): not a study file"),
        (b"name: s\ntitle: t\n" + b"#" * (1 << 20), "larger than 1 MiB: not a study file"),
        (b"name: s\ntitle: t\nbase: " + b"[" * 500 + b"]" * 500, "nested deeper than 32 levels: too large for a study (line 3)"),
        (b"name: s\ntitle: t\ngrid: {optim.epochs: [" + b"1," * 20_000 + b"1]}", "more than 10000 nodes"),
        (bomb(), "its aliases expand to more than 10000 nodes: too large for a study (line 5)"),
        (b"name: s\ntitle: t\nbase: &a {optim: *a}\n", "an alias refers to the node that contains it (line 3)"),
        (b"name: s\ntitle: t\nvariants: {[1, 2]: {}}\n", "not valid YAML: a key must be a scalar, not a list (line 3)"),
        (b"name: s\ntitle: t\nseeds: [" + b"7" * 5000 + b"]\n", "not valid YAML: Exceeds the limit (4300 digits)"),
        (b"name: s\ntitle: t\ndescription: 2026-13-45\n", "not valid YAML: month must be in 1..12"),
        (b"name: s\ntitle: t\nbase:\n\toptim.epochs: 3\n", "not valid YAML: found character '\\t' that cannot start any token (line 4)"),
        (b"name: s\n---\ntitle: t\n", "expected a single document in the stream but found another document (line 2)"),
        (b"", "a study file must be a mapping (name, title, variants, ...), got nothing (the file is empty)"),
        (b"- name: s\n", "a study file must be a mapping (name, title, variants, ...), got a list"),
        (b"name: s\ntitle: !!binary aGVsbG8K\n", "title: Input should be a valid string (got b'hello\\n')"),
        (b"name: !!python/object/apply:os.system ['true']\ntitle: t\n", "not valid YAML: could not determine a constructor"),
    ],
    ids=["random-bytes", "latin-1", "utf-16", "nul", "huge", "deep", "many-nodes", "alias-bomb", "recursive-alias",
         "list-key", "huge-int", "bad-date", "tab", "two-documents", "empty", "list", "binary-tag", "python-tag"],
)
def test_any_bytes_give_one_line(tmp_path, capsys, body, expected):
    path = study(tmp_path, body)
    for verb in ("run", "status", "report", "bench"):
        line = refused(capsys, [verb, str(path)], tmp_path)
        assert line.startswith(f"harness: error: {path}: ") and expected in line, line


def test_a_study_path_that_is_not_a_file(tmp_path, capsys):
    assert "cannot read study file: Is a directory" in refused(capsys, ["run", str(tmp_path)], tmp_path)
    assert "cannot read study file: No such file" in refused(capsys, ["run", str(tmp_path / "no.yaml")], tmp_path)
    assert "larger than 1 MiB" in refused(capsys, ["run", "/dev/zero"], tmp_path)  # read bounded, not forever


def test_bad_yaml_in_set_is_one_line(tmp_path, capsys):
    line = refused(capsys, ["run", str(study(tmp_path, "")), "--set", "optim.epochs=[1"], tmp_path)
    assert line == "harness: error: --set 'optim.epochs=[1': not valid YAML: expected ',' or ']', but got '<stream end>' (line 1)"


def test_merge_keys_are_yaml_not_duplicates(tmp_path):
    from harness.plan import load_study

    path = study(tmp_path, "variants:\n  a: &a {optim.epochs: 3, optim.base_lr: 0.1}\n  b: {<<: *a, optim.epochs: 5}")
    b = load_study(path).runs[1].config.optim
    assert (b.epochs, b.base_lr) == (5, 0.1)


@pytest.mark.parametrize("verb", ["run", "status", "report", "bench"])
def test_every_verb_refuses_a_huge_study_before_expanding_it(tmp_path, capsys, verb):
    import time

    values = ", ".join(str(i) for i in range(1, 1001))
    path = study(tmp_path, f"grid: {{optim.epochs: [{values}], optim.warmup_epochs: [{values}]}}")
    start = time.perf_counter()
    line = refused(capsys, [verb, str(path)], tmp_path)
    assert time.perf_counter() - start < 1, "status answered in minutes before: it expanded the million runs"
    assert "expands to 1000000 runs at preset tiny (1 variants x grid [1000, 1000] x 1 seeds), more than the " \
           "limit of 1000; pass --yes to accept any size, or --max-runs N" in line, line


def test_the_limit_counts_the_grid_at_the_preset(tmp_path, capsys):
    values = ", ".join(str(i) for i in range(1, 1201))
    path = study(tmp_path, f"grid: {{optim.epochs: [1]}}\npreset_grid: {{cifar10: {{optim.epochs: [{values}]}}}}")
    line = refused(capsys, ["status", str(path), "--preset", "cifar10"], tmp_path)
    assert "expands to 1200 runs at preset cifar10" in line, line
    assert main(["status", str(path), "--results", str(tmp_path / "results")]) == 0  # 1 run at tiny
    assert main(["status", str(path), "--preset", "cifar10", "--yes", "--results", str(tmp_path / "results")]) == 0


@pytest.mark.parametrize(
    "args, expected",
    [
        # issue 14: --jobs 0 and --jobs -2 started training
        (["--jobs", "0"], "argument --jobs: 0 is not a positive integer"),
        (["--jobs", "-2"], "argument --jobs: -2 is not a positive integer"),
        (["--jobs", "1.5"], "argument --jobs: '1.5' is not an integer"),
        (["--jobs", "9" * 5000], "argument --jobs: '99999999"),
        (["--max-runs", "0"], "argument --max-runs: 0 is not a positive integer"),
        (["--poll", "nan"], "argument --poll: nan is not a finite number > 0"),  # time.sleep(nan): a traceback
        (["--poll", "-1"], "argument --poll: -1 is not a finite number > 0"),
        (["--executor", "slurm", "--runs-per-job", "0"], "argument --runs-per-job: 0 is not a positive integer"),
        (["--executor", "slurm", "--array-parallelism", "0"], "argument --array-parallelism: 0 is not a positive"),
        (["--executor", "slurm", "--time", "0"], "argument --time: 0 is not a positive integer"),
        (["--executor", "slurm", "--nodes", "-1"], "argument --nodes: -1 is not a positive integer"),
        (["--executor", "slurm", "--gpus-per-node", "-1"], "argument --gpus-per-node: -1 is not a non-negative"),
        (["--executor", "slurm", "--max-timeouts", "-1"], "argument --max-timeouts: -1 is not a non-negative"),
        (["--executor", "slurm", "--mem-gb", "inf"], "argument --mem-gb: inf is not a finite number > 0"),
        (["--executor", "slurm", "--time", "1", "--signal-delay", "60"],
         "SLURM options: Value error, signal_delay_s (60 s) must be shorter than time_min (1 min)"),
        (["--executor", "slurm", "--sbatch", "mail-type=END\n#SBATCH --x"],
         "SLURM option sbatch: Value error, must be one line without control characters"),
        (["--executor", "slurm", "--sbatch", "mail type=END"], "'mail type' is not an sbatch option name"),
        (["--executor", "slurm", "--partition", "gpu\nx"], "SLURM option partition: Value error, must be one line"),
        (["--executor", "gpu"], "argument --executor: invalid choice: 'gpu' (choose from 'local', 'slurm')"),
        (["--preset", ""], "unknown preset '' (known: tiny, cifar10, imagenet)"),  # it trained at tiny
        (["--preset", "huge"], "unknown preset 'huge'"),
        (["--set", "optim.epochs"], "--set 'optim.epochs': expected key=value"),
        (["--set", "optim.epochs=\udcff"], "unacceptable character #xdcff"),  # a byte of argv that is not UTF-8
        (["--bogus"], "unrecognized arguments: --bogus (see harness --help)"),
    ],
)
def test_command_line_numbers_and_options_are_refused_in_one_line(tmp_path, capsys, args, expected):
    line = refused(capsys, ["run", str(study(tmp_path, "")), *args], tmp_path)
    assert line.startswith("harness: error: ") and expected in line, line


@pytest.mark.parametrize("verb, args", [("bench", ["--workers", "-1"]), ("bench", ["--steps", "0"]),
                                        ("status", ["--max-runs", "-5"]), ("report", ["--yes", "--max-runs", "x"])])
def test_other_verbs_refuse_bad_numbers(tmp_path, capsys, verb, args):
    line = refused(capsys, [verb, str(study(tmp_path, "")), *args], tmp_path)
    assert f"(see harness {verb} --help)" in line, line


def test_the_real_process_exits_2_in_one_line(tmp_path):
    """The issue's examples as a user meets them: `python -m harness`, its stderr and its exit status."""
    import subprocess
    import sys

    binary = study(tmp_path, bytes(range(256)) * 4, "binary.yaml")
    for argv in (["run", str(binary)], ["run", str(study(tmp_path, "")), "--jobs", "-2"]):
        proc = subprocess.run([sys.executable, "-m", "harness", *argv, "--results", str(tmp_path / "results")],
                              capture_output=True, text=True, cwd=tmp_path, timeout=120)
        assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and proc.stdout == "", proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "reports").exists()
