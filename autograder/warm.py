"""A warm grading process: it imports pytest, our pytest plugin, the wire and sandbox code and
numpy (which graders import) once, then forks one child per submission (``autograder.engine``
asks it over a pipe). Each child starts from this clean, never-graded state, so every submission
still gets fresh grader state, and the child starts a fresh sandbox.

Requests are JSON lines on stdin: ``{"args": [pytest args], "workdir": str, "log": str,
"timeout": s, "grace": s}``; each gets one JSON line back: ``{"exit": code}``, where code is
None when the run was stopped at ``timeout`` (Ctrl-C first so pytest writes what it decided and
stops the sandbox, SIGKILL after ``grace``). End of stdin ends the server, also in the middle
of a run: the grading process that asked is gone (killed with ``course grade``), so the run is
stopped as at its timeout and nothing is left spinning. A child dies with the server
(``sandbox.die_with_parent``), and the sandbox with the child.
"""

from __future__ import annotations

import contextlib
import gc
import importlib
import importlib.metadata
import json
import os
import select
import signal
import sys

import numpy  # noqa: F401 - graders import it
import pytest
from _pytest.config import default_plugins

import autograder.checks  # graders import it
import autograder.pytest_plugin  # noqa: F401
from autograder.sandbox import choose_isolation, die_with_parent


def preload() -> None:
    """Import, once, the modules every run would import: pytest's own plugins and those of
    installed packages (pytest loads them all; anyio's pulls in asyncio and ssl) and IPython's
    input transformer (``autograder.checks`` reads notebook source with it). Library code
    only: no grader module and no run of pytest happens here. numpy.random stays unimported:
    its global generator would be seeded here and every child would draw the same numbers."""
    for name in default_plugins:
        importlib.import_module(f"_pytest.{name}")
    for entry in importlib.metadata.entry_points(group="pytest11"):
        with contextlib.suppress(Exception):  # a broken plugin fails in the run, as before
            entry.load()
    importlib.import_module("IPython.core.inputtransformer2")


def _child(request: dict, pipes: tuple[int, int], server: int) -> None:
    die_with_parent(server)
    for fd in pipes:
        os.close(fd)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    os.chdir(request["workdir"])
    for key in [k for k in os.environ if k.startswith("PYTEST_")]:
        del os.environ[key]
    log = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    code = 3
    try:
        code = int(pytest.main(request["args"]))
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


class CallerGone(Exception):
    """Stdin ended (or spoke out of turn) while a run was going: nobody waits for its answer."""


def _wait(pid: int, timeout: float, grace: float, caller: int) -> int | None:
    """The child's exit code, or None when it was stopped at ``timeout``. The caller sends
    nothing while it waits, so ``caller`` (stdin) turning readable means it is gone: the run is
    stopped as at its timeout and ``CallerGone`` raised."""
    done = os.pidfd_open(pid)
    try:
        ready = select.select([done, caller], [], [], timeout)[0]
        if done not in ready:
            os.kill(pid, signal.SIGINT)  # not reaped yet: the pid is still this child's
            if not select.select([done], [], [], grace)[0]:
                os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            if caller in ready:
                raise CallerGone
            return None
    finally:
        os.close(done)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])


def serve(requests, replies) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C at the terminal is the caller's
    server = os.getpid()
    for line in requests:
        request = json.loads(line)
        # what exists now is never garbage in a child: its collections (pytest runs several
        # at the end of a session) skip it, and its pages are not copied by the collector
        gc.freeze()
        pid = os.fork()
        if pid == 0:
            _child(request, (requests.fileno(), replies.fileno()), server)
        try:
            code = _wait(pid, request["timeout"], request["grace"], requests.fileno())
        except CallerGone:
            return
        replies.write(json.dumps({"exit": code}) + "\n")
        replies.flush()


if __name__ == "__main__":
    choose_isolation("auto")  # the sandbox probe (starting bwrap) once, not per submission
    preload()
    serve(sys.stdin, sys.stdout)
