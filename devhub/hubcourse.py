"""``course hub`` (``make hub``): a local JupyterHub with a small course, to try by hand.

The course folder (``hub-course/`` by default) gets a course file with an instructor (``ina``)
and three students (``ada``, ``ben``, ``cleo``), the repository's first assignment, released
(generated with nbgrader) and due a week from today. The hub runs on 127.0.0.1 with the local
process spawner, the simple authenticator (one shared password), the exchange, the formgrader
and the idle culler as services (``LocalHub``, devhub/localhub.py). Its state lives in
``<course>/.hub/``. The tests and the exchange benchmark build their courses here too.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import shutil
import signal
import threading
from pathlib import Path

from course.errors import UserError

__all__ = ["INSTRUCTOR", "STUDENTS", "build_hub_course", "hub_course_text", "run_hub"]

THROWAWAY = "throwaway"  # in <course>/.hub/: this course was built by `course hub` itself
WHY_THROWAWAY = ("every user's server is a process of this machine's user running the hub, "
                 "so a student can read the course folder (the hidden graders, the gradebook, "
                 "other students' work).")

REPO = Path(__file__).resolve().parent.parent
COURSE_ID = "dl-hub"
ASSIGNMENT = "01-numpy"
INSTRUCTOR = ("ina", "Ina", "Structor")
STUDENTS = [("ada", "Ada", "Lovelace"), ("ben", "Ben", "Bitdiddle"), ("cleo", "Cleo", "Codd")]


def hub_course_text(today: dt.date, *, students: list[tuple[str, str, str]] | None = None,
                    course_id: str = COURSE_ID,
                    instructor: tuple[str, str, str] = INSTRUCTOR) -> str:
    """Released yesterday, due in a week at 18:00 (Europe/Berlin), sessions on the Tuesdays."""
    students = STUDENTS if students is None else students
    people = "\n".join(f"    - {{id: {sid}, first_name: {json.dumps(first)}, "
                       f"last_name: {json.dumps(last)}, email: {sid}@example.org}}"
                       for sid, first, last in students)
    tuesday = today + dt.timedelta(days=(1 - today.weekday()) % 7 or 7)
    sessions = "\n".join(f'  - {{date: {tuesday + dt.timedelta(weeks=n)}, start: "10:15", '
                         f"topic: Session {n + 1}}}" for n in range(3))
    sid, first, last = instructor
    return f"""\
id: {course_id}
title: Deep Learning (local hub)
timezone: Europe/Berlin
withdrawal_deadline: {today + dt.timedelta(days=90)}
sessions:
{sessions}
assignments:
  - {{id: {ASSIGNMENT}, title: Python and NumPy, release: {today - dt.timedelta(days=1)} 12:00,
     due: {today + dt.timedelta(days=7)} 18:00}}
roster:
  instructors:
    - {{id: {sid}, first_name: {first}, last_name: {last}}}
  students:
{people}
"""


def build_hub_course(root: Path, *, students: list[tuple[str, str, str]] | None = None,
                     release: str = "nbgrader", course_id: str = COURSE_ID,
                     instructor: tuple[str, str, str] = INSTRUCTOR) -> Path:
    """Write the course folder; ``release``: "nbgrader" (generate and release, about 20 s),
    "copy" (the source notebook as is, for load tests) or "none". Returns course.yml."""
    from course.calendar import utcnow

    root.mkdir(parents=True, exist_ok=True)
    course_file = root / "course.yml"
    now = utcnow()  # the hub's course is laid out around the day it is built
    course_file.write_text(hub_course_text(now.date(), students=students, course_id=course_id,
                                           instructor=instructor))
    source = REPO / "assignments" / ASSIGNMENT
    if not source.is_dir():
        raise UserError(f"{source}: the hub's demo course needs the repository's assignments")
    shutil.copytree(source, root / "assignments" / ASSIGNMENT, dirs_exist_ok=True)
    from course.gradebook.database import upgrade_database
    from course.workspace import open_workspace

    upgrade_database(open_workspace(course_file).db_url)  # a new course, as `course init` makes it
    if release == "nbgrader":
        from course.release import release as release_assignment

        release_assignment(open_workspace(course_file), ASSIGNMENT, now=now, by=instructor[0])
    elif release == "copy":
        outbound = root / "exchange" / course_id / "outbound" / ASSIGNMENT
        outbound.mkdir(parents=True, exist_ok=True)
        for notebook in source.glob("*.ipynb"):
            shutil.copy(notebook, outbound / notebook.name)
        from course.gradebook.records import record_release
        from course.release import folder_checksum

        with open_workspace(course_file).gradebook() as gb:  # a release the policy knows of
            record_release(gb, ASSIGNMENT, folder_checksum(outbound), now=now, by=instructor[0])
            gb.commit()
    (root / ".hub").mkdir(exist_ok=True)  # `course hub` serves this course, and only such
    (root / ".hub" / THROWAWAY).write_text("built by build_hub_course: a throwaway demo course\n")
    return course_file


def run_hub(root: Path, *, port: int = 8000, password: str | None = None) -> int:
    from devhub.localhub import LocalHub, require_proxy

    require_proxy()  # `make hub` installs it; say so before building anything
    root = root.resolve()
    state = root / ".hub"
    if not (root / "course.yml").exists():
        print(f"building the hub's course in {root} (nbgrader generates {ASSIGNMENT}: ~30 s)")
        build_hub_course(root)
    elif not (state / THROWAWAY).exists():
        raise UserError(f"{root} holds a course that `course hub` did not build, and it serves "
                        f"throwaway demo courses only: {WHY_THROWAWAY} Run a real course with "
                        "docker compose or Kubernetes (deploy/README.md).")
    state.mkdir(exist_ok=True)
    secret = state / "password"
    if password:
        secret.write_text(password)
    elif not secret.exists():
        secret.write_text(secrets.token_urlsafe(9))
    password = secret.read_text().strip()
    hub = LocalHub(root / "course.yml", state, password=password, port=port, formgrader=True,
                   idle_timeout=3600, dashboard=True)
    print("starting JupyterHub (the exchange and formgrader services start with it) ...")
    hub.start(timeout=180)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        students = ", ".join(sid for sid, _first, _last in STUDENTS)
        print(f"""
THROWAWAY DEMO, not for real students: {WHY_THROWAWAY}

JupyterHub is running at {hub.url}/
  password for everyone: {password}
  instructor: {INSTRUCTOR[0]}   (formgrader: Nbgrader > Course List, or
              {hub.url}/services/formgrader-{COURSE_ID}/lab?formgrader=true)
  students:   {students}
  dashboard:  {hub.url}/services/dashboard/ (the instructor's overview, each student's own page)
Students open the Assignments panel (Nbgrader > Assignments), fetch {ASSIGNMENT}, submit.
The course folder is {root}: `course status --course {root}` shows what was received.
Hub log: {hub.log_path}. Press Ctrl-C to stop.""", flush=True)
        while not stop.wait(1):
            if hub.proc is None or hub.proc.poll() is not None:
                print(f"JupyterHub stopped; see {hub.log_path}")
                return 1
    finally:
        hub.stop()
    return 0
