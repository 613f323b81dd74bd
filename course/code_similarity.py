"""How much of their own code two students share in a notebook, with copydetect (a maintained
library: winnowed k-gram fingerprints after Schleimer, Wilkerson and Aiken, 2003).

A student's own code is the source of the notebook's code cells without the template's: a line
whose text (spaces around it ignored) is a line of a released notebook's code is the template's
and is not compared, nor is an empty line. copydetect then replaces names by placeholders and drops
comments and spaces, so renamed variables still match, and compares sets of fingerprints, so
functions in another order still match. The result is a share of each student's own code found
in the other's, and where: a hint for a person, never a verdict.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property
from itertools import pairwise

import numpy as np
from copydetect import CodeFingerprint, compare_files

__all__ = ["CodeLine", "Fingerprint", "Fingerprints", "Overlap", "OwnCode", "Segment",
           "ViewLine", "marked_lines", "overlap", "own_code", "similarity", "template_lines"]

# copydetect's defaults: matches shorter than K characters of filtered code are noise; a window
# of 1 keeps every k-gram (guarantee threshold = noise threshold)
K = 25
WINDOW = 1
# a notebook's code read up to here (an exercise's is a few thousand characters): a notebook of
# megabytes of code costs no more than this to compare, keep or show
MAX_CODE_CHARS = 50_000


@dataclass(frozen=True)
class CodeLine:
    cell: int  # the code cell's number in the notebook, from 1
    text: str
    own: bool  # False: empty or the template's, not compared


@dataclass(frozen=True)
class OwnCode:
    """One notebook's code, line by line, and the part that is the student's own."""

    lines: tuple[CodeLine, ...]
    cut: bool = False  # longer than MAX_CODE_CHARS: the rest is neither compared nor shown

    @cached_property
    def text(self) -> str:
        """The own lines joined: what is fingerprinted, and what an overlap's spans index."""
        return "\n".join(line.text for line in self.lines if line.own)


def _code_cells(notebook: bytes) -> list[str] | None:
    """The sources of the code cells; None when it is no notebook (junk is not compared)."""
    try:
        cells = json.loads(notebook)["cells"]
        sources = [cell.get("source", "") for cell in cells if cell.get("cell_type") == "code"]
        return ["".join(s) if isinstance(s, list) else str(s) for s in sources]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def template_lines(notebooks: Iterable[bytes]) -> frozenset[str]:
    """Every line of code of the released notebooks, spaces around it stripped."""
    lines = set()
    for notebook in notebooks:
        for source in _code_cells(notebook) or []:
            lines.update(line.strip() for line in source.splitlines())
    return frozenset(lines - {""})


def own_code(notebook: bytes, template: frozenset[str]) -> OwnCode | None:
    """The notebook's code with the template's lines marked; None when it is no notebook."""
    sources = _code_cells(notebook)
    if sources is None:
        return None
    lines, size = [], 0
    for number, source in enumerate(sources, start=1):
        for line in source.splitlines():
            size += len(line) + 1
            if size > MAX_CODE_CHARS:
                return OwnCode(tuple(lines), cut=True)
            lines.append(CodeLine(number, line, bool(line.strip()) and
                                  line.strip() not in template))
    return OwnCode(tuple(lines))


@dataclass(frozen=True)
class Overlap:
    similarity: tuple[float, float]  # share of each side's own code found in the other's
    spans: tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]  # in each .text


class Fingerprint:
    """The k-grams of one notebook's own code as copydetect fingerprints them, kept as sorted
    arrays only (a small share of copydetect's objects, which ``overlap`` makes again for the
    one pair shown): a pair's shares are then a few array operations (``similarity``), where
    copydetect's ``compare_files`` loops in Python over every shared hash."""

    def __init__(self, code: OwnCode, key: tuple[str, str] = ("", "")):
        self.key = key  # checksums of the notebook and of the template
        found = _copydetect(code)
        pairs = sorted((position, value) for value, positions in found.hash_idx.items()
                       for position in positions)
        self.positions = np.array([p for p, _ in pairs], dtype=np.int32)
        self.values = np.array([v for _, v in pairs], dtype=np.int64)
        self.unique = np.unique(self.values)
        self.coverage = float(found.token_coverage)

    def shared(self, common: np.ndarray) -> float:
        """The share of this code covered by k-grams whose hash is in ``common`` (sorted):
        copydetect's similarity, the merged length of [position, position + K) over them."""
        at = np.minimum(np.searchsorted(common, self.values), common.size - 1)
        matched = self.positions[common[at] == self.values]
        if not matched.size or not self.coverage:
            return 0.0
        return float(K + np.minimum(np.diff(matched), K).sum()) / self.coverage


