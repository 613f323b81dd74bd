"""A fleet test's course with queued grading runs, as ``course grade`` leaves them for the
workers (shared by the job and dispatch tests)."""

from __future__ import annotations

import shutil

from small_courses import REPO, course_text, create_gradebook


def course_folder(root, course_id, monkeypatch, url: str | None = None):
    """A course ``course_id`` with 01-numpy in ``root``; its gradebook at ``url`` if given."""
    from course.workspace import open_workspace

    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    monkeypatch.setenv("COURSE_USER", "ina")
    root.mkdir(parents=True)
    text = course_text(course_id)
    if url:
        text += f"gradebook: {{url: '{url}'}}\n"
    (root / "course.yml").write_text(text)
    shutil.copytree(REPO / "assignments" / "01-numpy", root / "assignments" / "01-numpy")
    create_gradebook(root)
    return open_workspace(root)


def queued(ws, student: str) -> int:
    """The id of a new grading run of ``student``'s 01-numpy, queued."""
    from course.gradebook.records import start_run

    with ws.gradebook() as gb:
        gb.nb  # nbgrader's tables, with this course in its course table  # noqa: B018
        run = start_run(gb, student, "01-numpy", None, "sandboxed-pytest", "abc")
        run.outcome = "queued"
        gb.commit()
        return run.id
