"""nbgrader's OverwriteCells, told what students were given.

nbgrader keeps a locked test cell's checksum as computed *before* generate_assignment cleared its
hidden tests, so a student who hands the released cell back untouched still differs from it, and
autograde warns "Attribute 'checksum' for cell test_... has changed!" for every student and every
cell with hidden tests. ``RestoreReleasedCells`` puts the source back silently when the cell is
exactly what was released (the source with its hidden-test regions cleared, as nbgrader's own
ClearHiddenTests clears them); any other difference still warns, so the warning means an edit.
"""

from __future__ import annotations

from nbformat.notebooknode import NotebookNode
from nbgrader.api import MissingEntry
from nbgrader.preprocessors import ClearHiddenTests, OverwriteCells

__all__ = ["RestoreReleasedCells", "released_source"]


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
