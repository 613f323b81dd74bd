"""Two courses on one real JupyterHub (127.0.0.1): one exchange serves both, each course has its
own formgrader and dashboard, and the staff of one course reach nothing of the other's.

dl-a: instructor ina, students ada and ben.   ml-b: instructor ivo, students ben and cleo.
Both courses have an assignment called 01-numpy, so ben's two copies must stay apart.
"""

from __future__ import annotations

import base64
import json
import secrets
import signal
import time

import psutil
import pytest
import requests
from hub_doubles import ScriptedHub

from devhub.hubcourse import ASSIGNMENT, build_hub_course

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

A, B = "dl-a", "ml-b"
NOTEBOOK = "numpy-basics.ipynb"
COURSES = {A: (("ina", "Ina", "Structor"), [("ada", "Ada", "L"), ("ben", "Ben", "B")]),
           B: (("ivo", "Ivo", "Vector"), [("ben", "Ben", "B"), ("cleo", "Cleo", "C")])}


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("two-courses")
    files = [build_hub_course(tmp / course_id, course_id=course_id, instructor=instructor,
                              students=students, release="none")
             for course_id, (instructor, students) in COURSES.items()]
    admin = secrets.token_hex(16)
    hub = ScriptedHub(files, tmp / "hub", password="test-password", admin_token=admin,
                      formgrader=True, dashboard=True)
    try:
        hub.start(timeout=180)
        hub.wait_for(hub.exchange_url + "health", timeout=120)
        tokens = {user: hub.token_for(user) for user in ("ina", "ivo", "ada", "ben", "cleo")}
        yield {"hub": hub, "tokens": tokens, "admin": admin,
               "roots": {course_id: path.parent for course_id, path in zip(COURSES, files)}}
    finally:
        hub.stop()


def xapi(env, user, method, path, body=None):
    return requests.request(method, env["hub"].exchange_url + "api/" + path,
                            headers={"Authorization": f"token {env['tokens'][user]}"},
                            data=None if body is None else json.dumps(body), timeout=60)


def upload(content: bytes) -> dict:
    return {"files": {NOTEBOOK: base64.b64encode(content).decode()}}


def source(env, course_id: str) -> bytes:
    return (env["roots"][course_id] / "assignments" / ASSIGNMENT / NOTEBOOK).read_bytes()


def service(env, user: str, path: str) -> int:
    """The status of a GET on a hub service with the user's token (no redirects followed)."""
    reply = requests.get(f"{env['hub'].url}/services/{path}", timeout=60, allow_redirects=False,
                         headers={"Authorization": f"token {env['tokens'][user]}"})
    return reply.status_code


def test_each_user_sees_exactly_their_courses_with_their_role(hub):
    def courses(user):
        reply = xapi(hub, user, "GET", "courses")
        assert reply.status_code == 200, reply.text
        return {c["course_id"]: c["role"] for c in reply.json()["courses"]}

    assert courses("ben") == {A: "student", B: "student"}
    assert courses("ina") == {A: "instructor"}
    assert courses("ivo") == {B: "instructor"}
    assert courses("cleo") == {B: "student"}
    groups = {g["name"]: sorted(g["users"]) for g in hub["hub"].api("GET", "groups", hub["admin"])}
    assert groups[f"formgrade-{A}"] == ["ina"] and groups[f"formgrade-{B}"] == ["ivo"]
    assert groups[f"nbgrader-{B}"] == ["ben", "cleo"]


def test_an_instructor_of_one_course_reaches_nothing_of_the_other(hub):
    attempts = [("PUT", f"courses/{B}/assignments/{ASSIGNMENT}", upload(b"{}")),
                ("GET", f"courses/{B}/assignments", None),
                ("GET", f"courses/{B}/submissions", None),
                ("POST", f"courses/{B}/collect/{ASSIGNMENT}", None),
                ("GET", f"courses/{B}/feedback", None),
                ("POST", f"courses/{B}/submissions/{ASSIGNMENT}", upload(b"{}"))]
    for method, path, body in attempts:
        reply = xapi(hub, "ina", method, path, body)
        assert reply.status_code == 403, (method, path, reply.text)
        assert f"ina is not in the roster of {B}" in reply.json()["error"]
    reply = xapi(hub, "ina", "GET", "courses/no-such-course/assignments")
    assert reply.status_code == 404 and A not in reply.text and B not in reply.text
    # the hub keeps her out of the other course's formgrader and dashboard, not out of her own
    assert service(hub, "ina", f"formgrader-{B}/api/status") == 403
    assert service(hub, "ina", f"dashboard-{B}/course") == 403
    assert service(hub, "ina", f"formgrader-{A}/api/status") == 200
    assert service(hub, "ivo", f"dashboard-{B}/course") == 200
    assert service(hub, "ben", f"formgrader-{A}/api/status") == 403  # students: no formgrader


