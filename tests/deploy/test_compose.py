"""The one-server stack (deploy/compose/compose.yml, CPU-only: no gpu.yml) on a real Docker
daemon, and a week through it: ``docker compose up --wait``; the instructor releases (in the
hub container, as an operator would with ``docker compose exec``); a student logs in with
the password, gets a DockerSpawner container, fetches, works and submits through the
Assignments endpoints of her server; the instructor collects and grades with
``grading.backend: celery``, so the worker container grades from RabbitMQ into PostgreSQL;
``course status`` shows the score. Then a term's operations (issue 28): a failed step fails
(deploy/compose.sh passes the exit status through); ``restart`` leaves every service healthy;
a student's running server survives ``down`` + ``up``; deploy/backup.sh, ``down --volumes``,
deploy/restore.sh and ``up`` give back the same standing and the same home files; ``down``
leaves nothing running.
"""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
import requests
from docker_daemon import docker

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from devhub.localhub import free_port

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "compose" / "compose.yml"
WRAPPER = REPO / "deploy" / "compose.sh"  # compose v2 with its exit status, as the guide runs it
STACK = "course-e2e"
COURSE_UID = 64200  # the course folder's owner (no account needed): the formgrader runs as it
AID, NOTEBOOK = "01-numpy", "numpy-basics.ipynb"
COURSE = f"""\
id: dl-e2e
title: Deep Learning (compose)
timezone: Europe/Berlin
withdrawal_deadline: 2099-06-01
grading: {{backend: celery}}
assignments:
  - {{id: {AID}, title: NumPy, due: 2099-01-04 18:00}}
roster:
  instructors:
    - {{id: ina, first_name: Ina}}
  students:
    - {{id: ada, first_name: Ada}}
    - {{id: ben, first_name: Ben}}
"""

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


class Stack:
    def __init__(self, host: str, images: dict, root: Path, env_file: Path):
        self.host, self.root, self.env_file = host, root, env_file
        self.port = free_port()
        self.env = {**os.environ, "DOCKER_HOST": host, "COURSE_DIR": str(root),
                    "COURSE_TAG": images["COURSE_TAG"], "BASE_TAG": images["BASE_TAG"],
                    "COURSE_STACK": STACK, "HUB_PORT": str(self.port),
                    "DOCKER_SOCKET": host.removeprefix("unix://"),
                    "COURSE_HUB_AUTHENTICATOR": "simple",
                    # what the guide sets: deploy/compose.sh, backup.sh and restore.sh read them
                    "COMPOSE_FILE": str(COMPOSE), "COMPOSE_ENV_FILES": str(env_file)}
        self.url = f"http://127.0.0.1:{self.port}"

    def compose(self, *args: str, timeout: float = 300, check: bool = True):
        done = self.run(str(WRAPPER), *args, timeout=timeout)
        if check and done.returncode != 0:
            logs = self.run(str(WRAPPER), "logs", "--tail", "40", timeout=60).stdout
            raise AssertionError(f"compose {args}: {done.stdout}\n{done.stderr}\n{logs[-6000:]}")
        return done

    def run(self, *command: str, timeout: float = 300) -> subprocess.CompletedProcess:
        return subprocess.run(command, env=self.env, capture_output=True, text=True,
                              timeout=timeout, check=False)

    def course(self, *args: str, timeout: float = 300) -> str:
        """``course ...`` in the hub container, where the course folder is /srv/course."""
        return self.compose("exec", "-T", "-e", "COURSE_USER=ina", "hub", "course", *args,
                            "--course", "/srv/course", timeout=timeout).stdout

    def running(self) -> list[str]:
        out = docker(self.host, "ps", "-a", "--format", "{{.Names}}").stdout.split()
        return [n for n in out if n.startswith((self.env["COURSE_STACK"], "course-user-"))]

    def secret(self, name: str) -> str:
        """A value of the env file ``course env`` wrote for this stack."""
        lines = self.env_file.read_text().splitlines()
        return dict(line.split("=", 1) for line in lines
                    if "=" in line and not line.startswith("#"))[name]

    def clear(self) -> None:
        """Remove this stack, its volumes and the users' servers and homes.

        Run before ``up`` as well as after. Our own daemon starts without a killed run's
        containers and volumes (``docker_daemon.clear_leftovers``); a daemon we were given
        ($DOCKER_HOST) is not ours to clear, but this stack's names are: ``up`` would recreate
        a killed run's stack on its old PostgreSQL volume, whose password this run's
        ``course env`` did not make.
        """
        for name in self.running():  # users' servers are DockerSpawner's, not compose's
            if name.startswith("course-user-"):
                docker(self.host, "rm", "-f", name, check=False)
        self.compose("down", "--volumes", "--remove-orphans", "--timeout", "20", check=False,
                     timeout=300)
        for volume in docker(self.host, "volume", "ls", "-q").stdout.split():
            if volume.startswith("course-home-"):  # DockerSpawner's home volumes
                docker(self.host, "volume", "rm", volume, check=False)


