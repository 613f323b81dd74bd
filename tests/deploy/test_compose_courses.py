"""Two courses on the one-server stack (deploy/compose/courses.yml over compose.yml) on a real
Docker daemon, with the images of tests/deploy/test_compose.py: each course in its own folder
with its own gradebook (a database and a role of its own, made by the `gradebook` one-shot), an
exchange of two containers behind the hub's one address, and one deadline sweep of both courses.

A student of both courses hands in through her server (and so through the hub's proxy and the
two exchanges) once per course; ``course sweep`` in the sweeping worker sends both, the worker
grades them, and each lands in its own course's gradebook only. Attacks: staff of course ml get
403 from dl's exchange routes, and ml's database role (its password from ml's folder) opens
neither dl's gradebook nor the hub's database, nor logs in as dl's role.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest
import requests
from docker_daemon import docker
from test_compose import Stack, login, start_server

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from exchange import wire
from exchange.client import Exchange

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose"
STACK = "course-courses"
AID, NOTEBOOK = "01-numpy", "numpy-basics.ipynb"
UIDS = {"dl": 64210, "ml": 64211}  # each course folder's own user: its formgrader's
STAFF = {"dl": "ina", "ml": "mia"}
AS_OF = "2099-01-05 12:00"


def course_yml(course_id: str) -> str:
    url = (f"postgresql+psycopg://gradebook_{course_id}@postgres:5432/gradebook_{course_id}"
           f"?passfile=/srv/course/{course_id}/.gradebook.pgpass")
    return f"""\
id: {course_id}
title: Course {course_id}
timezone: Europe/Berlin
withdrawal_deadline: 2099-06-01
gradebook: {{url: "{url}"}}
grading: {{backend: celery}}
assignments:
  - {{id: {AID}, title: NumPy, due: 2099-01-04 18:00}}
roster:
  instructors:
    - {{id: {STAFF[course_id]}}}
  students:
    - {{id: ada, first_name: Ada}}
