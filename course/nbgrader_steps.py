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
"""

from __future__ import annotations

import re

from nbformat.notebooknode import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, NbGraderPreprocessor, OverwriteCells

__all__ = ["HideHiddenTests", "RestoreReleasedCells", "released_source", "strip_hidden_tests"]


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
