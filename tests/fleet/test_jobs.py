"""Jobs of several courses through one fleet, without a broker: their ids, and which course
file a worker opens for each."""

from small_courses import course_text

from course.fleet.jobs import Job, course_file_for


def job(course_id: str, course_file: str) -> Job:
    return Job(course_file, "01-numpy", "ben", 1, "abc", 7, ("numpy-basics.ipynb",),
               "2026-12-06T17:00:00+00:00", False, course_id)


def test_two_courses_receipt_1_are_two_jobs():
    dl, ml = job("dl-a", "/srv/dl/course.yml"), job("ml-b", "/srv/ml/course.yml")
    assert dl.id == "dl-a/01-numpy/r1/gabc" and ml.id == "ml-b/01-numpy/r1/gabc"
    old = {key: value for key, value in dl.to_json().items() if key != "course_id"}
    assert Job.from_json(old).id == "01-numpy/r1/gabc"  # queued before courses were named


def test_a_worker_for_one_course_grades_another_s_job_as_that_course(monkeypatch):
    monkeypatch.setenv("COURSE_WORKER_COURSE", "/mnt/dl/course.yml")  # its own view of dl-a
    monkeypatch.setenv("COURSE_WORKER_COURSE_ID", "dl-a")
    assert course_file_for(job("dl-a", "/srv/dl/course.yml")) == "/mnt/dl/course.yml"
    assert course_file_for(job("", "/srv/dl/course.yml")) == "/mnt/dl/course.yml"
    assert course_file_for(job("ml-b", "/srv/ml/course.yml")) == "/srv/ml/course.yml"
    monkeypatch.delenv("COURSE_WORKER_COURSE")
    assert course_file_for(job("dl-a", "/srv/dl/course.yml")) == "/srv/dl/course.yml"




def test_a_job_never_writes_into_another_course_s_gradebook(tmp_path, monkeypatch):
    """$COURSE_DB_URL names one database for every course a worker grades: a job of course B
    would find course A's row of the same number. The worker refuses instead of grading."""
    import pytest

    from course.errors import UserError
    from course.fleet.jobs import run_job
    from course.gradebook.records import start_run
    from course.workspace import open_workspace

    files = {}
    for course_id in ("dl-a", "ml-b"):
        (tmp_path / course_id).mkdir()
        files[course_id] = tmp_path / course_id / "course.yml"
        files[course_id].write_text(course_text(course_id))
    monkeypatch.setenv("COURSE_DB_URL", f"sqlite:///{tmp_path / 'dl-a' / 'gradebook.db'}")
    monkeypatch.delenv("COURSE_WORKER_COURSE", raising=False)
    with open_workspace(files["dl-a"]).gradebook() as gb:
        gb.nb  # nbgrader's tables, with dl-a in its course table  # noqa: B018
        ada = start_run(gb, "ada", "01-numpy", None, "sandboxed-pytest", "abc")
        ben = start_run(gb, "ben", "01-numpy", None, "sandboxed-pytest", "abc")
        gb.commit()
        rows = {(run.id, run.student_id, run.outcome) for run in (ada, ben)}

    def job_of_b(student: str, run_id: int) -> Job:
        return Job(str(files["ml-b"]), "01-numpy", student, None, "abc", run_id,
                   ("numpy-basics.ipynb",), "2026-12-06T17:00:00+00:00", False, "ml-b")

    with pytest.raises(UserError, match="holds run .* for ada/01-numpy, not ben/01-numpy"):
        run_job(job_of_b("ben", ada.id), "w1")
    with pytest.raises(UserError, match="is the gradebook of dl-a, not ml-b"):
        run_job(job_of_b("ben", ben.id), "w1")  # even the same student and assignment
    with open_workspace(files["dl-a"]).gradebook() as gb:  # dl-a's rows are untouched
        from course.gradebook import GradingRun

        after = {(run.id, run.student_id, run.outcome) for run in gb.session.query(GradingRun)}
    assert after == rows
