"""A study file: its YAML read safely and within limits, validated against the study schema, every
key checked against RunConfig. Bad input raises SpecError, one line naming the file and the key;
nothing is written while validating.

Keys are dotted paths into RunConfig (``predictor.kind``); nested mappings are accepted and flattened.
harness/plan.py expands a validated study into its runs. The `report:` section is the report's own
(harness/report/schema.py validates it): here it is a mapping, so that planning never imports the report.
"""

from __future__ import annotations

import codecs
import difflib
import math
import re
import types
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Discriminator, Field, ValidationError, field_validator, model_validator

from harness.config import RENAMED_KEYS, RunConfig
from harness.section import Section
from harness.errors import SpecError, shown


# What a study file may be. One is a few KB (the largest in studies/ is 3.5 KB and 171 nodes); past
# these it is not a study, and reading it would only cost time (PyYAML reads ~20k nodes a second) or
# memory (a few aliases can stand for billions of nodes).
MAX_STUDY_BYTES = 1 << 20
MAX_DEPTH = 32  # mappings and lists within each other
MAX_NODES = 10_000  # scalars, mappings and lists, each alias counted as what it stands for


class YAMLLimitError(yaml.MarkedYAMLError):
    """A document past MAX_DEPTH or MAX_NODES, or an alias inside itself."""


