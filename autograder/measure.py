"""Counting the Python work of a call, in the student's process (used by the runner).

A behavioural requirement ("no Python loops", "use loops") is a claim about what runs, not about
the source text: a loop reached through ``globals()``, ``exec``, a callable object, ``map``,
``np.vectorize`` or ``np.apply_along_axis`` runs Python code for each element all the same. While
a measured call runs, a trace function counts every line and call of Python code (the student's,
numpy's Python parts, anything), and a profile function counts calls independently and watches
for what would move work out of sight: switching either off, starting threads or processes, and
other threads or processes below this one using the CPU while the call runs (threads and
processes that merely exist, sleeping, do not matter). The grader (``autograder.checks``) compares the
counts at two input sizes.

The counts are made in a process the student controls, so they are evidence, not proof: code
that rewrites this module in memory, calls ``PyEval_SetTrace`` through ctypes with no Python
call in between, or hands the work to a process outside this one's tree (a double-forked
daemon), can hide work. Each such trick needs code that names the machinery, which the
grader looks for in the source as a second signal (``autograder.checks.MEASURE_TAMPERING``).
"""

from __future__ import annotations

import _thread
import gc
import os
import sys
import time

__all__ = ["Counter", "thread_idents"]

# Taken when the runner starts, before the notebook's code can replace the module attributes.
_settrace, _setprofile = sys.settrace, sys.setprofile
_gettrace, _getprofile = sys.gettrace, sys.getprofile
_current_frames, _get_ident = sys._current_frames, _thread.get_ident
_gc_isenabled, _gc_disable, _gc_enable = gc.isenabled, gc.disable, gc.enable
_cpu_clock, _clock_ns = time.pthread_getcpuclockid, time.clock_gettime_ns
_ESCAPES = {  # C functions whose call during a measured call makes its counts incomplete
    "sys": ("settrace", "setprofile"),
    "_thread": ("start_new_thread", "start_joinable_thread", "start_new"),
    "os": ("fork", "forkpty", "posix_spawn", "posix_spawnp", "system", "popen", "register_at_fork",
           "execv", "execve", "spawnv", "spawnve"),
    "_posixsubprocess": ("fork_exec",),
}
_escape_names: dict[int, str] = {}
_escape_objects = []  # kept alive: the ids above stay theirs
for _module, _names in _ESCAPES.items():
    try:
        _mod = __import__(_module)
    except ImportError:
        continue
    for _name in _names:
        _fn = getattr(_mod, _name, None)
        if _fn is not None:
            _escape_objects.append(_fn)
            _escape_names[id(_fn)] = f"{_module}.{_name}"
MAX_ESCAPES = 20


MAX_PROCESSES = 1024  # descendants watched; a tree larger than this is reported, not walked


def thread_idents() -> frozenset[int]:
    """The idents of this process's Python threads (``_thread``'s too, not only threading's).

    With the cyclic collector paused: on CPython 3.11 a collection that starts inside
    ``sys._current_frames`` runs finalizers while the thread list's lock is held, and one that
    needs that lock deadlocks the process (seen in CI)."""
    enabled = _gc_isenabled()
    _gc_disable()
    try:
        return frozenset(_current_frames())
    finally:
        if enabled:
            _gc_enable()


def _thread_times(exclude) -> dict[int, int]:
    """CPU nanoseconds used so far by each Python thread of this process but ``exclude``."""
    times = {}
    for ident in thread_idents() - exclude:
        try:
            times[ident] = _clock_ns(_cpu_clock(ident))
        except (OSError, ValueError, OverflowError):  # ended meanwhile
            pass
    return times


def _task_ns(pid: int) -> int:
    """CPU nanoseconds used so far by all threads of process ``pid`` (0 once it is gone)."""
    total = 0
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/schedstat") as handle:
                total += int(handle.read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return total


def _descendant_times() -> tuple[dict[int, int], bool]:
    """CPU nanoseconds of each process below this one, and whether the tree was too big."""
    times, todo = {}, [os.getpid()]
    while todo:
        pid = todo.pop()
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as handle:
                    todo.extend(int(child) for child in handle.read().split())
        except (OSError, ValueError):
            continue
        if pid != os.getpid():
            if len(times) >= MAX_PROCESSES:
                return times, True
            times[pid] = _task_ns(pid)
    return times, False


class Counter:
    """``Counter(allowed_threads).run(function, args, kwargs)``; then ``counter.result()``."""

    def __init__(self, allowed_threads=frozenset()):
        self.lines = self.calls = self.profiled_calls = 0
        self.escapes: list[str] = []
        self.allowed_threads = frozenset(allowed_threads)
        self.armed = False
        self.open_frames: set[int] = set()
        self._trace, self._profile = self.trace, self.profile  # one object each: ``is`` holds

    def _escape(self, why: str) -> None:
        if len(self.escapes) < MAX_ESCAPES and why not in self.escapes:
            self.escapes.append(why)

    def trace(self, frame, event, arg):
        if event == "line":
            self.lines += 1
        elif event == "call":
            self.calls += 1
        return self._trace

    def profile(self, frame, event, arg):
        if not self.armed:
            return
        if event == "call":
            self.profiled_calls += 1
            self.open_frames.add(id(frame))
        elif event == "return" and id(frame) in self.open_frames:
            self.open_frames.discard(id(frame))
            if frame.f_trace is not self._trace or not frame.f_trace_lines:
                self._escape("line tracing was switched off in a frame")
        elif event == "c_call":
            name = _escape_names.get(id(arg))
            if name is not None:
                self._escape(f"called {name}")

    def _snapshot(self):
        """What other threads and processes have used of the CPU so far: work they do while
        the call runs is work the counts do not see."""
        exclude = self.allowed_threads | {_get_ident()}
        return _thread_times(exclude), _descendant_times()

    def _compare(self, before) -> None:
        (threads, (processes, too_many)), ((threads_after, (processes_after, too_many_after))) = \
            before, self._snapshot()
        new = set(threads_after) - set(threads)
        if new:
            self._escape(f"{len(new)} thread(s) started during the call")
        busy = [ident for ident, ns in threads.items() if threads_after.get(ident, ns) > ns]
        if busy:
            self._escape(f"{len(busy)} other thread(s) of the notebook ran during the call")
        if set(processes_after) - set(processes):
            self._escape("processes started during the call")
        if any(processes_after.get(pid, ns) > ns for pid, ns in processes.items()):
            self._escape("other processes of the notebook ran during the call")
        if too_many or too_many_after:
            self._escape(f"more than {MAX_PROCESSES} processes to watch")

    def run(self, function, args, kwargs):
        """``function(*args, **kwargs)``, its Python work counted."""
        before = self._snapshot()
        _setprofile(self._profile)
        _settrace(self._trace)
        self.armed = True
        try:
            return function(*args, **kwargs)
        finally:
            self.armed = False
            tracer, profiler = _gettrace(), _getprofile()
            _settrace(None)
            _setprofile(None)
            if tracer is not self._trace or profiler is not self._profile:
                self._escape("the trace or profile function was replaced")
            if self.calls != self.profiled_calls:
                self._escape(f"tracing missed calls ({self.calls} traced, "
                             f"{self.profiled_calls} profiled)")
            self._compare(before)

    def result(self) -> dict:
        return {"lines": self.lines, "calls": self.calls, "escapes": list(self.escapes)}
