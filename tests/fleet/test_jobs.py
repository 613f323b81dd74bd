"""Jobs of several courses through one fleet, without a broker: their ids, and which course
file a worker opens for each."""

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
