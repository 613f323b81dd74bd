"""Byte-identical notebooks handed in by different students, and pairs whose own code is alike
(``course.code_similarity``): hints for the instructor to look, never a verdict.

Compared: the collected submissions (the ones that count, in ``submitted/<student>/<id>/``),
notebook by notebook. The released student version handed back unchanged by several students is
no signal and is left out: a notebook byte-identical to a released one, or with the same cells
(type and source) as one, as when Jupyter re-saved it untouched. The alike pairs compare
only the students' own code: the released notebooks' lines are taken out first, so a hand-in of
the template alone has nothing to compare. Only students in the roster are compared.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .blank_work import cells_key, notebooks_in, released_notebooks
from .code_similarity import (
    Fingerprints,
    ViewLine,
    marked_lines,
    overlap,
    own_code,
    similarity,
    template_lines,
)
from .errors import UnknownId
from .workspace import Workspace

__all__ = ["IdenticalGroup", "NotebookComparison", "PairComparison", "PairInputs", "SimilarPair",
           "compare_pair", "identical_submissions", "pair_inputs", "pairs_among",
           "similar_pairs"]

FINGERPRINTS = Fingerprints()  # one per process: the dashboard keeps it between page views


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


@dataclass(frozen=True)
class SimilarPair:
    assignment_id: str
    notebook: str
    student_ids: tuple[str, str]  # sorted
    similarity: tuple[float, float]  # share of each one's own code found in the other's

    @property
    def score(self) -> float:
        return max(self.similarity)


def _hand_ins(ws: Workspace, assignment_id: str, students: list[str]) -> dict[str, dict]:
    """Each student's collected notebooks (by name), for those of ``students`` who have any."""
    found = {}
    for student_id in students:
        folder = ws.root / "submitted" / student_id / assignment_id
        if folder.is_dir():
            found[student_id] = notebooks_in(folder)
    return found


@dataclass(frozen=True)
class PairInputs:
    """What ``similar_pairs`` compares, as read from the workspace: the comparing (copydetect's
    fingerprints, seconds for a course the first time) can then run on another thread than
    the one that reads the course (the dashboard's)."""

    assignment_id: str
    threshold: float
    template: frozenset[str]  # the released notebooks' lines of code
    hand_ins: tuple[tuple[str, str, bytes], ...]  # (student, notebook, content), sorted

    @cached_property
    def key(self) -> str:
        """A checksum of everything compared: equal keys, equal pairs."""
        digest = hashlib.sha256(f"{self.assignment_id}\0{self.threshold!r}\0".encode())
        digest.update("\n".join(sorted(self.template)).encode())
        for student_id, name, content in self.hand_ins:
            digest.update(f"\0{student_id}\0{name}\0".encode())
            digest.update(hashlib.sha256(content).digest())
        return digest.hexdigest()


def pair_inputs(ws: Workspace, assignment_id: str, *, threshold: float | None = None,
                released: dict[str, bytes] | None = None) -> PairInputs | None:
    """The roster's collected notebooks of ``assignment_id`` and the template to take out of
    them (``released``: the released notebooks, when the caller has them already); None before
    the release: without the template to take out, every hand-in would look alike."""
    ws.course.assignment(assignment_id)
    if threshold is None:
        threshold = ws.course.similarity.threshold
    if released is None:
        released = released_notebooks(ws, assignment_id)
    if not released:
        return None
    students = sorted(person.id for person in ws.course.roster.students)
    hand_ins = tuple((student_id, name, content)
                     for student_id, notebooks in _hand_ins(ws, assignment_id, students).items()
                     for name, content in sorted(notebooks.items()))
    return PairInputs(assignment_id, threshold, template_lines(released.values()), hand_ins)


def pairs_among(inputs: PairInputs, fingerprints: Fingerprints = FINGERPRINTS
                ) -> list[SimilarPair]:
    """The pairs of ``similar_pairs`` from what was read; reads no file."""
    by_notebook: dict[str, list] = {}
    for student_id, name, content in inputs.hand_ins:
        found = fingerprints.get(content, inputs.template)
        if found is not None and found.unique.size:  # some code of their own to compare
            by_notebook.setdefault(name, []).append((student_id, found))
    compared = (inputs.assignment_id, inputs.threshold, tuple(
        (name, student_id, found.key) for name, prints in sorted(by_notebook.items())
        for student_id, found in prints))
    if compared in fingerprints.listings:  # the same notebooks as last time: the same pairs
        return list(fingerprints.listings[compared])
    pairs = []
    for name, prints in sorted(by_notebook.items()):
        for i, (first, first_print) in enumerate(prints):
            for second, second_print in prints[i + 1:]:
                shares = similarity(first_print, second_print)
                if max(shares) >= inputs.threshold:
                    pairs.append(SimilarPair(inputs.assignment_id, name, (first, second),
                                             shares))
    pairs.sort(key=lambda p: (-p.score, p.notebook, p.student_ids))
    fingerprints.remember(compared, pairs)
    return list(pairs)


def similar_pairs(ws: Workspace, assignment_id: str, *, threshold: float | None = None,
                  fingerprints: Fingerprints = FINGERPRINTS,
                  released: dict[str, bytes] | None = None) -> list[SimilarPair]:
    """Pairs of students whose collected notebook of the same name shares at least
    ``threshold`` (default: the course file's ``similarity.threshold``) of either one's own
    code with the other's; most alike first. Nothing before the release (``pair_inputs``)."""
    inputs = pair_inputs(ws, assignment_id, threshold=threshold, released=released)
    return [] if inputs is None else pairs_among(inputs, fingerprints)


@dataclass(frozen=True)
class NotebookComparison:
    notebook: str
    similarity: tuple[float, float]
    sides: tuple[list[ViewLine], list[ViewLine]]  # each one's code, the matching parts marked
    cut: tuple[bool, bool]  # past MAX_CODE_CHARS: the rest neither compared nor shown


@dataclass(frozen=True)
class PairComparison:
    assignment_id: str
    student_ids: tuple[str, str]
    notebooks: list[NotebookComparison]  # the notebooks both handed in
    only: dict[str, list[str]]  # student -> notebooks only they handed in


def compare_pair(ws: Workspace, assignment_id: str, first: str, second: str
                 ) -> PairComparison:
    """Two students' code side by side, notebook by notebook, the parts found in both marked.
    Unknown ids (assignment or students, the same student twice) are refused before any file
    is read."""
    ws.course.assignment(assignment_id)
    ws.course.student(first)
    ws.course.student(second)
    if first == second:
        raise UnknownId(f"{first!r} twice: a pair is two students")
    template = template_lines(released_notebooks(ws, assignment_id).values())
    hand_ins = _hand_ins(ws, assignment_id, [first, second])
    mine, theirs = hand_ins.get(first, {}), hand_ins.get(second, {})
    compared = []
    for name in sorted(mine.keys() & theirs.keys()):
        a, b = own_code(mine[name], template), own_code(theirs[name], template)
        if a is None or b is None:  # not a notebook: nothing to show side by side
            continue
        found = overlap(a, b)
        compared.append(NotebookComparison(name, found.similarity, (
            marked_lines(a, found.spans[0]), marked_lines(b, found.spans[1])), (a.cut, b.cut)))
    only = {first: sorted(mine.keys() - theirs.keys()), second: sorted(theirs.keys() - mine.keys())}
    return PairComparison(assignment_id, (first, second), compared, only)
