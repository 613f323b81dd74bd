"""Jobs of several courses through one fleet, without a broker: their ids, which course file a
worker opens for each (only its own, given when it started: never a path from a message), the
refusals, and the deadline sweep of a worker's own courses only (THREATS.md class 30)."""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path

import pytest
from small_courses import REPO, course_text, create_gradebook

from course.errors import UserError
from course.fleet.jobs import Job, Refused, course_file_for, resolve_courses, run_job

NOW = dt.datetime(2027, 1, 11, 12, 0, tzinfo=dt.UTC)  # after 01-numpy's due 2027-01-10 18:00
RECEIVED = dt.datetime(2027, 1, 10, 12, 0, tzinfo=dt.UTC)
# what a student can hand in beside their notebook: a course file that turns the sandbox off
HANDED_IN = course_text("evil") + "grading: {isolation: none}\n"


def job(course_id: str, run_id: int = 7, student: str = "ben") -> Job:
    return Job(course_id, "01-numpy", student, 1, "abc", run_id, ("numpy-basics.ipynb",),
               "2026-12-06T17:00:00+00:00", "cpu")


def message(course_id: str | None, course_file: str, run_id: int = 7,
            student: str = "ben") -> dict:
    """A job as it travels, with the ``course_file`` that jobs carried before they named their
    course by id alone (or that someone sending to the broker adds)."""
    data = {**job(course_id or "", run_id, student).to_json(), "course_file": course_file}
    if course_id is None:
        del data["course_id"]
    return data


@pytest.fixture
def fixed_clock(monkeypatch):
    """The worker's own clock reads (started_at, finished_at) give NOW: no test reads the wall
    clock."""
    import course.fleet.jobs
    import course.gradebook.records

    monkeypatch.setattr(course.fleet.jobs, "utcnow", lambda: NOW)
    monkeypatch.setattr(course.gradebook.records, "utcnow", lambda: NOW, raising=False)


@pytest.fixture
def spies(monkeypatch):
    """Every course file a worker's job opens, and every grading it starts (a stub grading:
    what matters is under which course file it runs)."""
    import course.fleet.jobs
    import course.grade
    from course.workspace import open_workspace

    seen = {"opened": [], "graded": []}

    def opening(path):
        seen["opened"].append(str(Path(path).resolve()))
        return open_workspace(path)

    def grading(course_file, assignment_id, student_id, expected, gpu_devices=(),
                gpu_nodes=()):
        seen["graded"].append((course_file, assignment_id, student_id))
        return "unreadable", "graded by the stub", []

    monkeypatch.setattr(course.fleet.jobs, "open_workspace", opening)
    monkeypatch.setattr(course.fleet.jobs, "autograde_one", grading)
    return seen


def make_course(root: Path, course_id: str, monkeypatch, *, submit: tuple[str, ...] = ()):
    """A course folder with its own SQLite gradebook and 01-numpy's source; ``submit``: those
    students' submissions, received before the due date."""
    from course.inbox import receive
    from course.workspace import open_workspace

    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    monkeypatch.setenv("COURSE_USER", "ina")
    root.mkdir(parents=True)
    (root / "course.yml").write_text(course_text(course_id))
    shutil.copytree(REPO / "assignments" / "01-numpy", root / "assignments" / "01-numpy")
    create_gradebook(root)
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        gb.nb  # nbgrader's tables, with this course in its course table  # noqa: B018
        for student in submit:
            notebook = (root / "assignments" / "01-numpy" / "numpy-basics.ipynb").read_bytes()
            receive(ws, gb, student, "01-numpy", {"numpy-basics.ipynb": notebook},
                    received_at=RECEIVED)
        gb.commit()
    return ws


def queued_run(ws, student: str) -> int:
    from course.gradebook.records import start_run

    with ws.gradebook() as gb:
        run = start_run(gb, student, "01-numpy", None, "sandboxed-pytest", "abc")
        run.outcome = "queued"
        gb.commit()
        return run.id


def run_rows(ws) -> set[tuple]:
    from course.gradebook import GradingRun

    with ws.gradebook() as gb:
        return {(run.id, run.student_id, run.outcome, run.message)
                for run in gb.session.query(GradingRun)}


def hand_in_course_file(ws, student: str) -> Path:
    """A course file a student handed in, landed in the course folder every worker sees; it is
    a valid course file that would grade without a sandbox."""
    from course.settings import resolve_grading
    from course.workspace import open_workspace

    folder = ws.root / "submitted" / student / "01-numpy"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.yml").write_text(HANDED_IN)
    assert resolve_grading(open_workspace(folder).course, None).values.isolation == "none"
    return (folder / "course.yml").resolve()


# --- attacks --------------------------------------------------------------------------------