class SpecLoader(yaml.SafeLoader):
    """yaml.SafeLoader (no object construction) that also reads 1e-4 as a float, rejects
    duplicate keys and stops at MAX_DEPTH and MAX_NODES. Plain PyYAML follows YAML 1.1 and reads
    exponents without a dot as strings, a trap for learning rates, and silently keeps the last of
    two equal keys (two variants named alike would quietly become one)."""

    depth = nodes = 0

    def compose_node(self, parent, index):
        # Counted as it is read: a deep document would exhaust Python's stack in the composer, and a
        # long one is refused before all of it is parsed.
        self.depth += 1
        self.nodes += 1
        try:
            _check_limits(self.nodes, self.depth, self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1

    def compose_document(self):
        node = super().compose_document()
        check_expanded(node)
        return node

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`: its keys may be overridden here
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
            except TypeError:  # a list or mapping as a key
                raise yaml.constructor.ConstructorError(
                    problem=f"a key must be a scalar, not a {type(key).__name__}", problem_mark=key_node.start_mark
                ) from None
            if duplicate:
                raise yaml.constructor.ConstructorError(problem=f"duplicate key {key!r}",
                                                        problem_mark=key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


SpecLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:[0-9][0-9_]*)(?:\.[0-9_]*)?[eE][-+]?[0-9]+$"),
    list("-+0123456789"),
)


def _check_limits(nodes: int, depth: int, mark, what: str = "") -> None:
    past = f"nested deeper than {MAX_DEPTH} levels" if depth > MAX_DEPTH else f"more than {MAX_NODES} nodes"
    if depth > MAX_DEPTH or nodes > MAX_NODES:
        raise YAMLLimitError(problem=f"{what}{past}: too large for a study", problem_mark=mark)


def check_expanded(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand past MAX_NODES or MAX_DEPTH, or into themselves,
    without expanding it: PyYAML builds an alias as the object it names, so a "billion laughs"
    loads in a blink and explodes only when it is walked. Each node is measured once (iteratively:
    an expanded depth may be far beyond the stack's)."""
    size: dict[int, tuple[int, int]] = {}  # id(node) -> (nodes, depth) with the aliases expanded
    open_ = set()  # the nodes on the path from the root to the one measured
    stack = [(root, False)]
    while stack:
        node, children_measured = stack.pop()
        key = id(node)
        if children_measured:
            open_.discard(key)
            measured = [size[id(c)] for c in _children(node)]
            nodes, depth = 1 + sum(n for n, _ in measured), 1 + max((d for _, d in measured), default=0)
            _check_limits(nodes, depth, node.start_mark, "its aliases expand to ")
            size[key] = (nodes, depth)
        elif key in open_:
            raise YAMLLimitError(problem="an alias refers to the node that contains it", problem_mark=node.start_mark)
        elif key not in size:
            open_.add(key)
            stack.append((node, True))
            stack.extend((c, False) for c in _children(node))


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    return list(node.value) if isinstance(node, yaml.SequenceNode) else []


def safe_load(text: str):
    return yaml.load(text, Loader=SpecLoader)  # noqa: S506 - SpecLoader is a SafeLoader


def parse_yaml(text: str, where: str):
    """safe_load, with any error of the text as one SpecError naming `where` and the line."""
    try:
        return safe_load(text)
    except yaml.MarkedYAMLError as err:
        problem = err.problem or err.context
        if err.context and problem.startswith("but "):  # "expected a single document ... but found another"
            problem = f"{err.context} {problem}"
        line = f" (line {err.problem_mark.line + 1})" if err.problem_mark else ""
        invalid = "" if isinstance(err, YAMLLimitError) else "not valid YAML: "
        raise SpecError(f"{where}: {invalid}{problem}{line}") from None
    except yaml.YAMLError as err:  # the reader's: a character YAML does not allow
        raise SpecError(f"{where}: not valid YAML: {str(err).splitlines()[0]}") from None
    except (ValueError, OverflowError) as err:  # a scalar Python cannot hold: 2001-13-45, an int of 5000 digits
        raise SpecError(f"{where}: not valid YAML: {str(err).split(';')[0]}") from None


def read_text(path: Path, what: str = "study file") -> str:
    """A file's text, refused in one line unless it is UTF-8 text of at most MAX_STUDY_BYTES."""
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_STUDY_BYTES + 1)  # bounded: the path may be /dev/zero or a pipe
    except OSError as err:
        raise SpecError(f"{path}: cannot read {what}: {err.strerror or err}") from None
    if len(data) > MAX_STUDY_BYTES:
        raise SpecError(f"{path}: larger than {MAX_STUDY_BYTES >> 20} MiB: not a {what}")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):  # the BOMs of UTF-32 start alike
        raise SpecError(f"{path}: UTF-16 or UTF-32 text: a {what} is UTF-8 YAML")
    nul = data.find(b"\0")
    if nul >= 0:
        raise SpecError(f"{path}: binary (a NUL byte at offset {nul}): not a {what}")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as err:
        raise SpecError(f"{path}: not UTF-8 text (byte 0x{data[err.start]:02x} at offset {err.start}): "
                        f"a {what} is UTF-8 YAML") from None


def same(a, b) -> bool:
    """Values from study files compare as numbers where both are numbers (1e-4 from one file, 0.0001
    from another)."""
    numbers = (int, float)
    if isinstance(a, numbers) and isinstance(b, numbers) and not isinstance(a, bool) and not isinstance(b, bool):
        return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)
    return a == b


def _one_line(value: str) -> str:
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must be one line without control characters")
    return value


class SlurmSpec(Section):
    """The SLURM resources of each job of a study (`harness run --executor slurm`). The study file's
    `slurm:` section sets them; the command line's options win."""

    partition: str | None = None
    time_min: int = Field(60, gt=0, description="time limit of a job in minutes")
    nodes: int = Field(1, gt=0)
    gpus_per_node: int = Field(0, ge=0)
    tasks_per_node: int | None = Field(None, gt=0, description="ranks per node; default one per GPU, or 1")
    cpus_per_task: int | None = Field(None, gt=0)
    mem_gb: float | None = Field(None, gt=0, description="memory per node")
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    array_parallelism: int = Field(64, gt=0, description="jobs of the study running at once")
    runs_per_job: int = Field(1, gt=0, description="runs packed into one job, trained one after another")
    max_timeouts: int = Field(3, ge=0, description="requeues after the time limit, per job")
    signal_delay_s: int = Field(120, ge=0, description="SLURM signals the job this long before its time limit")
    sbatch: dict[str, str | int] = Field({}, description="more sbatch options, e.g. {mail-type: END}")
    setup: list[str] = Field([], description="shell lines run before the job, e.g. module load ...")

    # Each of these becomes an `#SBATCH --key=value` line of the job script: a newline would end it there.
    @field_validator("partition", "account", "qos", "constraint")
    @classmethod
    def _one_line(cls, value):
        return value if value is None else _one_line(value)

    @field_validator("sbatch")
    @classmethod
    def _sbatch_lines(cls, sbatch):
        for key, value in sbatch.items():
            if not re.fullmatch(r"[A-Za-z][A-Za-z0-9-]*", key):
                raise ValueError(f"{shown(key)} is not an sbatch option name (letters, digits, '-')")
            _one_line(str(value))
        return sbatch

    @property
    def ranks_per_node(self) -> int:
        """One task (rank) per GPU, or as asked (several CPU tasks, for testing DDP)."""
        return self.tasks_per_node or max(1, self.gpus_per_node)

    @model_validator(mode="after")
    def _signal_before_the_limit(self):
        if self.signal_delay_s >= self.time_min * 60:  # signalled as it starts, it would requeue forever
            raise ValueError(f"signal_delay_s ({self.signal_delay_s} s) must be shorter than time_min "
                             f"({self.time_min} min)")
        return self


class Rule(Section):
    """Overrides for the runs whose variant and grid values match `when` (a value, or a list of
    values each), e.g. SimSiam Table 2's warm-up for batch sizes of 1024 and more only:
        {when: {optim.batch_size: [1024, 2048, 4096]}, set: {optim.warmup_epochs: 10}}
    With `preset`, the rule applies at that preset only; rules apply in file order."""

    when: dict[str, Any] = Field(min_length=1)
    set: dict[str, Any] = Field(min_length=1)
    preset: str | None = None

    def matches(self, labels: dict[str, Any], preset: str) -> bool:
        if self.preset not in (None, preset):
            return False
        return all(any(same(labels.get(key), v) for v in (values if isinstance(values, list) else [values]))
                   for key, values in self.when.items())


class StudySpec(Section):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
    title: str
    description: str = ""
    base: dict[str, Any] = {}
    presets: dict[str, dict[str, Any]] = {}
    variants: dict[str, dict[str, Any]] = Field(default_factory=lambda: {"default": {}}, min_length=1)
    grid: dict[str, list[Any]] = {}
    # Per-preset values for grid axes, replacing the grid's (e.g. batch sizes that fit the 1347
    # images of `tiny`): {preset: {axis: [values]}}; each axis must be in `grid`.
    preset_grid: dict[str, dict[str, list[Any]]] = {}
    seeds: list[int] = Field([0], min_length=1)
    rules: list[Rule] = []
    report: dict[str, Any] = Field({}, description="the report's section: harness/report/schema.py validates it")
    slurm: SlurmSpec = SlurmSpec()

    def grid_at(self, preset: str) -> dict[str, list[Any]]:
        """The grid at a preset: `grid` with the axes `preset_grid` replaces there."""
        return {**self.grid, **self.preset_grid.get(preset, {})}

    @field_validator("grid")
    @classmethod
    def _grid_axes_not_empty(cls, grid):
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid axis {key!r} has no values")
        return grid

    @field_validator("seeds")
    @classmethod
    def _seeds_unique(cls, seeds):
        if len(set(seeds)) != len(seeds) or min(seeds) < 0:
            raise ValueError(f"seeds must be distinct non-negative integers, got {seeds}")
        return seeds

    @field_validator("variants")
    @classmethod
    def _variant_names(cls, variants):
        for name in variants:
            if not isinstance(name, str) or not name.replace("_", "").replace("-", "").isalnum():
                raise ValueError(f"variant name {name!r} must be letters, digits, '_' or '-'")
        return variants


def flatten(overrides: dict, prefix: str = "") -> dict[str, Any]:
    """{'optim': {'lr': 1}} -> {'optim.lr': 1}; lists and scalars are leaves."""
    flat: dict[str, Any] = {}
    for key, value in overrides.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and _is_section(path):
            flat.update(flatten(value, path + "."))
        else:
            flat[path] = value
    return flat


def _section_types(annotation) -> list[type[Section]]:
    """The Section types a field can hold: one, or each member of a union (RunConfig.method)."""
    members = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else (annotation,)
    members = [typing.get_args(m)[0] if typing.get_origin(m) is typing.Annotated else m for m in members]
    return [m for m in members if isinstance(m, type) and issubclass(m, Section)]


def _member_field(models: list[type[BaseModel]], part):
    """The field `part` of the first of `models` that has it (a section, or a union's members)."""
    return next((m.model_fields[part] for m in models if part in m.model_fields), None)


def _field_at(path: str):
    """The pydantic field at a dotted path in RunConfig, or None if there is none. In a union section
    (method), a key of any member is found: the chosen member's validation rejects the others."""
    models: list[type[BaseModel]] = [RunConfig]
    field = None
    for part in path.split("."):
        field = _member_field(models, part)
        if field is None:
            return None
        models = _section_types(field.annotation)
    return field


def _is_section(path: str) -> bool:
    field = _field_at(path)
    return field is not None and bool(_section_types(field.annotation))


def _is_tagged_union(field) -> bool:
    """A union whose member is chosen by a tag (RunConfig.method by its name): pydantic's error
    locations name the tag after the field."""
    return field.discriminator is not None or any(isinstance(m, Discriminator) for m in field.metadata)


def key_of(loc: tuple, model: type[BaseModel] = RunConfig) -> str:
    """A location in `model` as pydantic gives it in an error, as a dotted key: without the tag it
    puts after a tagged union's field ('method', 'byol', 'tau_base' -> 'method.tau_base')."""
    parts, models, tagged = [], [model], False
    for part in loc:
        if tagged:  # the tag: the key goes on in any member that has it, as _field_at does
            tagged = False
            continue
        parts.append(str(part))
        field = _member_field(models, part)
        models = _section_types(field.annotation) if field else []
        tagged = field is not None and _is_tagged_union(field)
    return ".".join(parts)


def all_keys(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        sections = _section_types(field.annotation)
        for section in sections:
            keys += [k for k in all_keys(section, f"{prefix}{name}.") if k not in keys]
        if not sections:
            keys.append(f"{prefix}{name}")
    return keys


def check_keys(flat: dict[str, Any], where: str) -> None:
    for key in flat:
        check_key(key, where)


def check_key(key: str, where: str, method: Any = None, section: type[BaseModel] | None = None) -> None:
    """A key is RunConfig's. A method's key (method.*) is its section's: checked once the run's method
    (its name, its section) is known (plan.resolve); a layer of overrides is read before that, and
    leaves it to then."""
    if key.startswith("method.") and key != "method.name":
        path = tuple(key.split(".")[1:])
        if section is not None and not _in_section(path, section):
            raise SpecError(f"{where}: unknown key {key!r} for method.name={method!r}{did_you_mean(section, path)}")
    elif key in RENAMED_KEYS:
        raise SpecError(f"{where}: {key!r} is now {RENAMED_KEYS[key]}")
    elif _field_at(key) is None or _is_section(key):
        close = difflib.get_close_matches(key, all_keys(), n=1, cutoff=0.6)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SpecError(f"{where}: unknown key {key!r}{hint}")


def _in_section(path: tuple[str, ...], section: type[BaseModel]) -> bool:
    """Whether `path` is a field of `section` (or of its sections), or lies below a field that is not a
    section, whose value is the field's to refuse (method.loss.x: a loss is not a mapping)."""
    models = [section]
    for part in path:
        if not models:
            return True
        field = _member_field(models, part)
        if field is None:
            return False
        models = _section_types(field.annotation)
    return True


def parse_set(assignments: list[str]) -> dict[str, Any]:
    """`--set optim.epochs=5` -> {'optim.epochs': 5}; values are parsed as YAML scalars."""
    flat = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise SpecError(f"--set {item!r}: expected key=value")
        flat[key.strip()] = parse_yaml(raw, f"--set {item!r}") if raw.strip() else None
    check_keys(flat, "--set")
    return flat


# --seeds asks for at most this many (a typo such as 0-99999999 is refused, not expanded).
MAX_SEEDS = 10_000


def parse_seeds(text: str) -> list[int]:
    """--seeds: '0-9' (a range, both ends in), '0,3,7' (a list) or '5' (a count: seeds 0..4)."""
    where = f"--seeds {shown(text)}"
    parts = text.split(",") if "," in text else text.split("-", 1) if "-" in text.strip()[1:] else [text]
    try:
        numbers = [int(part) for part in parts]
    except ValueError:
        raise SpecError(f"{where}: expected a count (5), a range (0-9) or a list (0,3,7) of seeds") from None
    if "," in text:
        seeds = numbers
    elif len(numbers) == 2:  # a range: its end capped past the limit, so that a typo expands nothing
        if numbers[1] < numbers[0]:
            raise SpecError(f"{where}: a range runs from its first seed up to its last")
        seeds = list(range(numbers[0], min(numbers[1], numbers[0] + MAX_SEEDS) + 1))
    else:
        if numbers[0] < 1:
            raise SpecError(f"{where}: a count of seeds is at least 1 (seeds 0..N-1)")
        seeds = list(range(min(numbers[0], MAX_SEEDS + 1)))
    if len(seeds) > MAX_SEEDS:
        raise SpecError(f"{where}: more than {MAX_SEEDS} seeds")
    if len(set(seeds)) != len(seeds) or min(seeds) < 0:
        raise SpecError(f"{where}: seeds must be distinct non-negative integers")
    return seeds


def parse_where(assignments: list[str]) -> dict[str, Any]:
    """--where optim.batch_size=256 (repeatable) -> {'optim.batch_size': 256}; values as YAML scalars."""
    values = {}
    for item in assignments:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip() or not raw.strip():
            raise SpecError(f"--where {shown(item)}: expected a grid axis and one of its values, KEY=VALUE")
        values[key.strip()] = parse_yaml(raw, f"--where {shown(item)}")
    return values


def read_spec(path: Path) -> StudySpec:
    raw = parse_yaml(read_text(path), str(path))
    if not isinstance(raw, dict):
        got = "nothing (the file is empty)" if raw is None else f"a {type(raw).__name__}"
        raise SpecError(f"{path}: a study file must be a mapping (name, title, variants, ...), got {got}")
    try:
        return StudySpec.model_validate(raw)
    except ValidationError as err:
        raise invalid(err, str(path), StudySpec) from None


def invalid(err: ValidationError, where: str, model: type[BaseModel], prefix: str = "") -> SpecError:
    """The first error of validating `model` as one line naming the key (under `prefix`): an unknown
    key with its near miss among the keys allowed there, or the key, the problem and the value."""
    first = err.errors()[0]
    key = prefix + ".".join(str(p) for p in first["loc"])
    if first["type"] == "extra_forbidden":
        return SpecError(f"{where}: unknown key {key!r}{did_you_mean(model, first['loc'])}")
    return SpecError(f"{where}: {key}: {first['msg']} (got {shown(first.get('input'))})")


def did_you_mean(model: type[BaseModel], loc: tuple) -> str:
    """A near miss among the keys allowed where `loc` points in `model` (and its sections)."""
    for part in loc[:-1]:
        field = model.model_fields.get(str(part)) if isinstance(part, str) else None
        annotation = field.annotation if field else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return ""
        model = annotation
    close = difflib.get_close_matches(str(loc[-1]), list(model.model_fields), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