def login(stack: Stack, user: str, password: str) -> str:
    """The login form, as a browser sends it; returns a token the user made for herself."""
    session = requests.Session()
    session.get(f"{stack.url}/hub/login", timeout=30)
    reply = session.post(f"{stack.url}/hub/login?next=", timeout=60, allow_redirects=False,
                         data={"username": user, "password": password,
                               "_xsrf": session.cookies.get("_xsrf")})
    assert reply.status_code == 302, reply.text[:500]
    reply = session.post(f"{stack.url}/hub/api/users/{user}/tokens", timeout=30,
                         headers={"X-XSRFToken": session.cookies.get("_xsrf")},
                         data=json.dumps({"note": "e2e"}))
    assert reply.status_code == 201, reply.text[:500]
    return reply.json()["token"]


def start_server(stack: Stack, user: str, token: str) -> str:
    auth = {"Authorization": f"token {token}"}
    reply = requests.post(f"{stack.url}/hub/api/users/{user}/server", headers=auth, timeout=60)
    assert reply.status_code in (201, 202), reply.text
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        model = requests.get(f"{stack.url}/hub/api/users/{user}", headers=auth, timeout=30).json()
        if model["servers"].get("", {}).get("ready"):
            return f"{stack.url}/user/{user}/"
        time.sleep(1)
    raise AssertionError(stack.compose("logs", "--tail", "60", "hub").stdout[-6000:])


def reachable(stack: Stack, container: str) -> dict[str, bool]:
    """Which of the stack's services a TCP connection from ``container`` reaches."""
    script = ("import socket\n"
              "for host, port in (('hub', 8081), ('postgres', 5432), ('rabbitmq', 5672)):\n"
              "    try:\n"
              "        socket.create_connection((host, port), timeout=5).close(); ok = True\n"
              "    except OSError:\n"
              "        ok = False\n"
              "    print(f'{host}:{port}', ok)")
    out = docker(stack.host, "exec", container, "python3", "-c", script).stdout
    return {name: value == "True" for name, value in (line.split() for line in out.splitlines())}


@pytest.fixture(scope="module")
def stack(docker_host, images, tmp_path_factory):
    root = tmp_path_factory.mktemp("compose") / "course"
    shutil.copytree(REPO / "assignments" / AID, root / "assignments" / AID,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "course.yml").write_text(COURSE)
    for folder, dirs, files in os.walk(root):  # the course's own user: its formgrader's
        for name in (folder, *(os.path.join(folder, n) for n in (*dirs, *files))):
            os.lchown(name, COURSE_UID, COURSE_UID)
    # closed to the host's other users (the guide's step): nbgrader keeps its exchange/ 0777
    # and inbound/ 0733 inside, and they need no one but the containers' root and the owner
    root.chmod(0o750)
    env_file = root.parent / "course.env"
    subprocess.run([str(Path(sys.executable).parent / "course"), "env", "--out", str(env_file)],
                   check=True, capture_output=True, timeout=60)
    stack = Stack(docker_host, images, root, env_file)
    stack.password = stack.secret("COURSE_HUB_PASSWORD")
    stack.clear()
    started = time.monotonic()
    try:
        stack.compose("up", "--wait", "--quiet-pull", timeout=600)
        stack.up_seconds = time.monotonic() - started
        yield stack
    finally:
        stack.clear()


