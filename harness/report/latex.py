"""A study's table as LaTeX, for the paper: reports/<study>.tex.

The same Table the Markdown and HTML show (report/tables.py: mean ± std over seeds, the seeds and
epochs behind each row, the paper's number beside), as a booktabs `table` float: a fragment that a
paper pastes or \\input{}s, its preamble having \\usepackage{booktabs}. Every cell, heading and the
caption are escaped: LaTeX's special characters and the few non-ASCII signs a report writes (±, –,
×, √, ‖) become commands that pdflatex typesets in any document.
"""

from __future__ import annotations

import re

from harness.report.tables import Table, is_number

# One pass over the text (str.translate), so that no replacement is escaped again.
ESCAPES = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
    "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
    "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}",  # OT1 fonts print others there
    "±": r"$\pm$", "–": "--", "—": "---", "−": "$-$", "×": r"$\times$", "√": r"$\surd$", "‖": r"$\|$",
    "≥": r"$\geq$", "≤": r"$\leq$", "\n": " ", "\r": " ",
}
_TABLE = str.maketrans(ESCAPES)


def latex_escape(text: str) -> str:
    return str(text).translate(_TABLE)


def label(name: str) -> str:
    """A \\label key from a study name (spec.py allows letters, digits, '_', '.', '-')."""
    return "tab:" + re.sub(r"[^A-Za-z0-9_.:-]", "-", name)


def alignment(table: Table) -> str:
    """r for a column of numbers (and '-' for none), l for any other."""
    def numbers(i: int) -> bool:
        cells = [row[i] for row in table.rows if row[i] not in ("", "-")]
        return bool(cells) and all(is_number(c) for c in cells)

    return "".join("r" if numbers(i) else "l" for i in range(len(table.columns)))


def to_latex(table: Table, caption: str, name: str) -> str:
    """The table as a booktabs `table` float, captioned and labelled tab:<name>; its notes as comments."""
    line = lambda cells: " & ".join(latex_escape(c) for c in cells) + r" \\"  # noqa: E731
    return "\n".join([
        f"% {name}: written by harness report; needs \\usepackage{{booktabs}}",
        *(f"% note: {latex_escape(note)}" for note in table.notes),
        r"\begin{table}[t]",
        r"\centering",
        r"\small",
        f"\\caption{{{latex_escape(caption)}}}",
        f"\\label{{{label(name)}}}",
        f"\\begin{{tabular}}{{{alignment(table)}}}",
        r"\toprule",
        line(table.columns),
        r"\midrule",
        *(line(row) for row in table.rows),
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{table}",
        "",
    ])  # fmt: skip
