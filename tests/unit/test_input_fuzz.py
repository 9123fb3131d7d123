"""Property-based: generated bad documents and command lines thrown at the spec loader and the CLI.
Each is refused with exit status 2 and exactly one line on stderr, no traceback, and nothing written
under the results and reports folders; generated command lines that may be fine never crash.
(The examples behind each kind are in test_inputs.py.)"""

from __future__ import annotations

import contextlib
import io
import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.cli import main
from harness.plan import load_study
from harness.spec import MAX_DEPTH, MAX_NODES, SpecError, all_keys

# Generous: a refusal takes milliseconds; the deadline catches one that expands what it should count.
FUZZ = settings(max_examples=60, deadline=10_000)
VALID = "name: fuzz\ntitle: t\n"
KEYS = [k for k in all_keys() if k != "seed"]


def command(argv: list[str], study: bytes | None = None, dry_run: bool = False) -> tuple[int, str, str, bool]:
    """Run the CLI in-process in a fresh folder (the study file, if given, at s.yaml); returns
    (exit status, stdout, stderr, whether anything appeared under the results or reports folders)."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        argv = [str(tmp / "s.yaml") if a == "STUDY" else a for a in argv]
        if study is not None:
            (tmp / "s.yaml").write_bytes(study)
        results, reports = tmp / "results", tmp / "reports"
        if argv[0] != "bench":
            argv += ["--results", str(results), "--reports", str(reports)]
        if dry_run:
            argv.append("--dry-run")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try:
                status = main(argv)
            except SystemExit as exit:  # argparse
                status = exit.code
        return status, out.getvalue(), err.getvalue(), results.exists() or reports.exists()


def assert_refused(result, *named: str) -> str:
    status, _, err, written = result
    assert status == 2, (status, err)
    assert len(err.splitlines()) == 1 and err.startswith("harness: error: ") and "Traceback" not in err, err
    assert not written
    for name in named:
        assert name in err, (name, err)
    return err


verbs = st.sampled_from(["run", "status", "report", "bench"])


@FUZZ
@given(st.binary(max_size=4096), verbs)
def test_random_bytes(data, verb):
    assert_refused(command([verb, "STUDY"], data))


@FUZZ
@given(st.text(max_size=300), st.integers(0, 300), verbs)
def test_text_with_a_nul(text, where, verb):
    encoded = text.encode()
    assert_refused(command([verb, "STUDY"], encoded[:where] + b"\0" + encoded[where:]), "NUL byte")


@FUZZ
@given(st.text(max_size=300).filter(lambda t: "\0" not in t), st.integers(0, 300),
       st.sampled_from([b"\xff", b"\xc0\x80", b"\xed\xa0\x80", b"\x80"]))
def test_text_that_is_not_utf8(text, where, bad):
    # Between two characters, so that the bad bytes are the first error.
    data = (VALID + text[:where]).encode() + bad + text[where:].encode()
    assert_refused(command(["run", "STUDY"], data), "not UTF-8 text")


@FUZZ
@given(st.integers(MAX_DEPTH + 1, 2000), st.sampled_from(["[", "{a: "]), st.sampled_from(["base", "grid", "variants"]))
def test_deep_nesting(depth, opener, section):
    closer = "]" if opener == "[" else "}"
    body = f"{VALID}{section}: {opener * depth}1{closer * depth}\n".encode()
    assert_refused(command(["status", "STUDY"], body), "nested deeper than 32 levels")


@FUZZ
@given(st.integers(2, 12), st.integers(3, 12), st.sampled_from(KEYS), st.sampled_from(["base", "variant", "set"]))
def test_alias_bombs(fanout, levels, key, where):
    if fanout ** levels <= MAX_NODES:
        levels = next(n for n in range(levels, 64) if fanout ** n > MAX_NODES)
    lines = [f"l0: &l0 [{', '.join(['x'] * fanout)}]"]
    lines += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * fanout)}]" for i in range(1, levels)]
    bomb = "{" + ", ".join(lines).replace(": &", ": &") + "}"
    if where == "set":
        assert_refused(command(["run", "STUDY", "--set", f"{key}={bomb}"], VALID.encode(), dry_run=True), "--set")
    else:
        section = "base" if where == "base" else "variants: {v"
        body = "\n".join(lines) + f"\n{VALID}{section}: {{{key}: *l{levels - 1}}}" + ("}" if where != "base" else "")
        assert_refused(command(["run", "STUDY"], body.encode(), dry_run=True), "aliases expand")


wrong_values = st.one_of(
    st.sampled_from([float("inf"), float("-inf"), float("nan")]),  # never a setting's value
    st.dictionaries(st.sampled_from(["x", "y"]), st.integers(), min_size=1),  # a mapping where a value belongs
)


@FUZZ
@given(st.sampled_from(KEYS), wrong_values, st.sampled_from(["base", "variant", "grid", "set"]))
def test_wrong_values_at_any_key(key, value, where):
    """Non-finite numbers and mappings are no setting's value: refused wherever they are set, naming
    the key (or, for a mapping, the unknown key below it)."""
    spec = {"name": "fuzz", "title": "t"}
    argv = ["run", "STUDY"]
    if where == "base":
        spec["base"] = {key: value}
    elif where == "variant":
        spec["variants"] = {"ok": {}, "bad": {key: value}}
    elif where == "grid":
        spec["grid"] = {key: [value]}
    else:
        argv += ["--set", f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}"]
    err = assert_refused(command(argv, yaml.safe_dump(spec).encode(), dry_run=True), key)
    assert "s.yaml" in err or "--set" in err, err


def documents(depth: int = 3):
    scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8))
    return st.recursive(scalars, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.sampled_from(
            ["name", "title", "base", "variants", "grid", "seeds", "presets", "preset_grid", "report", "slurm"]),
            st.text(max_size=6)), inner, max_size=4)), max_leaves=20)


@FUZZ
@given(documents())
def test_random_documents_never_crash(document):
    """Any YAML document: a plan (exit 0) or one line (exit 2), never a traceback."""
    status, out, err, written = command(["run", "STUDY"], yaml.safe_dump(document).encode(), dry_run=True)
    assert not written
    if status == 0:
        assert "dry run: nothing written" in out and err == ""
    else:
        assert_refused((status, out, err, written))


@FUZZ
@given(documents())
def test_the_loader_raises_only_spec_errors(document):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "s.yaml"
        path.write_text(yaml.safe_dump(document))
        try:
            load_study(path)
        except SpecError as err:
            assert "\n" not in str(err) and str(path) in str(err)


INT_OPTIONS = {  # option: the least value it takes
    "--jobs": 1, "--max-runs": 1, "--time": 1, "--nodes": 1, "--gpus-per-node": 0, "--tasks-per-node": 1,
    "--cpus-per-task": 1, "--array-parallelism": 1, "--runs-per-job": 1, "--max-timeouts": 0, "--signal-delay": 0,
}
NUMBER_OPTIONS = ["--poll", "--mem-gb"]


@st.composite
def bad_number(draw):
    option = draw(st.sampled_from(sorted(INT_OPTIONS) + NUMBER_OPTIONS))
    if option in INT_OPTIONS:
        value = draw(st.one_of(
            st.integers(max_value=INT_OPTIONS[option] - 1).map(str),
            st.floats(allow_nan=True, allow_infinity=True).map(repr),
            st.text(max_size=6).filter(lambda t: not t.strip().lstrip("+-").isdigit() and not t.startswith("-")),
            st.just("9" * 5000),
        ))
    else:
        value = draw(st.one_of(st.floats(max_value=0).map(repr), st.sampled_from(["nan", "inf", "-inf", "1e999", "x"])))
    return option, value


@FUZZ
@given(bad_number())
def test_bad_numbers_on_the_command_line(option_value):
    option, value = option_value
    # option=value: a value that starts with '-' would read as another option
    assert_refused(command(["run", "STUDY", f"{option}={value}"], VALID.encode()), f"argument {option}")


OPTIONS = ["--jobs", "--max-runs", "--preset", "--set", "--device", "--data-root", "--poll", "--time", "--nodes",
           "--gpus-per-node", "--runs-per-job", "--sbatch", "--partition", "--quiet", "--yes", "--download", "--wait",
           "--no-data-check", "--bogus", "-x"]


@FUZZ
@given(st.lists(st.one_of(st.sampled_from(OPTIONS), st.text(max_size=12).filter(lambda t: "\0" not in t)), max_size=8))
def test_random_command_lines_never_crash(args):
    """A dry run with any arguments: a plan (0) or one line (2), never a traceback and nothing written."""
    status, out, err, written = command(["run", "STUDY", *args], VALID.encode(), dry_run=True)
    assert not written and "Traceback" not in err, err
    assert status in (0, 2), (status, err)
    if status == 2:
        assert_refused((status, out, err, written))