def test_a_job_naming_a_handed_in_course_file_is_refused_and_nothing_is_graded_under_it(
        tmp_path, monkeypatch, spies, fixed_clock):
    """The message names a student's course.yml (isolation: none) for a course this worker does
    not own, by its id, with no id, or with an id that is a path: each is refused before any
    course file is opened; nothing is graded and no gradebook is written or created."""
    dl = make_course(tmp_path / "dl", "dl-a", monkeypatch)
    ml = make_course(tmp_path / "ml", "ml-b", monkeypatch)
    ada = queued_run(dl, "ada")
    handed_in = hand_in_course_file(dl, "ada")
    courses = resolve_courses([str(dl.course_file), str(ml.course_file)])
    spies["opened"].clear()
    before = run_rows(dl), run_rows(ml)
    for course_id in ("evil", None, str(handed_in), ""):
        with pytest.raises(Refused, match="not one this worker grades|names no course"):
            run_job(Job.from_json(message(course_id, str(handed_in), ada, "ada")), "w1",
                    courses)
    assert spies["graded"] == []
    assert spies["opened"] == []  # not even read: the handed-in file is only data
    assert sorted(p.name for p in handed_in.parent.iterdir()) == ["course.yml"]  # no gradebook
    assert (run_rows(dl), run_rows(ml)) == before


def test_the_celery_task_rejects_a_refused_job_without_a_requeue_and_says_why(
        tmp_path, monkeypatch, spies, caplog):
    """What the worker's task does with it: one clear log line, and Celery's Reject with
    requeue=False (the broker drops the message; it is not retried by this or another worker)."""
    from types import SimpleNamespace

    from celery.exceptions import Reject

    from course.fleet.app import TASK, _grade_submission, make_app

    dl = make_course(tmp_path / "dl", "dl-a", monkeypatch)
    handed_in = hand_in_course_file(dl, "ada")
    courses = resolve_courses([str(dl.course_file)])
    spies["opened"].clear()
    task = SimpleNamespace(request=SimpleNamespace(id="evil/01-numpy/r1/gabc", hostname="w1"))
    caplog.set_level(logging.ERROR, logger="course.fleet")
    with pytest.raises(Reject) as refused:
        _grade_submission(task, message("evil", str(handed_in)), courses=courses)
    assert refused.value.requeue is False
    assert "course 'evil' is not one this worker grades (dl-a)" in caplog.text
    assert "refused: job 'evil/01-numpy/r1/gabc': course 'evil'" in caplog.text
    with pytest.raises(Reject):  # not a job at all
        _grade_submission(task, {"course_file": str(handed_in)}, courses=courses)
    worker_app = make_app("memory://", courses=courses)  # a worker's, made first
    app = make_app("memory://")  # an app that only sends: its task grades no course at all,
    try:                         # not even a course of another app in the same process
        assert app.tasks[TASK] is not worker_app.tasks[TASK]
        with pytest.raises(Reject, match=r"course 'dl-a' is not one this worker grades \(none\)"):
            app.tasks[TASK].run(message("dl-a", str(handed_in)))
    finally:
        app.close()
        worker_app.close()
    assert spies["graded"] == [] and spies["opened"] == []


def test_a_job_of_an_own_course_is_graded_from_the_configured_file_whatever_path_it_carries(
        tmp_path, monkeypatch, spies, fixed_clock):
    dl = make_course(tmp_path / "dl", "dl-a", monkeypatch)
    ada, ben = queued_run(dl, "ada"), queued_run(dl, "ben")
    handed_in = hand_in_course_file(dl, "ada")
    courses = resolve_courses([str(dl.root)])  # a folder names its course.yml
    assert courses == {"dl-a": str(dl.course_file)}
    assert run_job(Job.from_json(message("dl-a", str(handed_in), ada, "ada")), "w1",
                   courses) == "unreadable"
    # a job sent before jobs named their course: a worker of one course takes it as its own
    assert run_job(Job.from_json(message(None, str(handed_in), ben, "ben")), "w1",
                   courses) == "unreadable"
    assert spies["graded"] == [(str(dl.course_file), "01-numpy", "ada"),
                               (str(dl.course_file), "01-numpy", "ben")]
    assert str(handed_in) not in spies["opened"]
    assert {(row[1], row[2], row[3]) for row in run_rows(dl)} == {
        ("ada", "unreadable", "graded by the stub"), ("ben", "unreadable", "graded by the stub")}
    assert sorted(p.name for p in handed_in.parent.iterdir()) == ["course.yml"]


