"""When the grading process dies mid-run (``course grade`` killed), its warm helper sees stdin
end, stops the run as at its timeout and exits: nothing is left spinning (issue 23: after a
killed ``course grade`` student processes ran on at 100 % CPU)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from small_courses import REPO

SPIN = """
def test_spins():
    while True:
        pass
"""


def processes_in(folder: Path) -> list[int]:
    """The processes whose working folder is ``folder`` (a run's child works in its own)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if os.readlink(entry / "cwd") == str(folder):
                found.append(int(entry.name))
        except OSError:
            continue  # gone meanwhile
    return found


def until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds  # a bound on waiting, not a timing under test
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_the_warm_helper_stops_the_run_and_exits_when_its_caller_is_gone(tmp_path):
    run = tmp_path / f"run-{uuid.uuid4().hex}"
    run.mkdir()
    (run / "test_spin.py").write_text(SPIN)
    helper = subprocess.Popen([sys.executable, "-m", "autograder.warm"], cwd=REPO,
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        request = {"args": ["-q", "-p", "no:cacheprovider", "test_spin.py"],
                   "workdir": str(run), "log": str(tmp_path / "log.txt"),
                   "timeout": 600, "grace": 2}
        helper.stdin.write(json.dumps(request) + "\n")
        helper.stdin.flush()
        assert until(lambda: processes_in(run), 60), "the run never started"
        helper.stdin.close()  # the grading process is gone: its end of the pipe closes
        assert until(lambda: helper.poll() is not None, 30), "the helper kept waiting"
        assert until(lambda: not processes_in(run), 30), "the run was left spinning"
    finally:
        if helper.poll() is None:
            helper.kill()
        for pid in processes_in(run):
            os.kill(pid, signal.SIGKILL)
