"""The runtime measure behind ``assert_vectorized`` and ``assert_uses_loops``: the Python work of
a call, counted in the student's process, at two input sizes. Every way of hiding a loop that a
syntactic check misses is an attack here, and so is switching the measure off."""

import inspect
import queue
import subprocess
import sys
import threading

import numpy as np
import pytest
from runner_pipes import serving

from autograder.checks import assert_uses_loops, assert_vectorized, count_python_work


@pytest.fixture
def serve():
    yield from serving()


# --- honest solutions ------------------------------------------------------------------------
def dot_vectorized(a, b):
    return float(np.dot(a, b))


def dot_broadcast(a, b):
    return float(np.sum(a * b))


def dot_einsum(a, b):
    return float(np.einsum("i,i->", a, b))


def dot_loop(a, b):
    total = 0.0
    for i in range(len(a)):
        total += a[i] * b[i]
    return total


def dot_comprehension(a, b):
    return sum([x * y for x, y in zip(a, b)])


# --- loops in disguise -----------------------------------------------------------------------
def _hidden(a, b):
    total = 0.0
    for x, y in zip(a, b):
        total += x * y
    return total


def dot_globals(a, b):
    return globals()["_hid" + "den"](a, b)


class Dotter:
    def __call__(self, a, b):
        return _hidden(a, b)


dot_callable = Dotter()
_namespace = {}
exec("def made(a, b):\n    return sum(x * y for x, y in zip(a, b))", _namespace)  # noqa: S102
dot_exec = _namespace["made"]
TABLE = {"dot": _hidden}


def dot_table(a, b):
    return TABLE["dot"](a, b)


def dot_map(a, b):
    return float(sum(map(lambda x, y: x * y, a, b)))


def dot_vectorize(a, b):
    return float(np.sum(np.vectorize(lambda x, y: x * y)(a, b)))


def dot_apply_along_axis(a, b):
    return float(np.sum(np.apply_along_axis(lambda row: row[0] * row[1], 1,
                                            np.stack([a, b], axis=1))))


# --- switching the measure off ---------------------------------------------------------------
def dot_settrace_off(a, b):
    sys.settrace(None)
    return _hidden(a, b)


def dot_profile_and_trace_off(a, b):
    tracer, profiler = sys.gettrace(), sys.getprofile()
    sys.setprofile(None)
    sys.settrace(None)
    result = _hidden(a, b)
    sys.settrace(tracer)
    sys.setprofile(profiler)
    return result


def dot_frame_untraced(a, b):
    frame = sys._getframe()
    frame.f_trace = None  # no line events for this frame
    total = 0.0
    for x, y in zip(a, b):
        total += x * y
    return total


def dot_frame_untraced_and_restored(a, b):
    frame = sys._getframe()
    saved, frame.f_trace_lines = frame.f_trace, False
    total = 0.0
    for i in range(len(a)):
        total += a[i] * b[i]
    frame.f_trace, frame.f_trace_lines = saved, True
    return total


def dot_thread(a, b):
    out = []
    worker = threading.Thread(target=lambda: out.append(_hidden(a, b)))
    worker.start()
    worker.join()
    return out[0]


JOBS, RESULTS = queue.Queue(), queue.Queue()


def _serve_jobs():
    while True:
        a, b = JOBS.get()
        RESULTS.put(_hidden(a, b))


def start_worker():
    """Run while the notebook executes: a thread that outlives the cell, ready to loop."""
    threading.Thread(target=_serve_jobs, daemon=True).start()


def dot_worker(a, b):
    JOBS.put((a, b))
    return RESULTS.get()


SLEEPERS = []
RELEASE = threading.Event()


def start_sleepers():
    """Threads and a process that exist but do nothing (as a thread or fork bomb leaves them)."""
    for _ in range(50):
        thread = threading.Thread(target=RELEASE.wait, args=(60,), daemon=True)
        thread.start()
        SLEEPERS.append(thread)
    SLEEPERS.append(subprocess.Popen(["sleep", "60"]))


WORKER_CODE = "import sys\nfor line in sys.stdin:\n    print(sum(float(v) for v in line.split()), flush=True)"


def start_process_worker():
    """A process started with the notebook, ready to loop for a later call."""
    SLEEPERS.append(subprocess.Popen([sys.executable, "-c", WORKER_CODE], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True))


def dot_process_worker(a, b):
    worker = SLEEPERS[-1]
    worker.stdin.write(" ".join(map(str, a * b)) + "\n")
    worker.stdin.flush()
    return float(worker.stdout.readline())


@pytest.fixture
def sleepers():
    yield
    RELEASE.set()
    for item in SLEEPERS:
        if isinstance(item, subprocess.Popen):
            item.kill()
            item.wait()
    SLEEPERS.clear()


def dot_subprocess(a, b):
    subprocess.run(["true"], check=True)  # a process doing the work would be out of sight
    return dot_vectorized(a, b)


def dot_fake_counts(a, b):
    counter = sys.gettrace().__self__
    result = _hidden(a, b)
    counter.lines, counter.elements = 10, 0  # counts written by the student's code
    return result


