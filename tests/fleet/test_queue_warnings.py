"""`course queue` says when jobs wait and no worker takes them (issue 28, item 8): a queue
holding jobs with no consumer, and rows "running" on a worker that no longer answers. A real
RabbitMQ node, no worker at all; the exit status stays 0."""

from __future__ import annotations

import datetime as dt
import json
import shutil

import nbformat
import pytest
import sqlalchemy as sa
from rabbitmq_server import RabbitServer, available
from small_courses import REPO, create_gradebook

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not available(), reason="rabbitmq-server is not installed "
                                 "(scripts/install-system-deps.sh installs it)")]

SOURCE = REPO / "assignments" / "01-numpy"
DUE = dt.datetime(2026, 11, 1, 17, 0, tzinfo=dt.UTC)  # 18:00 Berlin


@pytest.fixture(scope="module")
def rabbit():
    with RabbitServer() as server:
        yield server


@pytest.fixture
def ws(rabbit, tmp_path, monkeypatch):
    """A course graded on the fleet (this test's broker), two students' submissions collected."""
    from course.collect import collect
    from course.inbox import receive
    from course.workspace import open_workspace

    for name in ("COURSE_DB_URL", "COURSE_BROKER_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COURSE_USER", "ina")
    root = tmp_path / "course"
    shutil.copytree(SOURCE, root / "assignments" / "01-numpy")
    (root / "course.yml").write_text(
        "id: idle\ntitle: Idle fleet\ntimezone: Europe/Berlin\nwithdrawal_deadline: 2026-12-01\n"
        f"grading: {{backend: celery, broker: '{rabbit.url}'}}\n"
        "assignments:\n  - {id: 01-numpy, due: 2026-11-01 18:00}\n"
        "roster:\n  students:\n    - {id: ada}\n    - {id: ben}\n")
    create_gradebook(root)
    ws = open_workspace(root)
    nb = nbformat.read(SOURCE / "numpy-basics.ipynb", as_version=4)
    answered = nbformat.writes(answer_notebook(nb, solution_cells(nb))).encode()
    with ws.gradebook() as gb:
        for student in ("ada", "ben"):
            receive(ws, gb, student, "01-numpy", {"numpy-basics.ipynb": answered},
                    received_at=DUE - dt.timedelta(hours=1))
    collect(ws, "01-numpy")
    return ws


def queue(ws, capsys, *args: str) -> str:
    from commands.main import main

    capsys.readouterr()
    assert main(["queue", "--course", str(ws.root), *args]) == 0  # a warning is no failure
    return capsys.readouterr().out


def test_jobs_sent_with_no_worker_are_said_to_wait_for_one(ws, capsys):
    from commands.main import main

    assert main(["grade", "01-numpy", "--no-wait", "--course", str(ws.root)]) == 0
    state = json.loads(queue(ws, capsys, "--format", "json"))
    assert state["queues"]["cpu"] == 2 and state["consumers"]["cpu"] == 0
    assert state["assignments"]["01-numpy"]["queued"] == 2
    (warning,) = state["warnings"]
    assert warning.startswith("queue cpu: 2 job(s) waiting and no worker takes them")
    table = queue(ws, capsys)
    assert "! queue cpu: 2 job(s) waiting and no worker takes them" in " ".join(table.split())
    assert "workers taking from it: cpu 0, gpu 0" in table

    # a row left running by a worker that was killed (docker kill): it no longer answers
    from course.gradebook import GradingRun

    with ws.gradebook() as gb:
        run = gb.session.scalars(sa.select(GradingRun).filter_by(student_id="ada")).one()
        run.outcome, run.message = "running", "on cpu-7@gone"
        gb.session.commit()
    state = json.loads(queue(ws, capsys, "--format", "json"))
    assert any(w.startswith("1 grading(s) shown running on cpu-7@gone, which does not answer")
               for w in state["warnings"]), state["warnings"]