"""


pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def stack(docker_host, images, tmp_path_factory):
    root = tmp_path_factory.mktemp("courses") / "courses"
    for course_id, uid in UIDS.items():
        folder = root / course_id
        shutil.copytree(REPO / "assignments" / AID, folder / "assignments" / AID,
                        ignore=shutil.ignore_patterns("__pycache__"))
        (folder / "course.yml").write_text(course_yml(course_id))
        for path, dirs, files in os.walk(folder):
            for name in (path, *(os.path.join(path, n) for n in (*dirs, *files))):
                os.lchown(name, uid, uid)
        folder.chmod(0o750)  # closed to the other course's user
    env_file = root.parent / "course.env"
    subprocess.run([str(Path(sys.executable).parent / "course"), "env", "--out", str(env_file)],
                   check=True, capture_output=True, timeout=60)
    stack = Stack(docker_host, images, root, env_file)
    stack.env.update({"COURSE_STACK": STACK, "COURSES": "dl,ml",
                      "COMPOSE_FILE": f"{COMPOSE / 'compose.yml'}:{COMPOSE / 'courses.yml'}"})
    stack.password = stack.secret("COURSE_HUB_PASSWORD")
    stack.clear()
    started = time.monotonic()
    try:
        stack.compose("up", "--wait", "--quiet-pull", timeout=600)
        stack.up_seconds = time.monotonic() - started
        yield stack
    finally:
        stack.clear()


def course(stack: Stack, course_id: str, *args: str, timeout: float = 300) -> str:
    """``course ...`` in the hub container for one course, as its instructor."""
    return stack.compose("exec", "-T", "-e", f"COURSE_USER={STAFF[course_id]}", "hub", "course",
                         *args, "--course", f"/srv/course/{course_id}", timeout=timeout).stdout


def psql(stack: Stack, database: str, query: str, *, user: str = "course",
         password: str | None = None) -> subprocess.CompletedProcess:
    """A query in the postgres container: as the superuser on its socket, or as ``user`` over
    TCP with ``password`` (scram, as every other container connects)."""
    if password is None:
        args = ["psql", "--host=/tmp", f"--username={user}"]
    else:
        args = ["env", f"PGPASSWORD={password}", "psql", "--host=127.0.0.1", f"--username={user}"]
    return stack.compose("exec", "-T", "postgres", *args, f"--dbname={database}", "-Atc", query,
                         check=False)


def exchange_containers(stack: Stack) -> list[str]:
    return stack.compose("ps", "-q", "exchange").stdout.split()


def test_two_courses_hand_in_and_are_graded_each_into_its_own_gradebook(stack):
    t0 = time.monotonic()
    made = stack.compose("logs", "gradebook").stdout
    for course_id in UIDS:
        assert f"{course_id}: database gradebook_{course_id}, role gradebook_{course_id}" in made
    assert len(exchange_containers(stack)) == 2  # two exchanges behind the one address
    for course_id in UIDS:
        course(stack, course_id, "release", AID)
    token = login(stack, "ada", stack.password)
    server = start_server(stack, "ada", token)
    auth = {"Authorization": f"token {token}"}
    source = nbformat.read(REPO / "assignments" / AID / NOTEBOOK, as_version=4)
    for course_id in UIDS:  # her server, the hub's proxy, either exchange
        form = {"course_id": course_id, "assignment_id": AID}
        reply = requests.post(server + "assignments/fetch", data=form, headers=auth, timeout=60)
        assert reply.status_code == 200, reply.text[:500]
        contents = server + f"api/contents/{course_id}/{AID}/{NOTEBOOK}"
        fetched = requests.get(contents, headers=auth, timeout=60)
        assert fetched.status_code == 200, fetched.text[:500]
        notebook = nbformat.from_dict(fetched.json()["content"])
        saved = requests.put(contents, headers=auth, timeout=60, data=json.dumps(
            {"type": "notebook", "content": answer_notebook(notebook, solution_cells(source))}))
        assert saved.status_code == 200, saved.text[:500]
        reply = requests.post(server + "assignments/submit", data=form, headers=auth,
                              timeout=120)
        assert reply.json()["success"], reply.text[:1000]

    # one sweep of every course the fleet serves, in the sweeping worker, past the deadline
    swept = stack.compose("exec", "-T", "worker-cpu", "sh", "/opt/course/deploy/compose/courses.sh",
                          "course", "sweep", "--as-of", AS_OF, timeout=300).stdout
    assert swept.splitlines() == [f"dl: sent {AID}: ada", f"ml: sent {AID}: ada"], swept
    deadline = time.monotonic() + 600
    scores: dict[str, object] = {}
    while time.monotonic() < deadline and len(scores) < 2:
        for course_id in UIDS:
            status = json.loads(course(stack, course_id, "status", "--as-of", AS_OF, "--format",
                                       "json"))
            ada = status["students"][0]["assignments"][AID]
            if ada["score"] is not None or ada["grading_error"]:
                scores[course_id] = ada
        time.sleep(3)
    for course_id in UIDS:
        ada = scores.get(course_id)
        assert ada and ada["score"] == ada["max_score"] == 10, (course_id, ada)
        assert ada["state"] == "on_time" and ada["grading_error"] is None, ada
    # each hand-in in its own course's gradebook, nothing in any other
    for course_id in UIDS:
        database = f"gradebook_{course_id}"
        ids = set(psql(stack, database, "SELECT id FROM course").stdout.split())
        assert ids - {"default_course"} == {course_id}, ids  # nbgrader's placeholder row
        rows = psql(stack, database, "SELECT student_id, assignment_id, outcome FROM "
                    "course_grading_run").stdout.split()
        assert rows == [f"ada|{AID}|success"], (course_id, rows)
        assert psql(stack, database, "SELECT count(*) FROM course_receipt").stdout.split() == ["1"]
    stray = psql(stack, "gradebook", "SELECT count(*) FROM information_schema.tables WHERE "
                 "table_schema = 'public'").stdout.split()
    assert stray == ["0"]  # the single-course default database: untouched
    assert "succeeded" in stack.compose("logs", "worker-cpu").stdout
    print(f"\nstack up {stack.up_seconds:.0f} s; two courses handed in and graded "
          f"{time.monotonic() - t0:.0f} s")


def test_staff_of_one_course_reach_nothing_of_the_other(stack):
    token = login(stack, "mia", stack.password)  # instructor of ml only
    auth = {"Authorization": f"token {token}"}
    api = f"{stack.url}/services/exchange/api/courses"
    own = requests.get(f"{api}/ml/submissions", headers=auth, timeout=60)
    assert own.status_code == 200, own.text[:300]
    other = requests.get(f"{api}/dl/submissions", headers=auth, timeout=60)
    assert other.status_code in (403, 404), other.text[:300]
    collect = requests.post(f"{api}/dl/collect/{AID}", headers=auth, timeout=60)
    assert collect.status_code in (403, 404), collect.text[:300]
    # ml's role, with the password from ml's own folder: ml's gradebook and nothing else
    passfile = stack.root / "ml" / ".gradebook.pgpass"
    assert passfile.stat().st_uid == UIDS["ml"] and passfile.stat().st_mode & 0o077 == 0
    password = passfile.read_text().strip().rsplit(":", 1)[1]
    ok = psql(stack, "gradebook_ml", "SELECT count(*) FROM course_receipt", user="gradebook_ml",
              password=password)
    assert ok.returncode == 0 and ok.stdout.split() == ["1"], ok.stderr
    for database in ("gradebook_dl", "jupyterhub", "gradebook"):
        refused = psql(stack, database, "SELECT 1", user="gradebook_ml", password=password)
        assert refused.returncode != 0 and "permission denied" in refused.stderr, (
            database, refused.stderr)
    refused = psql(stack, "gradebook_dl", "SELECT 1", user="gradebook_dl", password=password)
    assert refused.returncode != 0 and "password authentication failed" in refused.stderr
    assert (stack.root / "dl").stat().st_mode & 0o007 == 0  # dl's folder: not ml's user's


def requests_per_exchange(stack: Stack, marker: str) -> dict[str, int]:
    counts = {}
    for cid in exchange_containers(stack):
        logs = docker(stack.host, "logs", cid)
        counts[cid] = logs.stderr.count(marker) + logs.stdout.count(marker)
    return counts


def proxy_errors(stack: Stack) -> list[str]:
    """What configurable-http-proxy said about requests it could not pass on (503 and why)."""
    return [line for line in stack.compose("logs", "hub").stdout.splitlines()
            if "ConfigProxy" in line and " 503 " in line][-20:]


def test_the_hub_address_reaches_both_exchanges_and_survives_one_killed(stack):
    """configurable-http-proxy looks `exchange` up for each new connection and Docker's DNS
    answers with both containers: concurrent requests through the hub reach both. One killed,
    the hub's address still answers and takes hand-ins (the exchange's own client retries what
    met the dead one, with one idempotency key per hand-in), Docker starts the same container
    again, and every hand-in that was acknowledged is in its gradebook and listed."""
    token = login(stack, "ada", stack.password)
    auth = {"Authorization": f"token {token}"}

    # a real read, answered 200 by whichever exchange took the connection; each logs its URL
    # (an early refusal, 404 or 403, closes the exchange's connection while the proxy may be
    # reusing it: that request gets 503, which the client retries; not what is measured here)
    def probe(n: int) -> int:
        return requests.get(f"{stack.url}/services/exchange/api/courses?probe={n}-of-the-spread",
                            headers=auth, timeout=60).status_code

    with ThreadPoolExecutor(24) as pool:
        codes = list(pool.map(probe, range(48)))
    assert codes == [200] * 48, (codes, proxy_errors(stack))
    spread = requests_per_exchange(stack, "-of-the-spread")
    assert len(spread) == 2 and all(count > 0 for count in spread.values()), spread
    assert sum(spread.values()) >= 48, spread

    client = Exchange(service_url=f"{stack.url}/services/exchange/", api_token=token)
    notebook = (REPO / "assignments" / AID / NOTEBOOK).read_bytes()
    killed = exchange_containers(stack)[0]
    pid, restarts = docker(stack.host, "inspect", "--format", "{{.State.Pid}} {{.RestartCount}}",
                           killed).stdout.split()
    # a crash, not `docker kill`: the daemon counts that as a stop by hand and restarts nothing
    os.kill(int(pid), signal.SIGKILL)  # our daemon's containers are this machine's processes
    acknowledged: dict[str, set[int]] = {course_id: set() for course_id in UIDS}
    for _ in range(5):  # while one is dead (and then starting again): reads and hand-ins
        mine = client.api("GET", "courses")
        assert {c["course_id"] for c in mine["courses"]} == set(UIDS), mine
        for course_id in UIDS:
            receipt = client.api("POST", "courses", course_id, "submissions", AID, retry=True,
                                 body={"files": wire.encode_files({NOTEBOOK: notebook})})
            acknowledged[course_id].add(receipt["receipt_id"])
    deadline = time.monotonic() + 180  # restart: unless-stopped brings the same one back
    while time.monotonic() < deadline:
        health = [docker(stack.host, "inspect", "--format", "{{.State.Health.Status}}", cid)
                  .stdout.strip() for cid in exchange_containers(stack)]
        if health == ["healthy", "healthy"]:
            break
        time.sleep(2)
    assert health == ["healthy", "healthy"], health
    assert killed in exchange_containers(stack)  # the same container, started again
    again = docker(stack.host, "inspect", "--format", "{{.RestartCount}}", killed).stdout
    assert int(again) == int(restarts) + 1, (restarts, again)

    for course_id in UIDS:  # nothing acknowledged lost: in its gradebook, and listed
        assert len(acknowledged[course_id]) == 5, acknowledged
        stored = psql(stack, f"gradebook_{course_id}", "SELECT id FROM course_receipt WHERE "
                      f"student_id = 'ada' AND assignment_id = '{AID}'").stdout.split()
        assert acknowledged[course_id] <= {int(r) for r in stored}, (course_id, stored)
        assert len(stored) == 6, stored  # test 1's hand-in and these five, each once
        for _ in range(4):  # by whichever exchange the proxy's connection reaches
            listed = client.api("GET", "courses", course_id, "submissions")["submissions"]
            assert acknowledged[course_id] <= {r["receipt_id"] for r in listed}, listed
    print(f"\nrequests per exchange: {sorted(spread.values())}")
