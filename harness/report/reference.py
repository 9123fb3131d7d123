"""The papers' published numbers (reference/papers.yaml, a data file in the package).

They are printed beside the reproduced numbers and never used as results. Entries marked
M (derived) or L (from memory, unverified) are shown with that mark. An entry with `peer: true`
holds other tools' published numbers (lightly's, solo-learn's), not a paper's: the report labels
them "peer", never "paper".
"""

from __future__ import annotations

import functools
from importlib import resources

import yaml

from harness.spec import same


@functools.cache
def papers() -> dict:
    text = resources.files("harness").joinpath("reference/papers.yaml").read_text()
    return yaml.safe_load(text)


def paper_table(ref: str) -> dict:
    """'simsiam.table1_predictor' -> that table's entry (rows, sure, note); KeyError names the ref."""
    paper, _, table = ref.partition(".")
    try:
        return papers()[paper][table]
    except KeyError:
        raise KeyError(f"papers.yaml has no table {ref!r}") from None


def citation(ref: str) -> str:
    return papers()[ref.partition(".")[0]].get("citation", "")


def source_word(ref: str | None) -> str:
    """'peer' for another tool's published numbers (an entry with `peer: true`), else 'paper'."""
    return "peer" if ref and papers().get(ref.partition(".")[0], {}).get("peer") else "paper"


def value_fields(report) -> list[str]:
    """The paper fields report.paper_value names: one, one per variant ({variant: field}), or a list,
    each its own column (a peer's several setups: lightly's kNN at batch 128 and 512)."""
    value = report.paper_value
    if isinstance(value, dict):
        return list(value.values())
    return list(value) if isinstance(value, list) else [value]


def axis_field(axis: str) -> str:
    """The paper rows' field an axis is matched on by default: 'variant', or the key's last part
    (optim.batch_size -> batch_size)."""
    return axis.rsplit(".", 1)[-1]


def sureness(table: dict, row: dict, field: str) -> str:
    """How sure papers.yaml is of one number (H, M or L): the row's `sure`, else the table's, each
    either one mark or one per field (Fig. 5 of MoCo v3: learned read in the paper, frozen derived)."""
    sure = row.get("sure", table.get("sure", "H"))
    return sure.get(field, "H") if isinstance(sure, dict) else sure


class PaperNumbers:
    """The published number for a cell of a study's table.

    A cell is a point: {axis: value} over the study's axes ("variant" and the grid keys). Each axis
    is matched on one field of the paper's rows (report.paper_key for report.rows,
    report.paper_column_key for report.columns, otherwise axis_field). An axis is not matched on
    when no paper row has its field (a grid axis the paper did not vary), nor when the study gives
    it a single value that no paper row holds (a study without variants runs one named 'default';
    it tells no paper row from another). report.paper_value names the field holding the number, or
    maps variants to fields (BYOL Table 16: {byol: byol, simclr: simclr}); then the variant picks
    the field and is not matched on.
    """

    def __init__(self, report, axes: dict[str, list]):
        """axes: the study's axes, each with the values its runs take (schema.axis_values)."""
        self.ref = report.paper
        self.table = paper_table(report.paper)
        self.rows = self.table.get("rows") or []
        self.value = report.paper_value
        fields = {axis: axis_field(axis) for axis in axes}
        if report.paper_key:
            fields[report.rows] = report.paper_key
        if report.columns and report.paper_column_key:
            fields[report.columns] = report.paper_column_key
        present = {field for row in self.rows for field in row}
        for axis, field in fields.items():
            explicit = (axis == report.rows and report.paper_key) or (
                axis == report.columns and report.paper_column_key)
            if explicit and field not in present and self.rows:
                raise KeyError(f"{self.ref} has no field {field!r} in its rows (fields: {', '.join(sorted(present))})")
        for field in value_fields(report):
            if self.rows and field not in present:
                raise KeyError(f"{self.ref} has no field {field!r} for report.paper_value "
                               f"(fields: {', '.join(sorted(present))})")
        def tells_rows_apart(axis: str, field: str) -> bool:
            values = axes[axis]
            return len(values) != 1 or any(same(row.get(field), values[0]) for row in self.rows)

        self.match = {axis: field for axis, field in fields.items()
                      if field in present and not (axis == "variant" and isinstance(self.value, dict))
                      and tells_rows_apart(axis, field)}

    @property
    def published(self) -> bool:
        """False for a paper table without per-point numbers (e.g. SimCLR v2 Fig. 5: a trend only)."""
        return bool(self.rows)

    @property
    def note(self) -> str:
        return self.table.get("note", "")

    def lookup(self, point: dict) -> dict | None:
        """The paper row for a point, or None; ValueError if several rows match."""
        matches = [row for row in self.rows
                   if all(axis in point and same(row.get(field), point[axis]) for axis, field in self.match.items())]
        if not self.match or not matches:
            return None
        if len(matches) > 1:
            keys = ", ".join(f"{a} -> {f}" for a, f in self.match.items())
            raise ValueError(f"{len(matches)} rows of {self.ref} match {point} (matched on {keys}); "
                             "set report.paper_key / paper_column_key")
        return matches[0]

    @property
    def fields(self) -> list[str | None]:
        """One entry per paper column: the listed fields, or one (None: the point's own `field`)."""
        return list(self.value) if isinstance(self.value, list) else [None]

    def field(self, point: dict) -> str | None:
        if isinstance(self.value, dict):
            return self.value.get(point.get("variant"))
        return self.value[0] if isinstance(self.value, list) else self.value

    def cell(self, point: dict, field: str | None = None) -> str:
        """'67.7', '62.8 ± 1.5', '70.8 (M)', the row's note when it has no number, or '-'; of `field`
        (one of `fields`) or the point's own."""
        row, field = self.lookup(point), field or self.field(point)
        if row is None or field is None:
            return "-"
        if isinstance(self.value, list) and field not in row:
            return "-"  # the row is another column's setup (lightly has no batch 128 at 800 epochs)
        value = row.get(field)
        if value is None:
            return row.get("note", "n/a")
        text = f"{value}" + (f" ± {row['pm']}" if "pm" in row else "")
        sure = sureness(self.table, row, field)
        return text + ("" if sure == "H" else f" ({sure})")

    def number(self, point: dict) -> float | None:
        row, field = self.lookup(point), self.field(point)
        value = None if row is None or field is None else row.get(field)
        return float(value) if isinstance(value, (int, float)) else None
