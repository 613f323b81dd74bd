"""What the student's process counted of the calls a grader measured (``autograder.measure``
counts there; ``Submission.counting`` adds the replies up here). Plain data, no imports of ours:
the student's side and the grader's side both read ``MAX_ESCAPES``."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["MAX_ESCAPES", "CallCounts"]

MAX_ESCAPES = 20  # reasons kept per measured call


@dataclass
class CallCounts:
    """The Python work of the calls made inside ``with submission.counting()``, as the student's
    process counted it (``autograder.measure``): line and function-call events of any Python
    code, and ``escapes``, the reasons the counts may miss work (tracing switched off, threads
    or processes); ``elements``, the elements of arrays handed to Python as objects (iterating
    an array, from Python or from C as ``map``, ``math.fsum`` and ``functools.reduce`` do;
    ``tolist``; object-dtype ufuncs), summed over the calls, and ``bulk``, the size of the
    largest NumPy computation, the largest over the calls. Evidence from an untrusted process:
    see ``autograder.checks``."""

    lines: int = 0
    calls: int = 0
    elements: int = 0
    bulk: int = 0
    measured: int = 0  # calls counted
    escapes: list[str] = field(default_factory=list)

    @property
    def work(self) -> int:
        """Lines of Python and elements handed to Python: per-element work either way."""
        return self.lines + self.elements

    def add(self, counts) -> None:
        self.measured += 1
        if type(counts) is not dict or type(counts.get("lines")) is not int \
                or type(counts.get("calls")) is not int or counts["lines"] < 0 \
                or counts["calls"] < 0 or type(counts.get("escapes")) is not list:
            self.escapes.append("the notebook sent no counts")
            return
        elements, bulk = counts.get("elements", 0), counts.get("bulk", 0)
        if type(elements) is not int or type(bulk) is not int or elements < 0 or bulk < 0:
            self.escapes.append("the notebook sent no counts")
            return
        self.lines += counts["lines"]
        self.calls += counts["calls"]
        for why in counts["escapes"][:MAX_ESCAPES]:
            self.escapes.append(str(why)[:200])
        self.elements += elements
        self.bulk = max(self.bulk, bulk)