def _copydetect(code: OwnCode) -> CodeFingerprint:
    return CodeFingerprint("own.py", K, WINDOW, fp=io.StringIO(code.text), language="python")


class Fingerprints:
    """Each notebook's fingerprint, kept by checksum of the notebook and of the template: a
    course's hand-ins are fingerprinted once per process, not once per look (``size``
    notebooks, the least recently used dropped first). ``listings`` keeps the last pair lists
    made of them, by what was compared (``similarity.similar_pairs``). In memory only:
    copydetect hashes with Python's ``hash``, which differs from process to process, so a
    fingerprint written to disk would not match one made later."""

    def __init__(self, size: int = 1024):
        self.size = size
        self._kept: OrderedDict[tuple[str, str], Fingerprint | None] = OrderedDict()
        self.listings: OrderedDict[tuple, list] = OrderedDict()

    def remember(self, key: tuple, listing: list) -> None:
        self.listings[key] = listing
        if len(self.listings) > 64:
            self.listings.popitem(last=False)

    def get(self, notebook: bytes, template: frozenset[str]) -> Fingerprint | None:
        """None when it is no notebook."""
        key = (hashlib.sha256(notebook).hexdigest(), _template_key(template))
        if key in self._kept:
            self._kept.move_to_end(key)
            return self._kept[key]
        code = own_code(notebook, template)
        found = None if code is None else Fingerprint(code, key)
        self._kept[key] = found
        if len(self._kept) > self.size:
            self._kept.popitem(last=False)
        return found


def _template_key(template: frozenset[str]) -> str:
    return hashlib.sha256("\n".join(sorted(template)).encode()).hexdigest()


def similarity(first: Fingerprint, second: Fingerprint) -> tuple[float, float]:
    """The share of each side's own code found in the other's (as ``overlap`` finds it)."""
    common = np.intersect1d(first.unique, second.unique, assume_unique=True)
    if not common.size:
        return (0.0, 0.0)
    return (first.shared(common), second.shared(common))


def overlap(first: OwnCode, second: OwnCode) -> Overlap:
    """The share of each side's own code found in the other's, and where it is: copydetect's
    ``compare_files``, for the side-by-side view of one pair."""
    a, b = _copydetect(first), _copydetect(second)
    if a.hashes.isdisjoint(b.hashes):
        return Overlap((0.0, 0.0), ((), ()))
    _, shares, slices = compare_files(a, b)
    spans = tuple(tuple((int(start), int(end)) for start, end in zip(*side, strict=True))
                  for side in slices)
    return Overlap((float(shares[0]), float(shares[1])), spans)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Segment:
    text: str
    marked: bool  # part of a match with the other side


@dataclass(frozen=True)
class ViewLine:
    cell: int
    own: bool
    segments: tuple[Segment, ...]


def marked_lines(code: OwnCode, spans: Iterable[tuple[int, int]]) -> list[ViewLine]:
    """Every line of the notebook's code, the template's too (unmarked), with the matching
    parts of the own lines marked: what the side-by-side view shows."""
    spans = sorted(spans)
    view, offset = [], 0  # offset: where the line starts in code.text
    for line in code.lines:
        if not line.own:
            view.append(ViewLine(line.cell, False, (Segment(line.text, False),)))
            continue
        end = offset + len(line.text)
        cuts = {offset, end}
        for start, stop in spans:
            if start < end and stop > offset:
                cuts.update((max(start, offset), min(stop, end)))
        points = sorted(cuts)
        segments = tuple(
            Segment(line.text[a - offset:b - offset],
                    any(start <= a and b <= stop for start, stop in spans))
            for a, b in pairwise(points) if b > a)
        view.append(ViewLine(line.cell, True, segments or (Segment("", False),)))
        offset = end + 1  # the "\n" that joins own lines
    return view
