"""Our steps inside nbgrader's pipelines, installed by ``Workspace.nbgrader_config`` so that
``course`` commands, the formgrader and plain ``nbgrader`` run them alike.

``RestoreReleasedCells`` (autograde): nbgrader's OverwriteCells, told what students were given.
nbgrader keeps a locked test cell's checksum as computed *before* generate_assignment cleared its
hidden tests, so a student who hands the released cell back untouched still differs from it, and
autograde warns "Attribute 'checksum' for cell test_... has changed!" for every student and every
cell with hidden tests. It puts the source back silently when the cell is exactly what was
released (the source with its hidden-test regions cleared, as nbgrader's own ClearHiddenTests
clears them); any other difference still warns, so the warning means an edit.

``HideHiddenTests`` (generate_feedback): autograde restores a test cell's source from the
gradebook, hidden tests included, so the feedback HTML would show them. It runs on the copy
nbgrader reads, never on the autograded notebook, and replaces each hidden-test region by one
line saying how many lines it hid; the cell keeps its points and its result.

``HideTestValues`` (generate_feedback): a test cell's ``execute_result`` (``Out[3]: 3``, the value
of its last expression, or the score a hidden grader's cell reports) is noise for a student; what
it printed and its errors, which say why points were lost, stay.

``ExplainZeroPoints`` (generate_feedback): on a hand-in that earned 0 points, a box at the top of
each page says why (``zero_points_reasons``: a notebook that did not run to the end, blank
notebooks, or else that no test passed).

``FeedbackPage`` (generate_feedback's exporter): the page loads no MathJax (nbconvert's
macro asks a CDN for it, a third-party request that an offline server cannot make), and a page
with formulas says they appear as typed.
"""

from __future__ import annotations

import hashlib
import html
import re
from pathlib import Path

import nbformat
from jinja2 import DictLoader
from nbconvert.exporters import HTMLExporter
from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells
from traitlets import Unicode, default

__all__ = ["OFFLINE_MATHS", "WRAP_OUTPUTS", "ExplainZeroPoints", "FeedbackPage",
           "HideHiddenTests", "HideTestValues", "NoteOfflineMaths", "RestoreReleasedCells", "blank_notebooks", "cells_key", "notebooks_in",
           "released_folder", "released_source", "strip_hidden_tests", "zero_points_box",
           "zero_points_reasons"]


def released_source(source_cell, config=None) -> str:
    """The source students received for a gradebook source cell: hidden tests cleared."""
    cell = NotebookNode(cell_type=source_cell.cell_type, source=source_cell.source,
                        metadata=NotebookNode(nbgrader=NotebookNode(grade_id=source_cell.name)))
    clear = ClearHiddenTests(config=config, enforce_metadata=False)
    try:
        clear._remove_hidden_test_region(cell)
    except RuntimeError:  # unbalanced delimiters: generate_assignment refused such a cell
        return source_cell.source
    return cell.source


class RestoreReleasedCells(OverwriteCells):
    def preprocess_cell(self, cell, resources, cell_index):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id is not None:
            try:
                source_cell = self.gradebook.find_source_cell(grade_id, self.notebook_id,
                                                              self.assignment_id)
            except MissingEntry:
                source_cell = None  # OverwriteCells reports it
            if (source_cell is not None and source_cell.locked
                    and cell.cell_type == source_cell.cell_type
                    and cell.source == released_source(source_cell, self.config)):
                cell.source = source_cell.source
        return super().preprocess_cell(cell, resources, cell_index)


BEGIN_HIDDEN = ClearHiddenTests.class_traits()["begin_test_delimeter"].default_value
END_HIDDEN = ClearHiddenTests.class_traits()["end_test_delimeter"].default_value


def strip_hidden_tests(source: str, *, markdown: bool = False) -> tuple[str, int]:
    """``source`` with each hidden-test region (delimiters included) replaced by one line
    ``# hidden tests: N lines not shown`` at the region's indentation; and how many lines were
    hidden. A region never closed is hidden to the end of the cell."""
    out: list[str] = []
    hidden_total = 0
    region: tuple[str, int] | None = None  # (indentation, lines so far) while inside one

    def close(indent: str, count: int) -> None:
        what = f"hidden tests: {count} line{'' if count == 1 else 's'} not shown"
        out.append(f"{indent}*{what}*" if markdown else f"{indent}# {what}")

    for line in source.split("\n"):
        if region is None and BEGIN_HIDDEN in line:
            region = (line[:len(line) - len(line.lstrip())], 0)
        elif region is not None and END_HIDDEN in line:
            close(*region)
            hidden_total += region[1]
            region = None
        elif region is not None:
            region = (region[0], region[1] + 1)
        else:
            out.append(line)
    if region is not None:
        close(*region)
        hidden_total += region[1]
    return "\n".join(out), hidden_total


ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def hidden_lines(source: str) -> set[str]:
    """The lines (stripped) inside a source's hidden-test regions that its visible part lacks."""
    visible, _ = strip_hidden_tests(source)
    shown = {line.strip() for line in visible.split("\n")}
    return {line.strip() for line in source.split("\n")
            if line.strip() and line.strip() not in shown
            and BEGIN_HIDDEN not in line and END_HIDDEN not in line}


