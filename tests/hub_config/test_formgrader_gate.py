"""The formgraders of a real two-course hub (127.0.0.1), attacked by the staff (THREATS.md 27).

dl-a: instructor ina, grader gil, student ada.   ml-b: instructor ivo, student cleo.
What each attack would have done before: a kernel or terminal on the formgrader (its
environment, /proc/*/environ of the hub and the other course's services, the Docker socket in
compose), a course file or nbgrader_config.py written through the contents API, a grader who
releases or edits the roster, a grader removed from the roster still let in by the hub's group.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

import psutil
import pytest
import requests
from hub_doubles import ScriptedHub

from devhub.hubcourse import ASSIGNMENT, build_hub_course
from hub_config.formgrader.gate import REFUSED, refusal

A, B = "dl-a", "ml-b"
GRADER = "    - {id: gil, first_name: Gil, last_name: Rader}\n"


def test_the_route_rules():
    assert refusal(None, "GET", "formgrader/api/status") is not None  # not on the roster
    assert refusal("student", "GET", "formgrader/api/status") is not None
    assert refusal("grader", "GET", "formgrader/api/status") is None
    assert refusal("grader", "POST", f"formgrader/api/submission/{ASSIGNMENT}/ada/autograde") \
        is None
    for action in ("assign", "release", "unrelease"):
        path = f"formgrader/api/assignment/{ASSIGNMENT}/{action}"
        assert "only instructors" in refusal("grader", "POST", path)
        assert refusal("instructor", "POST", path) is None
    for role in ("grader", "instructor"):  # the roster and the dates live in the course file
        assert "course file" in refusal(role, "PUT", "formgrader/api/student/mallory")
        assert "course file" in refusal(role, "PUT", f"formgrader/api/assignment/{ASSIGNMENT}")


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("formgrader-gate")
    a = build_hub_course(tmp / A, course_id=A, students=[("ada", "Ada", "L")], release="none")
    a.write_text(a.read_text().replace("  students:\n", "  graders:\n" + GRADER
                                       + "  students:\n"))
    b = build_hub_course(tmp / B, course_id=B, instructor=("ivo", "Ivo", "Vector"),
                         students=[("cleo", "Cleo", "C")], release="none")
    admin = secrets.token_hex(16)
    hub = ScriptedHub([a, b], tmp / "hub", password="test-password", admin_token=admin,
                      formgrader=True, dashboard=False)
    try:
        hub.start(timeout=180)
        for course_id in (A, B):
            hub.wait_for(f"{hub.url}/services/formgrader-{course_id}/api/status", timeout=120)
        tokens = {user: hub.token_for(user) for user in ("ina", "gil", "ivo", "cleo")}
        yield {"hub": hub, "tokens": tokens, "files": {A: a, B: b}, "admin": admin}
    finally:
        hub.stop()


def call(env, user, method, path, **kwargs):
    return requests.request(method, f"{env['hub'].url}/services/{path}", timeout=60,
                            allow_redirects=False,
                            headers={"Authorization": f"token {env['tokens'][user]}"}, **kwargs)


def formgrader_processes(env) -> dict[str, psutil.Process]:
    found = {}
    for process in env["hub"].spawned():
        try:
            name = process.environ().get("JUPYTERHUB_SERVICE_NAME", "")
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        if name.startswith("formgrader-") and "jupyterhub.singleuser" in process.cmdline():
            found[name.removeprefix("formgrader-")] = process
    return found


@pytest.mark.e2e
@pytest.mark.slow
def test_no_one_runs_code_or_writes_files_in_a_formgrader(hub):
    before = hub["files"][A].read_bytes()
    for user in ("gil", "ina"):
        attempts = [
            call(hub, user, "POST", f"formgrader-{A}/api/kernels", json={"name": "python3"}),
            call(hub, user, "POST", f"formgrader-{A}/api/sessions", json={
                "path": "x.ipynb", "type": "notebook", "kernel": {"name": "python3"}}),
            call(hub, user, "POST", f"formgrader-{A}/api/terminals"),
            call(hub, user, "PUT", f"formgrader-{A}/api/contents/course.yml", json={
                "type": "file", "format": "text", "content": "id: dl-a\nroster: {}\n"}),
            call(hub, user, "PUT", f"formgrader-{A}/api/contents/nbgrader_config.py", json={
                "type": "file", "format": "text", "content": "import os; os.system('id')\n"}),
            call(hub, user, "DELETE", f"formgrader-{A}/api/contents/gradebook.db"),
            call(hub, user, "PATCH", f"formgrader-{A}/api/contents/course.yml",
                 json={"path": "moved.yml"}),
        ]
        for reply in attempts:
            assert reply.status_code in (403, 404), (user, reply.request.method,
                                                     reply.request.url, reply.status_code)
        assert call(hub, user, "GET", f"formgrader-{A}/api/kernels").json() == []
    assert hub["files"][A].read_bytes() == before
    assert not (hub["files"][A].parent / "nbgrader_config.py").exists()
    # reading the course folder is what the staff are there for
    listing = call(hub, "gil", "GET", f"formgrader-{A}/api/contents/")
    assert listing.status_code == 200 and "course.yml" in listing.text


@pytest.mark.e2e
@pytest.mark.slow
def test_each_formgrader_is_its_own_user_and_holds_no_hub_secret(hub):
    processes = formgrader_processes(hub)
    assert sorted(processes) == [A, B]
    users = {course: process.uids().real for course, process in processes.items()}
    assert 0 not in users.values() and users[A] != users[B]
    for course, process in processes.items():
        assert "--allow-root" not in process.cmdline()
        env = process.environ()
        assert not {"JUPYTERHUB_COOKIE_SECRET", "JUPYTERHUB_CRYPT_KEY",
                    "CONFIGPROXY_AUTH_TOKEN"} & set(env)
        root = hub["files"][course].parent
        assert root.stat().st_uid == users[course]
    other = hub["files"][B].parent
    os.chmod(other, 0o700)  # what an operator does to keep one course from another's user
    try:  # as A's formgrader's user: not B's folder, not the hub's environment or secrets
        script = ("import os, sys\n"
                  "def can(f):\n"
                  "    try: f(); return True\n"
                  "    except OSError: return False\n"
                  f"print(can(lambda: os.listdir({str(other)!r})),\n"
                  f"      can(lambda: open('/proc/{hub['hub'].proc.pid}/environ').read()),\n"
                  f"      can(lambda: open({str(hub['hub'].state / 'cookie_secret')!r}).read()))")
        out = _run_as(users[A], script)
        assert out.split() == ["False", "False", "False"], out
    finally:
        os.chmod(other, 0o755)


def _run_as(uid: int, script: str) -> str:
    import subprocess
    import sys

    return subprocess.run(["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups",
                           sys.executable, "-c", script], capture_output=True, text=True,
                          check=True, timeout=60).stdout


@pytest.mark.e2e
@pytest.mark.slow
def test_graders_grade_and_only_instructors_release(hub):
    status = call(hub, "gil", "GET", f"formgrader-{A}/formgrader/api/assignments")
    assert status.status_code == 200, status.text
    for action in ("assign", "release", "unrelease"):
        reply = call(hub, "gil", "POST",
                     f"formgrader-{A}/formgrader/api/assignment/{ASSIGNMENT}/{action}")
        assert (reply.status_code, reply.reason) == (403, REFUSED), action
    for user in ("gil", "ina"):
        reply = call(hub, user, "PUT", f"formgrader-{A}/formgrader/api/student/mallory",
                     json={"first_name": "M", "last_name": "M", "email": "", "lms_user_id": ""})
        assert (reply.status_code, reply.reason) == (403, REFUSED), user
    # the other course's formgrader: nobody of this one
    for user in ("gil", "ina"):
        assert call(hub, user, "GET", f"formgrader-{B}/api/status").status_code == 403


@pytest.mark.e2e
@pytest.mark.slow
def test_last_a_grader_off_the_roster_is_refused_at_once(hub):
    path = hub["files"][A]
    assert call(hub, "gil", "GET", f"formgrader-{A}/api/status").status_code == 200
    stat = path.stat()
    path.write_text(path.read_text().replace(GRADER, "    - {id: gil\n"))  # half edited
    refused = call(hub, "ina", "GET", f"formgrader-{A}/api/status")
    assert (refused.status_code, refused.reason) == (403, REFUSED)  # fails closed
    path.write_text(path.read_text().replace("  graders:\n    - {id: gil\n", ""))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the same mtime
    refused = call(hub, "gil", "GET", f"formgrader-{A}/api/status")
    assert (refused.status_code, refused.reason) == (403, REFUSED)
    assert call(hub, "ina", "GET", f"formgrader-{A}/api/status").status_code == 200
    assert Path(path).read_text().count("gil") == 0
    # and the hub's own group follows the roster (roster-sync), so the hub refuses him too
    deadline = time.monotonic() + 60
    while "gil" in group_members(hub, f"formgrade-{A}"):
        assert time.monotonic() < deadline, hub["hub"].log_tail()
        time.sleep(0.5)
    assert group_members(hub, f"formgrade-{A}") == ["ina"]
    assert call(hub, "gil", "GET", f"formgrader-{A}/api/status").status_code == 403
    # back on the roster: back in the group
    path.write_text(path.read_text().replace("  students:\n", "  graders:\n" + GRADER
                                             + "  students:\n"))
    deadline = time.monotonic() + 60
    while "gil" not in group_members(hub, f"formgrade-{A}"):
        assert time.monotonic() < deadline, hub["hub"].log_tail()
        time.sleep(0.5)
    assert call(hub, "gil", "GET", f"formgrader-{A}/api/status").status_code == 200


def group_members(env, name: str) -> list[str]:
    return sorted(env["hub"].api("GET", f"groups/{name}", env["admin"])["users"])


@pytest.mark.e2e
@pytest.mark.slow
def test_the_autograde_route_as_every_role(hub):
    """The formgrader's Autograde (hub_config.formgrader.autograde) as a student, staff of the
    other course, an outsider and a grader of this course: only the last reaches it, and it
    answers as `course grade` would (ada has handed in nothing here)."""
    route = f"formgrader-{A}/formgrader/api/submission/{ASSIGNMENT}/ada/autograde"
    assert call(hub, "cleo", "POST", route).status_code == 403  # a student (of B)
    assert call(hub, "ivo", "POST", route).status_code == 403  # the instructor of B
    outsider = requests.post(f"{hub['hub'].url}/services/{route}", allow_redirects=False,
                             timeout=60)
    assert outsider.status_code in (302, 403)  # to the hub's login, never the handler
    root = hub["files"][A].parent
    assert not (root / "autograded").exists()
    reply = call(hub, "gil", "POST", route)
    assert reply.status_code == 200, reply.text
    answer = reply.json()
    assert answer["success"] is False and "ada has handed in nothing" in answer["error"]
