"""The demo's course life: presenter draws, two session summaries, and the wiki export.

Replayed like the rest of the demo: fixed seeds and scripted receipt times, so every run draws
the same presenters and writes the same wiki.
"""

from __future__ import annotations

import datetime as dt
import struct
import zlib
from pathlib import Path

from rich.console import Console

__all__ = ["SUMMARIES", "png", "run_course_life"]

SUMMARIES = {
    1: """\
# Key topics

- What a **tensor** is in NumPy: `shape`, `dtype`, and why broadcasting saves loops.
- Vectorising a loop: from 2.1 s to 4 ms on the exercise's data.

# Results of the discussion

1. Prefer `x @ w` to `np.dot` for readability.
2. Check shapes with `assert x.shape == (n, d)` before debugging numbers.

![The decision boundary we drew on the board](board.png)

| approach | time |
|---|--:|
| Python loop | 2.1 s |
| vectorised | 4 ms |
""",
    2: """\
# Key topics

- Least squares as an optimisation problem; the gradient of the mean squared error.
- Gradient descent: learning rate too large → divergence, too small → slow.

# Open questions

- [x] Why does feature scaling help gradient descent?
- [ ] When is the closed-form solution preferable?

```python
w = w - lr * 2 / n * X.T @ (X @ w - y)
```
""",
}


def png(width: int, height: int, pixel) -> bytes:
    """A PNG from ``pixel(x, y) -> (r, g, b)``; small enough to write without an image library."""
    rows = b"".join(b"\0" + bytes(c for x in range(width) for c in pixel(x, y))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(rows, 9)) + chunk(b"IEND", b""))


def board_png() -> bytes:
    """Two classes split by a line: the perceptron's decision boundary on the board."""
    def pixel(x, y):
        if abs(2 * x - 3 * y - 20) < 3:
            return (30, 30, 30)
        return (120, 170, 230) if 2 * x - 3 * y > 20 else (240, 170, 110)

    return png(160, 100, pixel)


def run_course_life(ws, assignments: list[str], console: Console) -> dict[str, Path]:
    """Draw presenters, hand in two summaries, export the wiki; returns each format's index."""
    from course.presenters import draw, presentation_session, replace_absentees
    from course.summaries import receive_summary
    from course.summary_rota import course_rotation, latest_summaries, summary_deadline
    from course.wiki.export import export_wiki

    course = ws.course
    with ws.gradebook() as gb:
        for number, assignment_id in enumerate(assignments, start=1):
            # drawn at the start of the session where the assignment is presented
            session = course.sessions[presentation_session(course, assignment_id) - 1]
            at = session.starts_at(course.zone)
            result = draw(course, gb, assignment_id, seed=f"demo-{number}", as_of=at)
            line = f"  drew presenters for {assignment_id}: {', '.join(result.picked)}"
            if number == len(assignments):  # one presenter is absent that day
                again = replace_absentees(course, gb, assignment_id, result.picked[:1], as_of=at)
                line += f" ({result.picked[0]} absent, replaced by {', '.join(again.picked)})"
            console.print(line)
        plan = course_rotation(course, latest_summaries(gb))
        for number, text in SUMMARIES.items():
            files = {"summary.md": text.encode()}
            if "board.png" in text:
                files["board.png"] = board_png()
            authors = plan[number]
            receive_summary(ws, gb, number, files, submitted_by=authors[0],
                            received_at=summary_deadline(course, number) - dt.timedelta(days=1))
            console.print(f"  {', '.join(authors)} handed in the summary of session {number}")
    indexes = {}
    for fmt in ("html", "markdown", "mediawiki"):
        indexes[fmt] = export_wiki(ws, fmt, ws.root / "wiki" / fmt).index
    return indexes