def _without_quotes(text: str, secret: set[str]) -> str:
    """``text`` without the lines that quote one of ``secret`` (colour codes ignored)."""
    lines = text.split("\n")
    kept = [line for line in lines if not any(s in ANSI.sub("", line) for s in secret)]
    return "\n".join(kept)


class HideHiddenTests(NbGraderPreprocessor):
    """For feedback: hidden-test regions become one line; such a cell keeps its points and its
    result, but an error's traceback becomes its name and message, and any output line quoting
    a hidden line (a traceback printed as text) is dropped."""

    def preprocess_cell(self, cell, resources, index):
        if BEGIN_HIDDEN not in cell.source:
            return cell, resources
        secret = hidden_lines(cell.source) | {BEGIN_HIDDEN, END_HIDDEN}
        cell.source, _ = strip_hidden_tests(cell.source, markdown=cell.cell_type == "markdown")
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                output["traceback"] = [f"{output.get('ename', 'Error')}: {output.get('evalue', '')}"]
            elif output.get("output_type") == "stream":
                output["text"] = _without_quotes(output.get("text", ""), secret)
            for mime, value in output.get("data", {}).items():
                if isinstance(value, str) and mime.startswith("text/"):
                    output["data"][mime] = _without_quotes(value, secret)
        return cell, resources


class HideTestValues(NbGraderPreprocessor):
    """For feedback: a test cell (graded, not a solution) loses its ``execute_result`` outputs;
    its stream output and errors stay. Scores come from the gradebook (GetGrades), not from
    these outputs, so the page's points are unchanged."""

    def preprocess_cell(self, cell, resources, index):
        grading = cell.metadata.get("nbgrader", {})
        if cell.cell_type == "code" and grading.get("grade") and not grading.get("solution"):
            cell.outputs = [output for output in cell.get("outputs", [])
                            if output.get("output_type") != "execute_result"]
        return cell, resources


# -- blank work and why a hand-in earned nothing (course.blank_work re-exports these) ----------

def notebooks_in(folder: Path) -> dict[str, bytes]:
    """The notebooks under ``folder`` by path inside it (hidden ones left out)."""
    return {path.relative_to(folder).as_posix(): path.read_bytes()
            for path in sorted(folder.rglob("*.ipynb"))
            if path.is_file() and not any(part.startswith(".")
                                          for part in path.relative_to(folder).parts)}


def released_folder(root: Path, course_id: str, assignment_id: str) -> Path:
    """Where ``course release`` put the student version: the exchange's outbound folder."""
    return root / "exchange" / course_id / "outbound" / assignment_id


def _cells(content: bytes) -> list[tuple[str, str]] | None:
    try:
        nb = nbformat.reads(content.decode("utf-8"), as_version=4)
        return [(cell.cell_type, cell.source) for cell in nb.cells]
    except Exception:  # noqa: BLE001 - junk handed in is simply not like the release
        return None


def cells_key(content: bytes) -> str | None:
    """The notebook's cells (type and source) as one hash; None when it is not a notebook."""
    cells = _cells(content)
    return None if cells is None else hashlib.sha256(repr(cells).encode()).hexdigest()


def blank_notebooks(files: dict[str, bytes], released: dict[str, bytes]) -> list[str]:
    """What is blank among the notebooks handed in (``files``, by name), in words."""
    released_bytes = set(released.values())
    released_cells = {cells_key(content) for content in released.values()} - {None}
    problems = []
    for name, content in sorted(files.items()):
        if not name.endswith(".ipynb"):
            continue
        cells = _cells(content)
        if content in released_bytes or (cells is not None and cells_key(content)
                                         in released_cells):
            problems.append(f"{name} is the release, unchanged: it earns no points")
        elif cells == []:
            problems.append(f"{name} has no cells: it earns no points")
        elif cells is not None and not any(source.strip() for _type, source in cells):
            problems.append(f"{name} has only empty cells: it earns no points")
    return problems


