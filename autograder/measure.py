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

A loop driven by C callables runs no Python line per element (``map(B.T.dot, A)``,
``itertools.starmap(operator.mul, zip(a, b))``, ``math.fsum(a * b)``, ``functools.reduce``, an
``np.frompyfunc`` of a builtin), and a profile function sees no event for calls made from C to
C, so counting C calls shows nothing that grows. What every such loop needs is the elements of
an array as Python objects, or an object-dtype loop. While a measured call runs, NumPy's own
entry points for those are wrapped (``_NumpyHooks``): iterating an array (from Python or from C,
``ndarray.__iter__``) and ``ndarray.tolist`` count the elements they hand out, and a ufunc whose
operands or result hold Python objects counts its result's elements (``elements``). The same
hooks record the largest NumPy computation of the call (``bulk``: the elements of the largest
result or operand of a ufunc, or of an array handed to ``dot``, ``einsum`` and the like), which
tells a loop that does the work from a loop beside one vectorized call. The hooks are installed
for the call only and removed after it; where the NumPy types are not what they are expected to
be, nothing is wrapped and only the lines are counted.

The counts are made in a process the student controls, so they are evidence, not proof: code
that rewrites this module in memory, calls ``PyEval_SetTrace`` through ctypes with no Python
call in between, or hands the work to a process outside this one's tree (a double-forked
daemon), can hide work. Each such trick needs code that names the machinery, which the
grader looks for in the source as a second signal (``autograder.checks.MEASURE_TAMPERING``).
"""

from __future__ import annotations

import _thread
import ctypes
import gc
import os
import sys
import time

from autograder.call_counts import MAX_ESCAPES

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


# Calls that compute over whole arrays: their array arguments' sizes are the call's ``bulk``.
BULK_FUNCTIONS = frozenset({
    "dot", "vdot", "inner", "outer", "einsum", "tensordot", "kron", "matmul", "multi_dot",
    "matvec", "vecmat", "vecdot", "convolve", "correlate", "cross", "solve", "inv", "lstsq",
    "tensorsolve", "tensorinv", "pinv"})
_TP_FLAGS_OFFSET = 21 * ctypes.sizeof(ctypes.c_void_p)  # PyTypeObject.tp_flags (checked on use)
_IMMUTABLETYPE, _HAVE_VECTORCALL = 1 << 8, 1 << 11


class _NumpyHooks:
    """Python wrappers around NumPy's element and computation entry points, for one call.

    ``ndarray``, ``ufunc`` and NumPy's function dispatcher are static types: their attributes
    cannot be set, and their instances are called through vectorcall, which skips a ``__call__``
    set on the type. For the call, the two flags that stand in the way are cleared in
    ``tp_flags`` (read through ctypes, and written only where that word is the type's
    ``__flags__``), the wrappers set with ``type.__setattr__`` (which rewrites the C slots), and
    afterwards the original descriptors set back (which restores the C functions) and the two
    flags with them. Exceptions pass through the wrappers as they are."""

    def __init__(self, counter: Counter, numpy) -> None:
        self.counter, self.patched = counter, []
        ndarray, ufunc = numpy.ndarray, numpy.ufunc
        dispatcher = type(getattr(numpy, "dot", None))
        self.ndarray = ndarray
        size, dtype = ndarray.__dict__["size"].__get__, ndarray.__dict__["dtype"].__get__
        original_iter, original_tolist = ndarray.__dict__["__iter__"], ndarray.__dict__["tolist"]
        original_call = ufunc.__dict__["__call__"]
        original_dispatch = dispatcher.__dict__.get("__call__")

        def __iter__(self):
            iterator = original_iter(self)
            counter.elements += len(self)
            return iterator

        def tolist(self):
            values = original_tolist(self)
            counter.elements += size(self)
            return values

        def __call__(self, *args, **kwargs):
            result = original_call(self, *args, **kwargs)
            arrays = [x for x in (*args, *(result if type(result) is tuple else (result,)))
                      if isinstance(x, ndarray)]
            if any(dtype(x).hasobject for x in arrays):  # a Python call per element
                counter.elements += max(size(x) for x in arrays)
            numeric = [size(x) for x in arrays if dtype(x).kind != "b"]
            counter.bulk = max(counter.bulk, *numeric, 0)
            return result

        def dispatch(self, *args, **kwargs):
            if getattr(self, "__name__", None) in BULK_FUNCTIONS:
                counter.bulk = max(counter.bulk, 0, *(size(x) for x in (*args, *kwargs.values())
                                                      if isinstance(x, ndarray)))
            return original_dispatch(self, *args, **kwargs)

        plan = [(ndarray, {"__iter__": (original_iter, __iter__),
                           "tolist": (original_tolist, tolist)}, _IMMUTABLETYPE),
                (ufunc, {"__call__": (original_call, __call__)}, _IMMUTABLETYPE | _HAVE_VECTORCALL)]
        if original_dispatch is not None and dispatcher.__module__ == "numpy":
            plan.append((dispatcher, {"__call__": (original_dispatch, dispatch)},
                         _IMMUTABLETYPE | _HAVE_VECTORCALL))
        self.plan = [item for item in plan if _flags(item[0]) is not None]

    def install(self) -> None:
        for kind, methods, bits in self.plan:
            flags = _flags(kind)
            if flags is None:
                continue
            cleared = flags.value & bits
            flags.value &= ~bits
            self.patched.append((kind, methods, cleared))
            for name, (_original, wrapper) in methods.items():
                type.__setattr__(kind, name, wrapper)

    def uninstall(self) -> bool:
        """Put the originals back; False where a wrapper was no longer in place."""
        intact = True
        while self.patched:
            kind, methods, cleared = self.patched.pop()
            for name, (original, wrapper) in methods.items():
                intact = intact and kind.__dict__.get(name) is wrapper
                type.__setattr__(kind, name, original)
            _flags(kind, check=False).value |= cleared
        return intact

    def dot_method(self, function) -> None:
        """From the profile function: ``array.dot(other)`` is a C method called from Python."""
        owner = getattr(function, "__self__", None)
        if isinstance(owner, self.ndarray) and getattr(function, "__name__", None) == "dot":
            self.counter.bulk = max(self.counter.bulk, owner.size)


def _flags(kind: type, check: bool = True):
    """The ``tp_flags`` word of a static type, or None where it is not where it should be."""
    if not isinstance(kind, type) or kind.__flags__ & (1 << 9):  # not a type, or a heap type
        return None
    flags = ctypes.c_ulong.from_address(id(kind) + _TP_FLAGS_OFFSET)
    return flags if not check or flags.value == kind.__flags__ else None


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
        self.elements = self.bulk = 0  # see the module's docstring
        self.hooks: _NumpyHooks | None = None
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
            elif self.hooks is not None:
                self.hooks.dot_method(arg)

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
        self.hooks = _numpy_hooks(self)
        if self.hooks is not None:
            try:
                self.hooks.install()
            except (TypeError, AttributeError, ValueError):  # measure the lines alone
                self.hooks.uninstall()
                self.hooks = None
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
            if self.hooks is not None and not self.hooks.uninstall():
                self._escape("the measure's NumPy hooks were replaced")
            if tracer is not self._trace or profiler is not self._profile:
                self._escape("the trace or profile function was replaced")
            if self.calls != self.profiled_calls:
                self._escape(f"tracing missed calls ({self.calls} traced, "
                             f"{self.profiled_calls} profiled)")
            self._compare(before)

    def result(self) -> dict:
        return {"lines": self.lines, "calls": self.calls, "escapes": list(self.escapes),
                "elements": self.elements, "bulk": self.bulk}


def _numpy_hooks(counter: Counter) -> _NumpyHooks | None:
    """Hooks for NumPy where the notebook has imported it (and it is NumPy)."""
    numpy = sys.modules.get("numpy")
    ndarray = getattr(numpy, "ndarray", None)
    if not isinstance(ndarray, type) or ndarray.__module__ != "numpy" \
            or not isinstance(getattr(numpy, "ufunc", None), type):
        return None
    try:
        return _NumpyHooks(counter, numpy)
    except (KeyError, AttributeError, TypeError):
        return None
