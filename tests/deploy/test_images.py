"""The images, built from Debian packages by deploy/build-images.sh, on a real Docker daemon:
tags carry the lock's hash; the worker image, run with the flags of deploy/compose/compose.yml,
has every isolation layer of ``course doctor`` active and passes the limits attack tests
inside; run with Docker's default flags it refuses to grade and says why; grading leaves no
``__pycache__`` in the graders' folder.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import nbformat
import pytest
from docker_daemon import docker

REPO = Path(__file__).resolve().parents[2]
SECCOMP = REPO / "deploy" / "compose" / "grading-seccomp.json"
# as in deploy/compose/compose.yml (x-worker): no node cgroup tree, no unconfined seccomp
WORKER_FLAGS = ["--cap-add", "SYS_ADMIN", "--cap-add", "NET_ADMIN", "--cgroupns", "private",
                "--security-opt", f"seccomp={SECCOMP}", "--security-opt", "apparmor=unconfined",
                "--security-opt", "no-new-privileges:true"]
COURSE = ("id: c\ntitle: C\ntimezone: UTC\nwithdrawal_deadline: 2030-01-01\n"
          "assignments:\n  - {id: 01-numpy, due: 2029-01-01 18:00}\n")

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _doctor_rows(output: str) -> dict[str, str]:
    rows = {}
    for line in output.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) == 3 and cells[1] in ("yes", "NO"):
            rows[cells[0]] = cells[1]
    return rows


def test_tags_carry_the_lock_hash(images):
    lock = hashlib.sha256((REPO / "pyproject.toml").read_bytes()
                          + (REPO / "uv.lock").read_bytes()).hexdigest()[:12]
    assert images["COURSE_TAG"] == f"{lock}-none"
    for name in ("course-singleuser", "course-hub", "course-worker"):
        assert images[name] == f"{name}:{lock}-none"


def test_worker_with_the_flags_has_every_layer_and_passes_the_limit_attacks(docker_host, images):
    worker = images["course-worker"]
    done = docker(docker_host, "run", "--rm", "-e", "COLUMNS=200", *WORKER_FLAGS, worker,
                  "course", "doctor")
    rows = _doctor_rows(done.stdout)
    assert len(rows) == 11 and set(rows.values()) == {"yes"}, done.stdout + done.stderr
    done = docker(docker_host, "run", "--rm", *WORKER_FLAGS, worker, "python", "-m", "pytest",
                  "/opt/course/tests/autograder/test_attacks_limits.py", "-q",
                  "-p", "no:cacheprovider", "-rs", timeout=900, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert " passed" in done.stdout and "skipped" not in done.stdout, done.stdout[-2000:]


def _course(tmp_path: Path) -> Path:
    root = tmp_path / "course"
    shutil.copytree(REPO / "assignments" / "01-numpy", root / "assignments" / "01-numpy",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "course.yml").write_text(COURSE)
    shutil.copy(REPO / "assignments" / "01-numpy" / "numpy-basics.ipynb", root / "answer.ipynb")
    return root


def test_default_flags_refuse_to_grade_and_say_why(docker_host, images, tmp_path):
    root = _course(tmp_path)
    worker = images["course-worker"]
    done = docker(docker_host, "run", "--rm", "-e", "COLUMNS=200", worker, "course", "doctor")
    assert _doctor_rows(done.stdout)["bubblewrap"] == "NO"
    assert "grading refuses unless the course sets" in done.stderr
    done = docker(docker_host, "run", "--rm", "-v", f"{root}:/srv/course", worker,
                  "course", "grade-file", "01-numpy", "/srv/course/answer.ipynb", "--json",
                  "--course", "/srv/course", timeout=300)
    result = json.loads(done.stdout)
    assert result["isolation"] is None and result["score"] == 0
    assert result["notebook_error"].startswith("grading refused: isolation 'auto'")
    assert "--cap-add SYS_ADMIN" in result["notebook_error"]


def test_grading_in_the_worker_leaves_no_bytecode_behind(docker_host, images, tmp_path):
    root = _course(tmp_path)
    done = docker(docker_host, "run", "--rm", *WORKER_FLAGS, "-v", f"{root}:/srv/course",
                  images["course-worker"], "course", "grade-file", "01-numpy",
                  "/srv/course/answer.ipynb", "--json", "--course", "/srv/course", timeout=300)
    result = json.loads(done.stdout)
    assert result["isolation"] == "bwrap" and result["score"] == result["max_score"] == 10
    assert not list(root.rglob("__pycache__")) and not list(root.rglob("*.pyc"))
    nbformat.read(root / "answer.ipynb", as_version=4)  # untouched and readable


def test_the_worker_reaches_its_own_cgroup_only_and_its_seccomp_profile_holds(docker_host,
                                                                                images):
    """What one escape from bubblewrap would find in the worker container (THREATS.md 27):
    the cgroup tree is the container's own (no other container, no system slice), and the
    system calls the profile refuses fail, root or not."""
    script = (
        "import ctypes, errno, os\n"
        "from autograder.cgroup_delegation import delegate\n"
        "print('delegated', delegate())\n"
        "procs = open('/sys/fs/cgroup/memory/cgroup.procs').read().split()\n"
        "mine = [p for p in os.listdir('/proc') if p.isdigit()]\n"
        "print('foreign', sorted(set(procs) - set(mine)))\n"
        "print('groups', sorted(e.name for e in os.scandir('/sys/fs/cgroup/memory') "
        "if e.is_dir()))\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "print('ptrace', libc.ptrace(0, 0, None, None), ctypes.get_errno())\n")
    done = docker(docker_host, "run", "--rm", *WORKER_FLAGS, images["course-worker"],
                  "python3", "-c", script)
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert "remounted writable" in lines["delegated"], done.stdout
    assert lines["foreign"] == "[]"  # only this container's processes
    assert lines["groups"] == "[]"  # no docker/, system.slice/, other containers' groups
    assert lines["ptrace"] == "-1 1", done.stdout  # EPERM from the profile


def test_no_image_is_built_with_a_deployments_secrets_in_it(docker_host, images):
    """`course env` written somewhere git does not ignore (THREATS.md 29): the build refuses
    and names the file, instead of baking the database's password into every image."""
    import os
    import subprocess
    import sys

    leak = REPO / "leaked-by-test.env"
    subprocess.run([str(Path(sys.executable).parent / "course"), "env", "--out", str(leak)],
                   check=True, capture_output=True, timeout=60)
    try:
        done = subprocess.run(["bash", str(REPO / "deploy" / "build-images.sh"), "none"],
                              cwd=REPO, env={**os.environ, "DOCKER_HOST": docker_host},
                              capture_output=True, text=True, timeout=600, check=False)
    finally:
        leak.unlink()
    assert done.returncode == 2, done.stdout[-2000:] + done.stderr[-2000:]
    assert "refusing to build" in done.stderr and "leaked-by-test.env" in done.stderr