def test_a_week_through_the_one_server_stack(stack):
    t0 = time.monotonic()
    stack.course("release", AID)
    token = login(stack, "ada", stack.password)
    server = start_server(stack, "ada", token)
    container = docker(stack.host, "inspect", "course-user-ada").stdout
    assert json.loads(container)[0]["Config"]["Image"].startswith("course-singleuser:")
    # her server reaches the hub and nothing else of the stack (THREATS.md 28)
    assert reachable(stack, "course-user-ada") == {"hub:8081": True, "postgres:5432": False,
                                                   "rabbitmq:5672": False}
    # the formgrader runs as the course folder's owner, not as root beside the hub's secrets
    uids = stack.compose("exec", "-T", "hub", "python3", "-c", (
        "import os\nfor p in filter(str.isdigit, os.listdir('/proc')):\n"
        "    if b'jupyterhub' + b'.singleuser' in open(f'/proc/{p}/cmdline', 'rb').read():\n"
        "        print(os.stat(f'/proc/{p}').st_uid)")).stdout.split()
    assert uids == [str(COURSE_UID)], uids
    auth = {"Authorization": f"token {token}"}
    form = {"course_id": "dl-e2e", "assignment_id": AID}
    reply = requests.post(server + "assignments/fetch", data=form, headers=auth, timeout=60)
    assert [(a["assignment_id"], a["status"]) for a in reply.json()["value"]] == [
        (AID, "fetched")], reply.text[:500]
    contents = server + f"api/contents/{AID}/{NOTEBOOK}"
    fetched = nbformat.from_dict(requests.get(contents, headers=auth, timeout=60)
                                 .json()["content"])
    source = nbformat.read(REPO / "assignments" / AID / NOTEBOOK, as_version=4)
    saved = requests.put(contents, headers=auth, timeout=60, data=json.dumps(
        {"type": "notebook", "content": answer_notebook(fetched, solution_cells(source))}))
    assert saved.status_code == 200, saved.text[:500]
    reply = requests.post(server + "assignments/submit", data=form, headers=auth, timeout=60)
    assert reply.json()["success"], reply.text[:1000]

    stack.course("collect", AID)
    stack.course("grade", AID, timeout=600)  # celery: the worker container grades
    status = json.loads(stack.course("status", "--as-of", "2099-01-05 12:00", "--format",
                                     "json"))
    ada = next(s for s in status["students"] if s["id"] == "ada")["assignments"][AID]
    assert ada["score"] == ada["max_score"] == 10, ada  # the reference answers, graded
    assert ada["state"] == "on_time" and ada["grading_error"] is None, ada
    ben = next(s for s in status["students"] if s["id"] == "ben")["assignments"][AID]
    assert ben["score"] is None  # handed in nothing
    graded_by = stack.compose("logs", "worker-cpu").stdout
    assert "succeeded" in graded_by, graded_by[-3000:]  # the worker container graded it
    print(f"\nstack up {stack.up_seconds:.0f} s; week {time.monotonic() - t0:.0f} s")

    reply = requests.delete(f"{stack.url}/hub/api/users/ada/server", headers=auth, timeout=60)
    assert reply.status_code in (202, 204)


def test_a_failed_step_fails(stack):
    """deploy/compose.sh passes compose's exit status through (PyPI's script exits 0 on
    everything, issue 28), so the checks of these tests and of the guide's scripts can fire."""
    assert stack.compose("-f", "/nonexistent.yml", "ps", check=False).returncode != 0
    assert stack.compose("exec", "-T", "postgres", "false", check=False).returncode == 1
    refused = stack.compose("exec", "-T", "hub", "course", "status", "--course", "/nowhere",
                            check=False)
    assert refused.returncode != 0, refused
    with pytest.raises(AssertionError, match="compose"):
        stack.course("release", "no-such-assignment")


