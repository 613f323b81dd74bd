"""A grader's ``Submission`` talking to a real ``Runner`` on a thread over two pipes: the wire
and the student's side without the sandbox, for tests of what crosses it."""

from __future__ import annotations

import os
import threading
import types

from autograder.client import StudentProcess, Submission
from autograder.measure import thread_idents
from autograder.protocol import write_frame
from autograder.student_runner import Runner


def serving(runner_class=Runner):
    """For a fixture (``yield from serving()``): ``start(namespace, source)`` gives a Submission
    of a notebook whose namespace is ``namespace`` (and whose code reads ``source``), and its
    Runner (as the student's process would hold it; ``runner_class``: a Runner subclass)."""
    started = []

    def start(namespace: dict, source: str = ""):
        to_runner, from_grader = os.pipe()
        to_grader, from_runner = os.pipe()
        runner = runner_class(os.fdopen(to_runner, "rb", buffering=0),
                              os.fdopen(from_runner, "wb"))
        runner.shell = types.SimpleNamespace(user_ns=dict(namespace))
        thread = threading.Thread(target=runner.serve, daemon=True)
        thread.start()
        process = StudentProcess([{"index": 0, "source": source}])._connect(
            os.fdopen(to_grader, "rb"), os.fdopen(from_grader, "wb"))
        # this test process's own threads (the grader's reader among them) are not the notebook's
        runner.allowed_threads = thread_idents()
        write_frame(runner.out, {"ready": True, "functions": runner.functions()})
        process.wait_ready()
        started.append((process, thread, runner))
        return Submission(process), runner

    yield start
    for process, thread, runner in started:
        process._writer.close()  # the runner reads the end, and stops
        thread.join(5)
        runner.out.close()  # the grader's reader reads the end, and stops