def test_a_job_of_an_unknown_course_id_is_refused(tmp_path, monkeypatch, spies):
    dl = make_course(tmp_path / "dl", "dl-a", monkeypatch)
    courses = resolve_courses([str(dl.course_file)])
    with pytest.raises(Refused, match="job 'ml-b/01-numpy/r1/gabc': course 'ml-b' is not one "
                                      r"this worker grades \(dl-a\)"):
        run_job(job("ml-b"), "w1", courses)
    with pytest.raises(Refused, match="names no course and this worker grades several"):
        course_file_for(job(""), {"dl-a": "/srv/dl/course.yml", "ml-b": "/srv/ml/course.yml"})
    with pytest.raises(Refused):
        course_file_for(job("dl-a"), {})  # a worker without courses grades nothing
    assert spies["graded"] == [] and spies["opened"] == [str(dl.course_file)]  # at the start


def test_a_course_file_that_changed_its_id_since_the_worker_started_is_refused(
        tmp_path, monkeypatch, spies):
    dl = make_course(tmp_path / "dl", "dl-a", monkeypatch)
    ada = queued_run(dl, "ada")
    courses = resolve_courses([str(dl.course_file)])
    spies["opened"].clear()
    dl.course_file.write_text(course_text("other"))
    with pytest.raises(Refused, match="declares id 'other' now, not 'dl-a'"):
        run_job(job("dl-a", ada, "ada"), "w1", courses)
    assert spies["graded"] == []


def test_the_sweep_sweeps_only_the_worker_s_own_courses(tmp_path, monkeypatch, spies):
    """Two courses with submissions past their deadline on the shared folder; the worker was
    given one. Its sweep (and the beat's schedule) covers that one only; a sweep message naming
    the other, by id or by a path, is refused."""
    from celery.exceptions import Reject

    import course.calendar
    import course.grade
    from course.fleet.app import SWEEP, _sweep_deadlines, make_app
    from course.sweep import sweep_course, sweep_courses

    dl = make_course(tmp_path / "dl", "dl-a", monkeypatch, submit=("ada",))
    ml = make_course(tmp_path / "ml", "ml-b", monkeypatch, submit=("ada", "ben"))
    handed_in = hand_in_course_file(dl, "ben")
    courses = resolve_courses([str(dl.course_file)])
    sent = []

    def grade(ws, assignment_id, students, wait):  # sent to the fleet: here, only recorded
        sent.append((ws.course.id, str(ws.course_file), assignment_id, students))

    monkeypatch.setattr(course.grade, "grade", grade)
    monkeypatch.setattr(course.calendar, "utcnow", lambda: NOW)  # the worker's clock read
    assert sweep_courses(courses, NOW - dt.timedelta(days=1)) == {"dl-a": {}}  # not due yet
    assert sweep_courses(courses, NOW) == {"dl-a": {"01-numpy": ["ada"]}}
    assert sent == [("dl-a", str(dl.course_file), "01-numpy", ["ada"])]
    for named in ("ml-b", str(ml.course_file), str(handed_in), "evil"):
        with pytest.raises(Refused, match="is not one this worker grades"):
            sweep_course(courses, named, NOW)
        with pytest.raises(Reject):
            _sweep_deadlines(named, courses=courses, sweep=sweep_course)
    assert _sweep_deadlines("dl-a", courses=courses, sweep=sweep_course) == {"01-numpy": ["ada"]}
    assert [s[0] for s in sent] == ["dl-a", "dl-a"]
    assert str(ml.course_file) not in spies["opened"] and str(handed_in) not in spies["opened"]
    app = make_app("memory://", courses=courses, beat=True, sweep=sweep_course)
    try:
        assert [(e["task"], e["args"]) for e in app.conf.beat_schedule.values()] == [
            (SWEEP, ("dl-a",))]
    finally:
        app.close()


# --- the worker's list and the message format -------------------------------------------------


def test_two_courses_receipt_1_are_two_jobs():
    dl, ml = job("dl-a"), job("ml-b")
    assert dl.id == "dl-a/01-numpy/r1/gabc" and ml.id == "ml-b/01-numpy/r1/gabc"
    assert "course_file" not in dl.to_json()  # a job names its course by id alone
    old = {key: value for key, value in dl.to_json().items() if key != "course_id"}
    assert Job.from_json(old).id == "01-numpy/r1/gabc"  # queued before courses were named
    assert Job.from_json({**dl.to_json(), "course_file": "/elsewhere/course.yml"}) == dl
    with pytest.raises(Refused, match="not a grading job message"):
        Job.from_json({**dl.to_json(), "isolation": "none"})


