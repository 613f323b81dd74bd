"""A small course with summaries and a released notebook, for the wiki export tests."""

import datetime as dt

from small_courses import BASE_COURSE, utc

from course.gradebook.records import record_release
from course.summaries import receive_summary
from course.workspace import open_workspace
from devhub.demo_life import png

SUMMARY_1 = """\
# Key topics

- The perceptron *update rule*, with `w += lr * y * x`
- Hostile text stays text: [[Main Page]] {{delete}} ''not italic'' <script>alert(1)</script> | ~~~~

## Results

| model | accuracy |
|---|--:|
| perceptron | 0.91 |

![The board](board.png)

```python
print("ok")
```
"""
SUMMARY_2 = "# Backprop\n\n1. chain rule\n2. vectorise\n\n> Quote of the day\n"


def board() -> bytes:
    return png(40, 30, lambda x, y: (200, 60 + 4 * y, 40 + 5 * x))


def wiki_course(make_course, db_url=None):
    """Sessions 1 and 2 have summaries, 01-numpy is released; returns the workspace."""
    root = make_course(BASE_COURSE, db_url=db_url)
    ws = open_workspace(root)
    release = root / "release" / "01-numpy"
    release.mkdir(parents=True)
    (release / "numpy-basics.ipynb").write_text('{"cells": [], "nbformat": 4}')
    with ws.gradebook() as gb:
        record_release(gb, "01-numpy", "0" * 64, now=utc(2026, 10, 15, 12))
        gb.commit()
        receive_summary(ws, gb, 1, {"summary.md": SUMMARY_1.encode(), "board.png": board()},
                        submitted_by="ina", received_at=utc(2026, 10, 22, 9))
        receive_summary(ws, gb, dt.date(2026, 10, 27), {"s.md": SUMMARY_2.encode()},
                        submitted_by="ina", authors=["cleo", "ada"],
                        received_at=utc(2026, 10, 29, 9))
    return ws


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes()
            for p in sorted(folder.rglob("*")) if p.is_file()}