def services(stack: Stack) -> dict[str, dict]:
    """``ps --all`` of the stack's services: State, Health, ExitCode of each."""
    out = stack.compose("ps", "--all", "--format", "json").stdout.strip()
    rows = json.loads(out) if out.startswith("[") else [json.loads(x) for x in out.splitlines()]
    return {row["Service"]: row for row in rows}


def wait_healthy(stack: Stack, timeout: float = 240) -> dict[str, dict]:
    """Every long-running service healthy, the one-shot migration exited 0."""
    deadline = time.monotonic() + timeout
    while True:
        now = services(stack)
        gradebook = now.pop("gradebook", {})
        if (gradebook.get("State"), gradebook.get("ExitCode")) == ("exited", 0) and all(
                row["State"] == "running" and row["Health"] == "healthy" for row in now.values()):
            return now
        if time.monotonic() > deadline:
            logs = stack.compose("logs", "--tail", "30", check=False).stdout
            raise AssertionError(f"{gradebook}\n{now}\n{logs[-6000:]}")
        time.sleep(2)


def started_at(stack: Stack, service: str) -> str:
    (cid,) = stack.compose("ps", "-q", service).stdout.split()
    return docker(stack.host, "inspect", "--format", "{{.State.StartedAt}}", cid).stdout.strip()


def test_the_guides_password_change_runs_in_the_postgres_container(stack):
    """deploy/README.md, Secrets: the command that gives PostgreSQL's superuser a new password
    (here the same one, so the stack is unchanged), as the guide writes it."""
    readme = (REPO / "deploy" / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "ALTER ROLE course PASSWORD" in line)
    password = stack.secret("POSTGRES_PASSWORD")
    args = shlex.split(command.replace("NEW", password))
    assert args[0] == "deploy/compose.sh"
    assert "ALTER ROLE" in stack.compose(*args[1:]).stdout
    login_over_tcp = stack.compose(
        "exec", "-T", "-e", f"PGPASSWORD={password}", "postgres", "psql",
        "--host=127.0.0.1", "-U", "course", "-d", "postgres", "-Atc", "SELECT 1")
    assert login_over_tcp.stdout.strip() == "1"


def test_restart_leaves_every_service_healthy(stack):
    """`restart` used to restart the migration beside PostgreSQL, which then failed, and the hub
    and workers did not wait for it (issue 28)."""
    t0 = time.monotonic()
    stack.compose("restart", "--timeout", "20", timeout=600)
    state = wait_healthy(stack)
    assert sorted(state) == ["hub", "postgres", "rabbitmq", "worker-cpu"]
    migrations = stack.compose("logs", "gradebook").stdout
    assert "(created)" in migrations and "(already current)" in migrations, migrations[-3000:]
    hub = started_at(stack, "hub")
    stack.compose("up", "--wait", timeout=600)  # redeploying the same stack restarts nothing
    assert started_at(stack, "hub") == hub
    print(f"\nrestart to healthy {time.monotonic() - t0:.0f} s")


NOTE = "unsubmitted work, kept in her home volume\n"


