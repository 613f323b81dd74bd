"""Grading refuses to run student code without isolation unless the course says
``isolation: none`` (the defect: ``auto`` used to fall back to no isolation in silence).

A machine where neither bubblewrap nor unshare runs is made for real: ``course grade-file`` runs
with a PATH that holds only the environment's own programs, so there is no ``bwrap`` and no
``unshare`` to start (as in a container without bubblewrap). The student's first cell writes a
marker file: it must not appear when grading refuses.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from autograder.sandbox import in_container

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "assignments" / "01-numpy"
COURSE = """\
id: c
title: C
timezone: UTC
withdrawal_deadline: 2030-01-01
{grading}assignments:
  - {{id: 01-numpy, due: 2029-01-01 18:00}}
"""

pytestmark = pytest.mark.e2e


def _grade_without_sandbox_tools(tmp_path: Path, grading: str) -> tuple[dict, Path]:
    root = tmp_path / "course"
    shutil.copytree(SOURCE, root / "assignments" / "01-numpy")
    (root / "course.yml").write_text(COURSE.format(grading=grading))
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)  # the student's process may run as nobody
    marker = shared / "student-code-ran"
    nb = nbformat.read(SOURCE / "numpy-basics.ipynb", as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(f"open({str(marker)!r}, 'w').write('ran')"))
    path = tmp_path / "numpy-basics.ipynb"
    nbformat.write(nb, path)
    bin_dir = Path(sys.executable).parent  # python and course; no bwrap, no unshare
    env = {**os.environ, "PATH": str(bin_dir)}
    done = subprocess.run([str(bin_dir / "python"), "-m", "commands.main", "grade-file", "01-numpy",
                           str(path), "--json", "--course", str(root)], env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout), marker


def test_auto_refuses_when_no_isolation_runs_and_says_why(tmp_path):
    result, marker = _grade_without_sandbox_tools(tmp_path, "")
    assert result["isolation"] is None
    assert result["score"] == 0
    reason = result["notebook_error"]
    assert reason.startswith("grading refused: isolation 'auto' does not run")
    assert "bwrap" in reason and "unshare" in reason
    if in_container():  # the container holds the Docker socket: point to the fleet
        assert "backend: celery" in reason and "isolation: none" not in reason
    else:
        assert "isolation: none" in reason
    assert not marker.exists()  # no student code ran


def test_named_bwrap_does_not_fall_back_either(tmp_path):
    result, marker = _grade_without_sandbox_tools(tmp_path, "grading: {isolation: bwrap}\n")
    assert result["isolation"] is None
    assert "isolation 'bwrap' does not run" in result["notebook_error"]
    assert not marker.exists()


def test_explicit_none_is_the_only_way_to_run_without_isolation():
    # Grading itself is not run here: as root, `none` drops to nobody, who cannot execute an
    # interpreter under /root (pyenv on this CI); the worker image's /usr/bin/python3 can.
    bin_dir = Path(sys.executable).parent
    code = ("from autograder.sandbox import require_isolation as r, IsolationUnavailable as U\n"
            "print(r('none'))\n"
            "for mode in ('auto', 'bwrap', 'unshare'):\n"
            "    try: r(mode); print('ran', mode)\n"
            "    except U: print('refused', mode)\n")
    done = subprocess.run([str(bin_dir / "python"), "-c", code], cwd=REPO, capture_output=True,
                          text=True, env={**os.environ, "PATH": str(bin_dir)}, timeout=60,
                          check=True)
    assert done.stdout.split("\n")[:4] == ["none", "refused auto", "refused bwrap",
                                           "refused unshare"]
