"""A killed grader leaves no student process behind (issue 23: after ``course grade`` was
killed, the ``unshare`` fallback left notebooks spinning at 100 % CPU).

For real: a launcher process starts the sandbox (isolation forced to ``unshare``, as on a host
without bubblewrap) on a notebook cell that spins forever, and is SIGKILLed once the cell runs;
then no process of that sandbox may remain. The sandbox's processes are found in /proc by a
marker in their command line (the job folder's name, unique to the run).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import uuid
from pathlib import Path

import pytest

from autograder.sandbox import choose_isolation

REPO = Path(__file__).resolve().parents[2]

LAUNCHER = textwrap.dedent("""\
    import os, sys, time
    from pathlib import Path
    from autograder.sandbox import SandboxLimits, launch

    job = Path(sys.argv[1])
    to_child, _keep_writing = os.pipe()
    _keep_reading, from_child = os.pipe()
    started = launch(job, None, SandboxLimits(isolation=sys.argv[2]), to_child, from_child)
    print(started.process.pid, started.isolation, flush=True)
    time.sleep(3600)  # killed by the test long before
    """)


def sandbox_processes(marker: str) -> list[str]:
    """``pid: command line`` of every process whose command line holds ``marker``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:  # gone meanwhile
            continue
        if marker in command:
            found.append(f"{entry.name}: {command.strip()}")
    return found


def wait_for(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds:g} s: {what}")
        time.sleep(0.1)


@pytest.mark.parametrize("isolation", ["unshare"])
def test_killing_the_grader_kills_the_spinning_notebook(isolation):
    if os.geteuid() != 0 or not shutil.which("unshare"):
        pytest.skip("the unshare sandbox needs root and unshare (util-linux) on this machine")
    if choose_isolation(isolation) != isolation:
        from autograder.sandbox import _failures

        pytest.skip(f"unshare does not run here: {_failures.get(isolation, 'unknown reason')}")
    marker = f"orphan-check-{uuid.uuid4().hex[:12]}"
    job = Path(tempfile.mkdtemp(prefix=f"{marker}-"))  # /tmp: readable by nobody, unlike tmp_path
    home = job.with_name(job.name + "-home")  # launch's private home for the unshare path
    try:
        job.chmod(0o755)
        spin = ("import os, pathlib\n"
                "pathlib.Path(os.environ['HOME'], 'spinning').write_text('yes')\n"
                "while True:\n    pass\n")
        (job / "cells.json").write_text(json.dumps([{"index": 0, "source": spin}]))
        launcher = subprocess.Popen(
            [sys.executable, "-c", LAUNCHER, str(job), isolation], cwd=REPO,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)})
        try:
            line = launcher.stdout.readline()
            assert line.split()[1:] == [isolation], (line, launcher.stderr.read())
            wait_for(lambda: (home / "spinning").exists() or launcher.poll() is not None, 60,
                     "the notebook's cell starts spinning")
            assert launcher.poll() is None, launcher.stderr.read()
            running = sandbox_processes(marker)
            assert len(running) >= 2, running  # unshare and the notebook's process, at least
        finally:
            launcher.send_signal(signal.SIGKILL)
            launcher.wait()
        # the launcher is gone: within a generous bound, so is every process of its sandbox
        wait_for(lambda: not sandbox_processes(marker), 30,
                 f"the sandbox's processes die with their launcher: {sandbox_processes(marker)}")
    finally:
        for pid_line in sandbox_processes(marker):  # a failed run leaves no spinner behind
            os.kill(int(pid_line.split(":")[0]), signal.SIGKILL)
        shutil.rmtree(job, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)


def test_a_notebook_still_grades_behind_the_unshare_chain():
    """The same sandbox (a trusted pid 1 between ``unshare`` and the notebook) grades as
    before: the reference solution earns every point, and the run says it was ``unshare``."""
    if os.geteuid() != 0 or choose_isolation("unshare") != "unshare":
        pytest.skip("the unshare sandbox needs root and unshare (util-linux) on this machine")
    import nbformat

    from autograder.engine import GradingOptions, grade_notebook
    from autograder.notebooks import solution_cells, with_cells
    from autograder.sandbox import SandboxLimits

    source = REPO / "assignments" / "01-numpy"
    nb = nbformat.read(source / "numpy-basics.ipynb", as_version=4)
    result = grade_notebook(with_cells(nb, solution_cells(nb)), graders=source / "graders",
                            options=GradingOptions(limits=SandboxLimits(isolation="unshare")))
    assert result.notebook_error is None, result.problems
    assert result.isolation == "unshare"
    assert result.score == sum(t.max_points for t in result.tests) > 0