def test_a_running_server_survives_down_and_up(stack):
    """A student's server outlives the hub's `down` + `up` and answers through the new hub."""
    token = stack.ada_token = login(stack, "ada", stack.password)
    server = start_server(stack, "ada", token)
    auth = {"Authorization": f"token {token}"}
    saved = requests.put(server + "api/contents/notes.txt", headers=auth, timeout=60,
                         data=json.dumps({"type": "file", "format": "text", "content": NOTE}))
    assert saved.status_code in (200, 201), saved.text[:500]
    browser = requests.Session()  # and as her browser: the hub's login, then OAuth to her server
    browser.get(f"{stack.url}/hub/login", timeout=30)
    browser.post(f"{stack.url}/hub/login?next=", timeout=60, data={
        "username": "ada", "password": stack.password, "_xsrf": browser.cookies.get("_xsrf")})
    assert browser.get(server + "lab", timeout=60).status_code == 200
    stack.compose("down", "--timeout", "20", timeout=300)
    assert stack.running() == ["course-user-ada"]
    stack.compose("up", "--wait", timeout=600)
    reply = requests.get(server + "api/contents/notes.txt", headers=auth, timeout=60)
    assert reply.status_code == 200, reply.text[:500]
    assert reply.json()["content"] == NOTE
    page = browser.get(server + "lab", timeout=60)  # no 500: her server found the new hub
    assert page.status_code == 200 and page.url == server + "lab", (page.status_code, page.url)
    reply = browser.get(server + "api/contents/notes.txt", timeout=60)
    assert reply.status_code == 200 and reply.json()["content"] == NOTE, reply.text[:500]


def test_backup_and_restore_give_back_the_standing_and_the_homes(stack):
    """deploy/backup.sh, `down --volumes`, a lost course folder and home volume,
    deploy/restore.sh, `up`: the same standing, the same files."""
    t0 = time.monotonic()
    standing = ["status", "--as-of", "2099-01-05 12:00", "--format", "json"]
    before = json.loads(stack.course(*standing))
    auth = {"Authorization": f"token {stack.ada_token}"}
    reply = requests.delete(f"{stack.url}/hub/api/users/ada/server", headers=auth, timeout=60)
    assert reply.status_code in (202, 204)
    deadline = time.monotonic() + 60
    while "course-user-ada" in stack.running() and time.monotonic() < deadline:
        time.sleep(1)
    backup = stack.root.parent / "backup.tar"
    done = stack.run(str(REPO / "deploy" / "backup.sh"), str(backup), timeout=300)
    assert done.returncode == 0, done.stderr
    assert backup.stat().st_mode & 0o077 == 0  # it holds the secrets

    stack.compose("down", "--volumes", "--timeout", "20", timeout=300)
    failed = stack.run(str(REPO / "deploy" / "backup.sh"), str(backup) + "2", timeout=120)
    assert failed.returncode != 0 and "FAILED" in failed.stderr, failed  # nothing to dump
    assert not Path(str(backup) + "2").exists()
    for child in stack.root.iterdir():  # as on a new server: no course folder, no home volume
        shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    docker(stack.host, "volume", "rm", "course-home-ada")
    done = stack.run(str(REPO / "deploy" / "restore.sh"), str(backup), timeout=300)
    assert done.returncode == 0, done.stderr
    refused = stack.run(str(REPO / "deploy" / "restore.sh"), str(backup), timeout=120)
    assert refused.returncode != 0, refused.stderr  # never over restored data
    stack.compose("up", "--wait", timeout=600)

    assert json.loads(stack.course(*standing)) == before
    home = docker(stack.host, "run", "--rm", "-v", "course-home-ada:/home/jovyan",
                  "--entrypoint", "cat", f"course-hub:{stack.env['COURSE_TAG']}",
                  "/home/jovyan/notes.txt").stdout
    assert home == NOTE
    assert stack.root.stat().st_uid == COURSE_UID  # the formgrader's folder, owner and all
    print(f"\nbackup, down, restore, up: {time.monotonic() - t0:.0f} s")


def test_down_leaves_nothing_running(stack):
    deadline = time.monotonic() + 60  # the hub removes ada's stopped container (remove=True)
    while "course-user-ada" in stack.running() and time.monotonic() < deadline:
        time.sleep(1)
    stack.compose("down", "--volumes", "--timeout", "20", timeout=300)
    assert stack.running() == []
    networks = docker(stack.host, "network", "ls", "--format", "{{.Name}}").stdout.split()
    assert not {f"{STACK}_internal", f"{STACK}_users"} & set(networks)
