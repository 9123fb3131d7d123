"""Property-based: generated specs either resolve to exactly what they say, or fail with one line
naming the file and the key - never a traceback, never a silent default."""

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness.plan import load_study
from harness.spec import SpecError, all_keys

VALID = {
    "optim.batch_size": st.integers(1, 4096),
    "optim.base_lr": st.floats(1e-6, 10, allow_nan=False),
    "optim.epochs": st.integers(1, 1000),
    "optim.weight_decay": st.floats(0, 1, allow_nan=False),
    "optim.momentum": st.floats(0, 0.999, allow_nan=False),
    "method.stop_gradient": st.booleans(),
    "method.loss": st.sampled_from(["symmetric", "asymmetric", "asymmetric_2x"]),
    "method.similarity": st.sampled_from(["cosine", "cross_entropy"]),
    "predictor.kind": st.sampled_from(["mlp", "none", "fixed"]),
    "predictor.lr": st.sampled_from(["cosine", "constant"]),
    "predictor.lr_mult": st.floats(0, 100, allow_nan=False),
    "heads.bn": st.sampled_from(["none", "hidden", "hidden_and_projector_output", "all"]),
    "projector.layers": st.integers(1, 4),
    "projector.out_dim": st.integers(1, 4096),
}
INVALID = {
    "optim.batch_size": st.one_of(st.integers(max_value=0), st.text(max_size=5), st.floats(0.5, 99.5)),
    "optim.base_lr": st.one_of(st.floats(max_value=0, allow_nan=False), st.just("fast"), st.booleans()),
    "optim.epochs": st.one_of(st.integers(max_value=0), st.just("10")),
    "optim.momentum": st.floats(1, 100, allow_nan=False),
    "method.stop_gradient": st.one_of(st.just("yes"), st.integers(2, 9)),
    "predictor.kind": st.text(min_size=1, max_size=8).filter(lambda s: s not in ("mlp", "none", "fixed")),
    "heads.bn": st.just("everywhere"),
    "projector.layers": st.integers(max_value=0),
}

KNOWN = set(all_keys())
unknown_keys = st.from_regex(r"(optim|method|data|heads)\.[a-z_]{3,12}", fullmatch=True).filter(lambda k: k not in KNOWN)


def write(tmp_path_factory, spec: dict):
    path = tmp_path_factory.mktemp("spec") / "study.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.fixed_dictionaries({}, optional=VALID))
def test_valid_overrides_resolve_to_exactly_what_they_say(tmp_path_factory, overrides):
    path = write(tmp_path_factory, {"name": "p", "title": "t", "variants": {"v": overrides}})
    config = load_study(path).runs[0].config.model_dump()
    for key, value in overrides.items():
        section, field = key.split(".")
        assert config[section][field] == value


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_invalid_overrides_fail_in_one_line_naming_file_and_key(tmp_path_factory, data):
    key = data.draw(st.sampled_from(sorted(INVALID)))
    bad = {key: data.draw(INVALID[key])}
    where = data.draw(st.sampled_from(["base", "variant", "grid"]))
    spec = {"name": "p", "title": "t"}
    if where == "base":
        spec["base"] = bad
    elif where == "variant":
        spec["variants"] = {"ok": {}, "bad": bad}
    else:
        spec["grid"] = {key: [bad[key]]}
    path = write(tmp_path_factory, spec)
    try:
        load_study(path)
    except SpecError as err:
        message = str(err)
        assert "\n" not in message and str(path) in message and key in message, message
    else:
        raise AssertionError(f"accepted {bad} in {where}")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(unknown_keys)
def test_unknown_keys_are_named(tmp_path_factory, key):
    path = write(tmp_path_factory, {"name": "p", "title": "t", "variants": {"v": {key: 1}}})
    try:
        load_study(path)
    except SpecError as err:
        assert f"unknown key {key!r}" in str(err) and str(path) in str(err)
    else:
        raise AssertionError(f"accepted unknown key {key}")