def test_a_worker_s_courses_come_from_its_command_line_or_its_environment(tmp_path, monkeypatch):
    from commands.fleet import worker_course_files

    dl = make_course(tmp_path / "dl", "dl-a", monkeypatch)
    ml = make_course(tmp_path / "ml", "ml-b", monkeypatch)
    environ = {"COURSE_WORKER_COURSES": f"{dl.course_file}:{ml.root}"}
    assert worker_course_files([str(dl.root)], environ) == [str(dl.root)]
    assert resolve_courses(worker_course_files(None, environ)) == {
        "dl-a": str(dl.course_file), "ml-b": str(ml.course_file)}
    with pytest.raises(UserError, match="a worker grades only the courses it is given"):
        resolve_courses(worker_course_files(None, {}))
    (tmp_path / "copy").mkdir()
    shutil.copy(dl.course_file, tmp_path / "copy" / "course.yml")
    with pytest.raises(UserError, match="id: dl-a is also the id of"):
        resolve_courses([str(dl.course_file), str(tmp_path / "copy")])


def test_a_job_never_writes_into_another_course_s_gradebook(tmp_path, monkeypatch, spies):
    """$COURSE_DB_URL names one database for every course a worker grades: a job of course B
    would find course A's row of the same number. The worker refuses instead of grading."""
    from course.gradebook.records import start_run
    from course.workspace import open_workspace

    files = {}
    for course_id in ("dl-a", "ml-b"):
        (tmp_path / course_id).mkdir()
        files[course_id] = tmp_path / course_id / "course.yml"
        files[course_id].write_text(course_text(course_id))
    monkeypatch.setenv("COURSE_DB_URL", f"sqlite:///{tmp_path / 'dl-a' / 'gradebook.db'}")
    create_gradebook(tmp_path / "dl-a")
    courses = resolve_courses([str(path) for path in files.values()])
    with open_workspace(files["dl-a"]).gradebook() as gb:
        gb.nb  # nbgrader's tables, with dl-a in its course table  # noqa: B018
        ada = start_run(gb, "ada", "01-numpy", None, "sandboxed-pytest", "abc")
        ben = start_run(gb, "ben", "01-numpy", None, "sandboxed-pytest", "abc")
        gb.commit()
        rows = {(run.id, run.student_id, run.outcome) for run in (ada, ben)}

    with pytest.raises(Refused, match="holds run .* for ada/01-numpy, not ben/01-numpy"):
        run_job(job("ml-b", ada.id, "ben"), "w1", courses)
    with pytest.raises(Refused, match="is the gradebook of dl-a, not ml-b"):
        run_job(job("ml-b", ben.id, "ben"), "w1", courses)  # even the same student, assignment
    with open_workspace(files["dl-a"]).gradebook() as gb:  # dl-a's rows are untouched
        from course.gradebook import GradingRun

        after = {(run.id, run.student_id, run.outcome) for run in gb.session.query(GradingRun)}
    assert after == rows
    assert spies["graded"] == []


def test_a_grading_error_from_a_lost_database_is_retried_not_recorded():
    """What nbgrader's log says when PostgreSQL restarts under it: each reads as a lost
    database (the job goes back to the queue); a student's failure does not."""
    from course.fleet.jobs import lost_database

    lost = [
        ("sqlalchemy.exc.OperationalError: (psycopg.OperationalError) server closed the "
         "connection unexpectedly"),
        ("sqlalchemy.exc.PendingRollbackError: Can't reconnect until invalid transaction is "
         "rolled back"),
        "psycopg.errors.AdminShutdown: terminating connection due to administrator command",
        "sqlalchemy.exc.InterfaceError: (psycopg.InterfaceError) connection is closed",
    ]
    for problem in lost:
        assert lost_database(problem), problem
    for problem in ("timed out after 8 s running the notebook",
                    "NameError: name 'np' is not defined",
                    "numpy-basics.ipynb is not valid JSON"):
        assert not lost_database(problem), problem


def test_a_job_names_its_queue_and_one_sent_before_queues_were_named_still_reads():
    named = Job.from_json({**job("dl-a").to_json(), "queue": "a100"})
    assert named.queue == "a100" and named.to_json()["queue"] == "a100"
    old = {key: value for key, value in job("dl-a").to_json().items() if key != "queue"}
    assert Job.from_json({**old, "gpu": True}).queue == "gpu"
    assert Job.from_json({**old, "gpu": False}).queue == "cpu"
    with pytest.raises(Refused, match="not a grading job message"):
        Job.from_json({**old, "priority": 1})


def test_the_fleet_declares_a_course_s_named_queue_durable_like_its_own():
    from course.fleet.app import make_app

    app = make_app("memory://", queues=("a100",))
    try:
        queues = {queue.name: queue for queue in app.conf.task_queues}
        assert list(queues) == ["cpu", "gpu", "a100"]
        assert queues["a100"].durable and queues["a100"].routing_key == "a100"
    finally:
        app.close()
