"""What a student is shown of a hidden test, by feedback level: one vocabulary for the grader's
``feedback`` marker (read in the trusted pytest process), the course file (``course.
feedback_levels``) and the feedback pages (``course.nbgrader_steps.ShowFeedbackLevels``).

- ``nothing``: that a hidden test passed or failed and its points, not even its name (a name
  shown only for passed tests would name the failed ones by elimination, so none is shown);
- ``name``: its name and points;
- ``message``: and the first line of what it raised (what feedback showed before levels);
- ``traceback``: and where it failed, as ``safe_traceback`` records it: the hidden test's own
  frames by name only, never their lines, and the traceback of the student's own code when
  that is what raised.

The hidden test's source never shows at any level.
"""

from __future__ import annotations

import re
from pathlib import Path

__all__ = ["DEFAULT_LEVEL", "LEVELS", "level_of", "result_line", "safe_traceback"]

LEVELS = ("nothing", "name", "message", "traceback")
DEFAULT_LEVEL = "message"  # what feedback showed before levels existed
MAX_TRACEBACK = 4000  # characters of the student's side, as the client keeps them
_AUTOGRADER = Path(__file__).resolve().parent
_FRAME = re.compile(r'\s*File "([^"]*)", line \d+, in ')


def level_of(value: object) -> str:
    """A level as given (a marker's argument, a report's field); anything else is the
    strictest, ``nothing``: a mistyped marker never shows more than was meant."""
    return value if isinstance(value, str) and value in LEVELS else "nothing"


def result_line(test, level: str) -> str:
    """One test's line at ``level`` (``test``: name, outcome, points, max_points, message and
    traceback, as ``autograder.results.TestScore`` holds them). Passed tests have nothing to
    explain: their line is the same at ``name``, ``message`` and ``traceback``."""
    mark = "PASSED" if test.outcome == "passed" else "FAILED"
    name = test.name if level != "nothing" else "a hidden test"
    line = f"{mark} {name} ({test.points:g}/{test.max_points:g})"
    if mark == "PASSED" or level in ("nothing", "name"):
        return line
    line += f": {test.message}" if test.message else ""
    if level == "traceback" and test.traceback:
        line += "\n" + "\n".join(f"    {row}" for row in test.traceback.splitlines())
    return line


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except (OSError, ValueError):
        return False
    return True


def _student_traceback(error: BaseException | None) -> str:
    """The traceback the student's process sent with an error its code raised (the error or
    one it caused), else ""."""
    from .client import StudentError

    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, StudentError) and error.traceback.strip():
            return _own_frames(error.traceback.strip()[-MAX_TRACEBACK:])
        error = error.__cause__ or error.__context__
    return ""


def _own_frames(text: str) -> str:
    """A traceback from the student's process without the frames of the platform's runner
    there (how a call reached the student's function), each with its source lines."""
    kept, platform = [], False
    for line in text.splitlines():
        frame = _FRAME.match(line)
        if frame:
            platform = "/autograder/" in frame.group(1).replace("\\", "/")
        elif not line.startswith(" "):
            platform = False  # the header, or the exception's own lines
        if not platform:
            kept.append(line)
    return "\n".join(kept)


def safe_traceback(excinfo, test_name: str, graders: Path | None) -> str:
    """A failed test's traceback that a student may see: the frames in ``graders`` (the hidden
    tests and their helpers) as one line naming the test, the platform's own frames left out,
    other libraries' frames by file and function; no frame's source lines or values; then the
    student's own traceback when their code raised. Its last line is left to the message."""
    rows: list[str] = []
    started = False  # pytest's own frames come before the test's
    for entry in excinfo.traceback:
        path = Path(str(entry.path))
        hidden = graders is not None and _inside(path, graders)
        started = started or hidden
        if not started:
            continue
        if hidden:
            row = f"in the hidden test {test_name} (its lines are not shown)"
        elif _inside(path, _AUTOGRADER):
            continue  # the submission proxy: how a call reached the notebook, not why it failed
        else:
            row = f"in {entry.name} ({path.name})"
        if not rows or rows[-1] != row:
            rows.append(row)
    student = _student_traceback(excinfo.value)
    if student:
        rows.append("in your notebook:")
        rows += [f"  {line}" for line in student.splitlines()]
    return "\n".join(rows)
