"""The four newest assignments graded end to end in the demo course: released, handed in (the
reference, through the inbox every hand-in takes), collected, autograded in the sandbox with
their hidden graders, and judged by the policy with full marks. The scripted demo itself replays
its first two weeks (tests/course/test_demo_e2e.py); these come later in its term."""

import datetime as dt
import shutil

import nbformat
import pytest

from autograder.notebooks import solution_cells, with_cells
from course.grade import grade
from course.gradebook.database import upgrade_database
from course.inbox import receive
from course.release import release
from course.standing import standing_data
from course.workspace import open_workspace
from devhub.demo import INSTRUCTOR, REPO_ASSIGNMENTS, demo_course_file, shipped_assignments

NEW = ["13-perceptron", "14-vanishing-gradients", "15-autoencoder", "16-introspection"]
NOW = dt.datetime(2029, 10, 29, 8, 30, tzinfo=dt.UTC)  # the demo e2e test's moment


@pytest.mark.slow
def test_the_new_assignments_are_graded_end_to_end_in_the_demo_course(tmp_path, monkeypatch):
    monkeypatch.setenv("COURSE_USER", INSTRUCTOR)
    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    root = tmp_path / "demo"
    (root / "assignments").mkdir(parents=True)
    assert set(NEW) <= {aid for aid, _title in shipped_assignments()}  # in the demo's syllabus
    for assignment_id in NEW:
        shutil.copytree(REPO_ASSIGNMENTS / assignment_id, root / "assignments" / assignment_id)
    (root / "course.yml").write_text(demo_course_file(NOW))
    ws = open_workspace(root)
    upgrade_database(ws.db_url)
    for assignment_id in NEW:
        assignment = ws.course.assignment(assignment_id)
        release(ws, assignment_id, now=assignment.release, by=INSTRUCTOR)
        outbound = ws.root / "exchange" / ws.course.id / "outbound" / assignment_id
        (path,) = sorted(outbound.glob("*.ipynb"))  # what a student fetches
        (source,) = sorted((ws.source / assignment_id).glob("*.ipynb"))
        answers = solution_cells(nbformat.read(source, as_version=4))
        handed_in = with_cells(nbformat.read(path, as_version=4), answers)
        with ws.gradebook() as gb:
            receive(ws, gb, "ada", assignment_id, {path.name: nbformat.writes(handed_in).encode()},
                    received_at=ws.course.due(assignment_id) - dt.timedelta(hours=2))
        (outcome,) = grade(ws, assignment_id)
        assert outcome.student_id == "ada"
    after = max(ws.course.due(a) for a in NEW) + dt.timedelta(days=1)
    ada = next(s for s in standing_data(ws, after)["students"] if s["id"] == "ada")
    for assignment_id in NEW:
        result = ada["assignments"][assignment_id]
        assert result["state"] == "on_time", (assignment_id, result)
        assert result["score"] == result["max_score"] == 10, (assignment_id, result)
    ben = next(s for s in standing_data(ws, after)["students"] if s["id"] == "ben")
    assert all(ben["assignments"][a]["state"] == "missing" for a in NEW)
