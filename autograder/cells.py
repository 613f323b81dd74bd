"""How the grader names a cell of the student's notebook in a message, and the notebook's code
as graders see it (``Submission.source``): one text that still knows its cells, so a static
check can parse them one by one.

A cell is named by its number in the notebook as the student sees it (every cell counted from
1, markdown included) and the start of its first line, which is what finds it in JupyterLab.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Self

__all__ = ["NotebookSource", "cell_label"]

FIRST_LINE_CHARS = 40


def cell_label(index: int, source: str) -> str:
    """``cell 7 ("def matmul(A, B):")`` for the cell at ``index`` (from 0) of the notebook."""
    first = next((line.strip() for line in source.splitlines() if line.strip()), "")
    if len(first) > FIRST_LINE_CHARS:
        first = first[:FIRST_LINE_CHARS - 3] + "..."
    return f'cell {index + 1} ("{first}")' if first else f"cell {index + 1}"


class NotebookSource(str):
    """The code of the notebook's cells joined by blank lines (a plain ``str`` to every use),
    with ``cells``: (index in the notebook, source) of each code cell, in order."""

    cells: tuple[tuple[int, str], ...]

    def __new__(cls, cells: Iterable[tuple[int, str]]) -> Self:
        cells = tuple((int(index), str(source)) for index, source in cells)
        text = super().__new__(cls, "\n\n".join(source for _index, source in cells))
        text.cells = cells
        return text
