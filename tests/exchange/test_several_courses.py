"""One exchange service for several courses, without a hub: routing by course id, and a staff
service (a course's formgrader) that acts for its own course only. The same against a real hub
is tests/hub_config/test_two_courses_hub.py."""

import pytest
from exchange_requests import request
from small_courses import course_text, create_gradebook

from exchange.service import ExchangeService, parse_staff_services


@pytest.fixture
def two_courses(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    files = []
    for course_id in ("dl-test", "ml-test"):
        root = tmp_path / course_id
        root.mkdir()
        (root / "course.yml").write_text(course_text(course_id))
        create_gradebook(root)
        files.append(root / "course.yml")
    return files


def test_a_formgrader_acts_for_its_own_course_only(two_courses):
    graders = {"formgrader-dl-test": "dl-test", "formgrader-ml-test": "ml-test"}

    def as_formgrader(method, path):
        body = {} if method == "POST" else None
        return request(two_courses, "formgrader-dl-test", method, path, body, kind="service",
                       staff_services=graders)

    code, reply = as_formgrader("GET", "courses")
    assert code == 200 and reply["courses"] == [
        {"course_id": "dl-test", "title": "Deep Learning (test)", "role": "grader"}]
    assert as_formgrader("GET", "courses/dl-test/submissions")[0] == 200
    code, reply = as_formgrader("GET", "courses/ml-test/submissions")
    assert code == 403 and "not in the roster of ml-test" in reply["error"]
    assert as_formgrader("POST", "courses/ml-test/collect/01-numpy")[0] == 403
    # a hub service no course names is staff of none
    code, _ = request(two_courses, "idle-culler", "GET", "courses/dl-test/submissions",
                      kind="service", staff_services=graders)
    assert code == 403


def test_routing_by_course_id_and_the_same_person_in_both(two_courses):
    # ada is a student of both (the same roster): each course answers for itself
    for course_id in ("dl-test", "ml-test"):
        code, reply = request(two_courses, "ada", "GET", f"courses/{course_id}/assignments")
        assert code == 200 and reply["assignments"] == []
    code, reply = request(two_courses, "ada", "GET", "courses")
    assert [(c["course_id"], c["role"]) for c in reply["courses"]] == [
        ("dl-test", "student"), ("ml-test", "student")]
    code, reply = request(two_courses, "ada", "GET", "courses/other/assignments")
    assert code == 404 and reply["error"] == "no course 'other' on this exchange"
    code, reply = request(two_courses, "mallory", "GET", "courses")
    assert code == 403 and "in the roster of no course" in reply["error"]


def test_ambiguous_set_ups_are_refused_at_start(two_courses, tmp_path):
    with pytest.raises(ValueError, match="name each staff service's course"):
        ExchangeService(courses=[str(f) for f in two_courses],
                        staff_services={"formgrader": "*"})
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "course.yml").write_text(two_courses[0].read_text())
    create_gradebook(copy)
    with pytest.raises(ValueError, match="two course files with the course id 'dl-test'"):
        ExchangeService(courses=[str(two_courses[0]), str(copy / "course.yml")])


def test_the_staff_services_variable():
    assert parse_staff_services("formgrader-a=a, formgrader-b=b") == {
        "formgrader-a": "a", "formgrader-b": "b"}
    assert parse_staff_services("formgrader-a") == {"formgrader-a": "*"}
    assert parse_staff_services("") == {}


def test_two_courses_never_share_a_gradebook(two_courses, monkeypatch, tmp_path):
    monkeypatch.setenv("COURSE_DB_URL", f"sqlite:///{tmp_path / 'one.db'}")
    create_gradebook(two_courses[0].parent)
    with pytest.raises(ValueError, match="dl-test and ml-test would share one gradebook"):
        ExchangeService(courses=[str(f) for f in two_courses])
