"""reports/<study>.tex: the report's own table as a booktabs float, every string escaped, and a
document that \\input{}s it compiles with pdflatex (required under CI=true: .ci/run installs it)."""

import os
import shutil
import subprocess

import pytest

from harness.report import write_report
from harness.report.latex import latex_escape, to_latex
from harness.report.results import load_finals
from harness.report.tables import Table, study_table

from report_trees import FIGURES, make_study, write_run

SPECIALS = r"a & b 50% $5 #1 x_y {z} ~t ^u \v <w> |"
FLAT = r"""
name: latex_flat
title: 'Stop & go: 100% $x$ #1 a_b {y} ~z ^w \end'
variants: {baseline_lr_cosine: {}, no_predictor: {predictor.kind: none}}
seeds: [0, 1]
report:
  paper: simsiam.table1_predictor
  figures: []
"""
# What a paper needs around the fragment: booktabs.
WRAPPER = "\\documentclass{article}\n\\usepackage{booktabs}\n\\begin{document}\n%s\\end{document}\n"


def test_every_special_character_is_escaped():
    assert latex_escape(SPECIALS) == (
        r"a \& b 50\% \$5 \#1 x\_y \{z\} \textasciitilde{}t \textasciicircum{}u \textbackslash{}v "
        r"\textless{}w\textgreater{} \textbar{}")
    assert latex_escape("0.91 ± 0.02 × 1/√d, 2–3\nseeds") == r"0.91 $\pm$ 0.02 $\times$ 1/$\surd$d, 2--3 seeds"


def test_the_fragment_is_a_booktabs_table_of_the_table_s_cells():
    table = Table(["variant", "kNN (%)", "seeds"], [[SPECIALS, "85.1 ± 2.3", "3"], ["b", "-", "2–3"]], ["a note_1"])
    tex = to_latex(table, "caption & 100%", "my_study").splitlines()
    assert tex[:9] == [
        "% my_study: written by harness report; needs \\usepackage{booktabs}",
        "% note: a note\\_1",
        r"\begin{table}[t]", r"\centering", r"\small", r"\caption{caption \& 100\%}", r"\label{tab:my_study}",
        r"\begin{tabular}{lrr}", r"\toprule",
    ]
    assert tex[9:] == [
        r"variant & kNN (\%) & seeds \\", r"\midrule",
        latex_escape(SPECIALS) + r" & 85.1 $\pm$ 2.3 & 3 \\", r"b & - & 2--3 \\",
        r"\bottomrule", r"\end{tabular}", r"\end{table}",
    ]


def test_the_report_writes_its_table_as_latex_beside_the_markdown(tmp_path):
    study = make_study(tmp_path, FLAT, "latex_flat")
    for planned in study.runs:
        write_run(tmp_path / "results", study, planned)
    paths = write_report(study, tmp_path / "results", tmp_path / "reports")
    tex = (tmp_path / "reports" / "latex_flat.tex").read_text()
    assert tmp_path / "reports" / "latex_flat.tex" in paths
    table = study_table(study, load_finals(study, tmp_path / "results"), ["k200", "k20"])  # the Markdown's
    assert table.columns[1].startswith("paper") and len(table.rows) == 2
    for cells in [table.columns, *table.rows]:
        assert " & ".join(latex_escape(c) for c in cells) + r" \\" in tex.splitlines()
    assert r"\caption{Stop \& go: 100\% \$x\$ \#1 a\_b \{y\} \textasciitilde{}z \textasciicircum{}w " \
           r"\textbackslash{}end. Mean $\pm$ std over seeds at the tiny scale (" in tex
    assert "; paper: " in tex


def test_the_report_s_tables_compile_with_pdflatex(tmp_path):
    pdflatex = shutil.which("pdflatex")
    if pdflatex is None or shutil.which("kpsewhich") is None or not _has("booktabs.sty"):
        if os.environ.get("CI"):
            raise RuntimeError("CI must install pdflatex and booktabs (texlive-latex-base, "
                               "texlive-latex-recommended: see .ci/run)")
        pytest.skip("pdflatex with booktabs is not installed (apt-get install texlive-latex-base "
                    "texlive-latex-recommended)")
    flat = make_study(tmp_path, FLAT, "latex_flat")
    pivot = make_study(tmp_path, FIGURES.replace('title: "Figures $x$"', f"title: '{SPECIALS}'"), "figs")
    for study in (flat, pivot):
        for planned in study.runs:
            write_run(tmp_path / "results", study, planned)
    write_report(flat, tmp_path / "results", tmp_path / "reports")
    table = study_table(pivot, load_finals(pivot, tmp_path / "results"), ["k200", "k20"])
    (tmp_path / "reports" / "figs.tex").write_text(to_latex(table, pivot.spec.title, pivot.name))
    (tmp_path / "reports" / "paper.tex").write_text(WRAPPER % "\\input{latex_flat.tex}\n\\input{figs.tex}\n")
    done = subprocess.run([pdflatex, "-interaction=nonstopmode", "-halt-on-error", "paper.tex"],
                          cwd=tmp_path / "reports", capture_output=True, text=True, timeout=60)
    log = (tmp_path / "reports" / "paper.log").read_text(errors="replace")
    assert done.returncode == 0, log[-3000:]
    assert (tmp_path / "reports" / "paper.pdf").stat().st_size > 0
    assert "Missing character" not in log and "Undefined control sequence" not in log


def _has(file: str) -> bool:
    return subprocess.run(["kpsewhich", file], capture_output=True, text=True).stdout.strip() != ""