def zero_points_reasons(root: Path, course_id: str, student_id: str,
                        assignment_id: str) -> list[str]:
    """Why the graded submission of ``student_id`` in the course folder ``root`` earned 0
    points, in words for the student: a notebook that did not run to the end (the grading
    report's error), blank notebooks, or else that no test passed."""
    from autograder.results import GradingReport

    graded = root / "autograded" / student_id / assignment_id
    reasons = []
    for report in GradingReport.read_all(graded):
        if report.notebook_error:
            reasons.append(f"{report.notebook}.ipynb did not run to the end: "
                           f"{report.notebook_error}")
    handed_in = notebooks_in(root / "submitted" / student_id / assignment_id)
    released = notebooks_in(released_folder(root, course_id, assignment_id))
    reasons += blank_notebooks(handed_in, released)
    return reasons or ["no test passed"]


def zero_points_box(reasons: list[str]) -> str:
    """The box (HTML) at the top of a feedback page that says why it earned 0 points."""
    items = "".join(f"<li>{html.escape(reason)}</li>" for reason in reasons)
    return ('<div class="zero-points" style="border:2px solid #a00;padding:0.5em 1em;'
            f'margin:1em 0"><b>This hand-in earned 0 points:</b><ul>{items}</ul></div>')


def _note(source: str) -> NotebookNode:
    cell = new_markdown_cell(source)
    cell.metadata["feedback_note"] = True  # ours, not the student's; no nbgrader metadata
    return cell


class ExplainZeroPoints(NbGraderPreprocessor):
    """For feedback: when the whole hand-in (every notebook, hand grading included) earned 0
    points, each page starts with ``zero_points_box``. Put after nbgrader's GetGrades."""

    course_root = Unicode("", help="The course folder (nbgrader's course directory).").tag(
        config=True)
    course_id = Unicode("", help="The course's id: its exchange folder.").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        try:
            with Gradebook(info["db_url"]) as gb:
                submission = gb.find_submission(info["assignment"], info["student"])
                earned, possible = submission.score, submission.max_score
        except MissingEntry:  # not autograded: GetGrades has already said so
            return nb, resources
        if earned == 0 and possible > 0 and self.course_root:
            reasons = zero_points_reasons(Path(self.course_root), self.course_id,
                                          info["student"], info["assignment"])
            nb.cells.insert(0, _note(zero_points_box(reasons)))
        return nb, resources


MATHS_NOTE = ('<p class="maths-note"><i>Formulas appear as typed (TeX): this page loads nothing '
              "from other sites, so no maths typesetting.</i></p>")
# nbconvert's mathjax() macro, as feedback pages get it (FeedbackPage): no script, no CDN
OFFLINE_MATHS = """\
{%- macro mathjax(url="") -%}
<!-- no MathJax: feedback pages load nothing from other sites -->
{%- endmacro %}
"""


# Long lines of outputs (a grader's message, a traceback) wrap at the page's edge instead of
# running off it: nbconvert's classic and lab styles keep them on one line in a box that clips
# or scrolls sideways.
WRAP_OUTPUTS = """<style>
div.output_area pre, div.output_subarea pre, .jp-OutputArea-output pre, .jp-RenderedText pre {
  white-space: pre-wrap; overflow-wrap: anywhere; word-break: normal;
}
div.output_subarea, .jp-OutputArea-output { overflow-x: visible; max-width: 100%; }
</style>
"""


class FeedbackPage(HTMLExporter):
    """nbgrader's feedback page (its HTMLExporter settings apply here too) whose template finds
    ``OFFLINE_MATHS`` before nbconvert's ``mathjax.html.j2``, which asks a CDN for MathJax, and
    whose outputs wrap (``WRAP_OUTPUTS``, last in the head, so it wins over the template's)."""

    @default("extra_loaders")
    def _offline_maths(self):
        return [DictLoader({"mathjax.html.j2": OFFLINE_MATHS})]

    def from_notebook_node(self, nb, resources=None, **kw):
        output, resources = super().from_notebook_node(nb, resources, **kw)
        head_end = output.find("</head>")
        if head_end >= 0:
            output = output[:head_end] + WRAP_OUTPUTS + output[head_end:]
        return output, resources


MATH = re.compile(r"\$\$|\$[^\s$][^$\n]*\$|\\\(|\\\[|\\begin\{")  # as MathJax finds it


class NoteOfflineMaths(NbGraderPreprocessor):
    """For feedback: a page whose text cells hold formulas says, at the top, that they appear
    as typed (the page loads no MathJax: ``OFFLINE_MATHS``)."""

    def preprocess(self, nb, resources):
        if any(cell.cell_type == "markdown" and MATH.search(cell.source) for cell in nb.cells):
            at = next((i for i, cell in enumerate(nb.cells)
                       if not cell.metadata.get("feedback_note")), len(nb.cells))
            nb.cells.insert(at, _note(MATHS_NOTE))
        return nb, resources