def test_a_student_of_both_courses_fetches_and_submits_each_apart(hub):
    for instructor, course_id in (("ina", A), ("ivo", B)):
        reply = xapi(hub, instructor, "PUT", f"courses/{course_id}/assignments/{ASSIGNMENT}",
                     upload(source(hub, course_id)))
        assert reply.status_code == 200, reply.text

    # ben's own server: nbgrader's Assignments panel lists both courses' 01-numpy and fetches
    # each into a folder of its course
    admin, h = hub["admin"], hub["hub"]
    h.api("POST", "users/ben/server", admin, expect=(201, 202))
    deadline = time.monotonic() + 150
    while not h.api("GET", "users/ben", admin)["servers"].get("", {}).get("ready"):
        assert time.monotonic() < deadline, h.log_tail()
        time.sleep(0.5)
    server = f"{h.url}/user/ben/"
    auth = {"Authorization": f"token {hub['tokens']['ben']}"}
    courses = requests.get(server + "courses", headers=auth, timeout=60).json()
    assert courses["success"] and sorted(courses["value"]) == [A, B], courses
    for course_id in (A, B):  # what the panel shows once a course is picked
        listing = requests.get(server + "assignments", params={"course_id": course_id},
                               headers=auth, timeout=60).json()
        assert listing["success"], listing
        assert [(a["course_id"], a["assignment_id"], a["status"]) for a in listing["value"]] \
            == [(course_id, ASSIGNMENT, "released")]
    for course_id in (A, B):
        reply = requests.post(server + "assignments/fetch", headers=auth, timeout=60,
                              data={"course_id": course_id, "assignment_id": ASSIGNMENT}).json()
        assert reply["success"], reply
    home = h.state / "home" / "ben"
    assert (home / A / ASSIGNMENT / NOTEBOOK).is_file()
    assert (home / B / ASSIGNMENT / NOTEBOOK).is_file()

    for student, course_id in (("ben", A), ("ben", B), ("ada", A), ("cleo", B)):
        reply = xapi(hub, student, "POST", f"courses/{course_id}/submissions/{ASSIGNMENT}",
                     upload(source(hub, course_id)))
        assert reply.status_code == 201, reply.text
        assert reply.json()["course_id"] == course_id
    reply = xapi(hub, "ada", "POST", f"courses/{B}/submissions/{ASSIGNMENT}",
                 upload(source(hub, B)))
    assert reply.status_code == 403, reply.text  # ada is not in ml-b

    def collected(instructor, course_id):
        reply = xapi(hub, instructor, "POST", f"courses/{course_id}/collect/{ASSIGNMENT}")
        assert reply.status_code == 200, reply.text
        assert reply.json()["failed"] == []
        return sorted(item["student_id"] for item in reply.json()["collected"])

    assert collected("ina", A) == ["ada", "ben"]
    assert collected("ivo", B) == ["ben", "cleo"]
    # each course keeps its own receipts, in its own folder
    for course_id, students in ((A, ["ada", "ben"]), (B, ["ben", "cleo"])):
        rows = xapi(hub, "ben", "GET", f"courses/{course_id}/submissions").json()["submissions"]
        assert [r["student_id"] for r in rows] == ["ben"]
        root = hub["roots"][course_id]
        assert sorted(p.name for p in (root / "inbox" / ASSIGNMENT).iterdir()) == students
        assert sorted(p.name for p in (root / "submitted").iterdir()) == students


def test_last_a_hub_killed_outright_leaves_no_service_behind(hub):
    """Runs last (it ends the module's hub): the exchange, formgraders, dashboards, ben's
    server and the proxy outlive a SIGKILLed hub; stopping the launcher still ends them."""
    h = hub["hub"]
    pid = h.proc.pid
    services = psutil.Process(pid).children(recursive=True)
    assert len(services) >= 5  # proxy, exchange, two formgraders, two dashboards, ben's server
    h.proc.send_signal(signal.SIGKILL)
    h.proc.wait()
    assert any(p.is_running() for p in services)  # orphaned, not gone by themselves
    h.stop()
    _, alive = psutil.wait_procs(services, timeout=10)
    assert not alive, [p.cmdline() for p in alive]