NAMESPACE = {name: value for name, value in globals().items()
             if name.startswith(("dot_", "start_"))}


def _call(submission, name):
    function = getattr(submission, name)
    return lambda n: function(np.arange(n, dtype=float), np.ones(n))


@pytest.mark.parametrize("name", ["dot_vectorized", "dot_broadcast", "dot_einsum"])
def test_numpy_operations_are_vectorized_and_are_no_loops(serve, name):
    submission, _ = serve(NAMESPACE)
    counted = assert_vectorized(submission, _call(submission, name), what=name)
    assert counted[0].lines == counted[1].lines and counted[0].measured == 1
    with pytest.raises(AssertionError, match="does not loop over the elements in Python"):
        assert_uses_loops(submission, _call(submission, name), what=name)


@pytest.mark.parametrize("name", ["dot_loop", "dot_comprehension"])
def test_loops_are_loops(serve, name):
    submission, _ = serve(NAMESPACE)
    counted = assert_uses_loops(submission, _call(submission, name), what=name)
    assert counted[1].lines - counted[0].lines >= 24
    with pytest.raises(AssertionError, match="runs Python code for each element"):
        assert_vectorized(submission, _call(submission, name), what=name)


@pytest.mark.parametrize("name", ["dot_globals", "dot_callable", "dot_exec", "dot_table",
                                  "dot_map", "dot_vectorize", "dot_apply_along_axis"])
def test_loops_in_disguise_are_measured(serve, name):
    submission, _ = serve(NAMESPACE)
    with pytest.raises(AssertionError, match="runs Python code for each element"):
        assert_vectorized(submission, _call(submission, name), what=name)


@pytest.mark.parametrize("name, why", [
    ("dot_settrace_off", "called sys.settrace"),
    ("dot_profile_and_trace_off", "called sys.setprofile"),
    ("dot_frame_untraced", "line tracing was switched off in a frame"),
    ("dot_thread", "called _thread.start_new_thread"),
    ("dot_subprocess", "called _posixsubprocess.fork_exec"),
])
def test_switching_the_measure_off_is_seen(serve, name, why):
    submission, _ = serve(NAMESPACE)
    with pytest.raises(AssertionError, match=f"cannot be measured .*{why}"):
        assert_vectorized(submission, _call(submission, name), what=name)


def test_a_thread_started_before_the_call_is_seen(serve):
    submission, _ = serve(NAMESPACE)
    submission.start_worker()
    assert submission.dot_worker(np.ones(3), np.ones(3)) == 3.0  # the worker does loop
    with pytest.raises(AssertionError, match=r"1 other thread\(s\) of the notebook ran during"):
        assert_vectorized(submission, _call(submission, "dot_worker"))


def test_a_process_started_before_the_call_is_seen(serve, sleepers):
    submission, _ = serve(NAMESPACE)
    submission.start_process_worker()
    assert submission.dot_process_worker(np.ones(3), np.ones(3)) == 3.0  # the worker loops
    with pytest.raises(AssertionError, match="other processes of the notebook ran during"):
        assert_vectorized(submission, _call(submission, "dot_process_worker"))


def test_threads_and_processes_that_only_sleep_do_not_matter(serve, sleepers):
    """A notebook that leaves sleeping threads and processes (a thread or fork bomb stopped
    by the limits) is measured as usual: only what runs during the call counts."""
    submission, _ = serve(NAMESPACE)
    submission.start_sleepers()
    assert_vectorized(submission, _call(submission, "dot_vectorized"))
    with pytest.raises(AssertionError, match="runs Python code for each element"):
        assert_vectorized(submission, _call(submission, "dot_loop"))


@pytest.mark.parametrize("name, word", [("dot_fake_counts", "gettrace"),
                                        ("dot_frame_untraced_and_restored", "f_trace")])
def test_code_that_names_the_measure_is_refused(serve, name, word):
    """What the counts alone miss (counts written by the student's code, line tracing switched
    off and on again inside one frame): the source that does it names the machinery."""
    submission, _ = serve(NAMESPACE)
    assert_vectorized(submission, _call(submission, name))  # the counts are fooled...
    submission, _ = serve(NAMESPACE, inspect.getsource(NAMESPACE[name]))
    with pytest.raises(AssertionError, match=rf"refers to the grading machinery \({word}"):
        assert_vectorized(submission, _call(submission, name))  # ...the source is not
    honest, _ = serve(NAMESPACE, "def dot_vectorized(a, b):\n    return np.dot(a, b)\n")
    assert_vectorized(honest, _call(honest, "dot_vectorized"))


def test_counts_add_up_over_the_calls_inside_and_only_those(serve):
    submission, runner = serve(NAMESPACE)
    single = count_python_work(submission, _call(submission, "dot_loop"), [10])[0]
    with submission.counting() as counts:
        submission.dot_loop(np.ones(10), np.ones(10))
        submission.dot_loop(np.ones(10), np.ones(10))
    assert (counts.measured, counts.lines, counts.calls) == (2, 2 * single.lines, 2)
    submission.dot_loop(np.ones(10), np.ones(10))
    assert counts.measured == 2 and runner.counts is None  # outside: not measured
