"""Byte-identical notebooks handed in by different students: a hint for the instructor to look,
never a verdict.

Compared: the collected submissions (the ones that count, in ``submitted/<student>/<id>/``),
notebook by notebook. The released student version handed back unchanged by several students is
no signal and is left out: a notebook byte-identical to a released one, or with the same cells
(type and source) as one, as when Jupyter re-saved it untouched.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from .blank_work import cells_key, notebooks_in, released_notebooks
from .workspace import Workspace

__all__ = ["IdenticalGroup", "identical_submissions"]


@dataclass(frozen=True)
class IdenticalGroup:
    assignment_id: str
    notebook: str  # path inside the submission folder, e.g. sigmoid.ipynb
    sha256: str
    student_ids: tuple[str, ...]  # sorted, two or more


def identical_submissions(ws: Workspace, assignment_id: str) -> list[IdenticalGroup]:
    """Groups of students whose collected notebook of the same name is byte-identical, the
    released version excepted; sorted by notebook, then students."""
    ws.course.assignment(assignment_id)
    released = released_notebooks(ws, assignment_id)
    released_bytes = {hashlib.sha256(content).hexdigest() for content in released.values()}
    released_cells = {cells_key(content) for content in released.values()} - {None}

    by_hash: dict[tuple[str, str], list[str]] = {}
    paths: dict[str, Path] = {}  # one copy of each content, read again only for groups
    submitted = ws.root / "submitted"
    folders = sorted(submitted.glob(f"*/{assignment_id}")) if submitted.is_dir() else []
    for folder in folders:
        if not folder.is_dir():
            continue
        for name, content in notebooks_in(folder).items():
            sha = hashlib.sha256(content).hexdigest()
            by_hash.setdefault((name, sha), []).append(folder.parent.name)
            paths[sha] = folder / name

    groups = []
    for (name, sha), students in sorted(by_hash.items()):
        if len(students) < 2 or sha in released_bytes:
            continue
        if released_cells and cells_key(paths[sha].read_bytes()) in released_cells:
            continue
        groups.append(IdenticalGroup(assignment_id, name, sha, tuple(sorted(students))))
    return groups
