"""The grader's side of the wire: start the student's process, read the notebook's results, and
call into it through ``Submission`` (the object the ``submission`` fixture gives a grader).

Every call has a timeout; a timeout, crash or protocol violation kills the whole sandbox and
raises ``SubmissionUnavailable`` with a reason, which fails the test that made the call.

The messages, one reply each (``{"id": n, "ok": value}`` or ``{"id": n, "error": {"type",
"message", "traceback"}}``); values are encoded by ``autograder.protocol`` in one walk each:

- ``{"op": "call", "target": id|null, "name": str?, "args": [[positional], {keywords}]}`` calls
  ``name`` of the object ``target`` (of the notebook's namespace when null), or the object itself
  when there is no name: a method or function call is one round trip;
- ``{"op": "getattr", "target": id|null, "name": str}``, ``{"op": "getitem", "target": id,
  "key": value}``, ``{"op": "defined", "name": str}``, ``{"op": "seed", "seed": int}``;
- ``{"op": "place", "value": value}`` keeps the value there and answers a handle to it, and
  ``{"op": "fetch", "target": id}`` answers that object's value as plain data, never a handle
  (``Submission.remote`` and ``Submission.fetch``: in-place changes made by the student's code);
- a call with ``"measure": true`` runs under ``autograder.measure``'s counter and its reply
  carries ``"counts": {"lines": int, "calls": int, "escapes": [str]}`` (``Submission.counting``);
- any message may carry ``"release": [id, ...]``: handles whose last proxy here was collected,
  dropped there before the message is served, so the student's objects do not pile up.
"""

from __future__ import annotations

import builtins
import contextlib
import json
import os
import queue
import select
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from .call_counts import CallCounts
from .cells import NotebookSource, cell_label
from .protocol import (
    Handle,
    Limits,
    NotData,
    ProtocolError,
    decode,
    encode,
    frame_bytes,
    read_frame,
)
from .sandbox import Launch, SandboxLimits, launch
from .settings import DEFAULTS

__all__ = [
    "CallCounts",
    "RemoteMethod",
    "RemoteObject",
    "StudentError",
    "StudentProcess",
    "Submission",
    "SubmissionUnavailable",
    "Timeouts",
]

STREAM_CAP = 64 * 1024
QUEUED_FRAMES = 4  # frames read ahead of the grader; a flooding process waits for the rest
CELL_TEXT_CAP = 64 * 1024  # per cell and stream, as kept here (the runner keeps less)
CELL_DISPLAYS, DISPLAY_CHARS = 20, 200_000
NAMESPACE_NAMES = 10_000  # function names the runner may list when the notebook is ready
RELEASES_PER_MESSAGE = 10_000


@dataclass(frozen=True)
class Timeouts:
    notebook: float = DEFAULTS.notebook_timeout  # executing all the student's cells
    call: float = DEFAULTS.call_timeout  # one call from a grader


class SubmissionUnavailable(Exception):
    """The student's process is gone (timed out, crashed, killed, broke the protocol)."""


class StudentError(Exception):
    """An exception raised by the student's code; ``type_name`` is its class name there and
    ``traceback`` the end of its traceback there (text, for the instructor)."""

    traceback = ""

    def __init__(self, type_name: str, message: str):
        super().__init__(f"{type_name}: {message}")
        self.type_name, self.message = type_name, message


_error_classes: dict[str, type] = {}


def _remote_error(type_name: str, message: str, traceback: str = "") -> StudentError:
    """A StudentError that is also the builtin exception of the same name (ValueError, ...),
    so graders can write ``pytest.raises(ValueError)``. Only builtins are mirrored."""
    error = _error_of(type_name, message)
    error.traceback = traceback
    return error


def _error_of(type_name: str, message: str) -> StudentError:
    base = getattr(builtins, type_name, None)
    if not (isinstance(base, type) and issubclass(base, Exception)) or base is StudentError:
        return StudentError(type_name, message)
    # The nearest builtin (the class, then its bases) that takes a message alone: building
    # UnicodeDecodeError or ExceptionGroup from one string raises TypeError or ValueError here,
    # which a grader's pytest.raises(ValueError) would take for the student's answer.
    for mirrored in base.__mro__[:-2]:  # not BaseException, not object
        cls = _error_classes.get(mirrored.__name__)
        try:
            if cls is None:
                cls = type(f"Student{mirrored.__name__}", (StudentError, mirrored), {})
                _error_classes[mirrored.__name__] = cls
            return cls(type_name, message)
        except (TypeError, ValueError):
            continue
    return StudentError(type_name, message)


def _names(value) -> frozenset[str]:
    """The notebook's function names as the runner lists them (anything else: none)."""
    if type(value) is not list:
        return frozenset()
    return frozenset(name for name in value[:NAMESPACE_NAMES]
                     if type(name) is str and 0 < len(name) <= 200)


def _cell_frame(frame: dict, expected: set[int]) -> dict | None:
    """One cell's outputs as the runner reports them, kept within the runner's own bounds:
    the student's code can write frames itself, so a frame for a cell that was not sent, a
    second frame for a cell, or an oversized one must not grow the grader's memory."""
    index = frame.get("cell")
    if type(index) is not int or index not in expected:
        return None
    displays = frame.get("displays") if type(frame.get("displays")) is list else []
    error = frame.get("error")
    if error is not None:
        error = error if type(error) is dict else {}
        error = {"ename": str(error.get("ename", "Error"))[:200],
                 "evalue": str(error.get("evalue", ""))[:2000]}
    return {"cell": index, "stdout": str(frame.get("stdout", ""))[:CELL_TEXT_CAP],
            "stderr": str(frame.get("stderr", ""))[:CELL_TEXT_CAP],
            "displays": [{key: str(value)[:DISPLAY_CHARS] for key, value in shown.items()
                          if key in ("text/plain", "image/png")}
                         for shown in displays[:CELL_DISPLAYS] if type(shown) is dict],
            "error": error}


class _Drain(threading.Thread):
    """Keeps the first bytes of a stream (stdout/stderr of the child) so it never blocks."""

    def __init__(self, stream, cap: int = STREAM_CAP):
        super().__init__(daemon=True)
        self.stream, self.cap, self.data, self.dropped = stream, cap, bytearray(), 0
        self.start()

    def run(self):
        for chunk in iter(lambda: self.stream.read(65536), b""):
            room = self.cap - len(self.data)
            self.data += chunk[:max(room, 0)]
            self.dropped += max(0, len(chunk) - max(room, 0))

    def text(self) -> str:
        return self.data.decode(errors="replace")


class StudentProcess:
    """One sandboxed run of a notebook: ``start()``, ``cells`` once ready, ``request()``."""

    def __init__(self, cells: list[dict], *, data_dir: Path | None = None,
                 limits: SandboxLimits = SandboxLimits(),  # noqa: B008 - frozen: one is shared safely
                 timeouts: Timeouts = Timeouts()):
        self.cells_in, self.data_dir, self.limits, self.timeouts = cells, data_dir, limits, timeouts
        self.cells: list[dict] = []
        self.dead_reason: str | None = None
        self.launch: Launch | None = None
        self._frames: queue.Queue = queue.Queue(QUEUED_FRAMES)
        self._next_id = 0
        self._lock = threading.Lock()
        self.functions: frozenset[str] = frozenset()  # the notebook's, when it was ready
        # Handles: live proxies per id (decode adds, release takes) and the ids of collected
        # proxies, appended by RemoteObject.__del__ (no lock there: it runs at any moment).
        self._proxies: dict[int, int] = {}
        self._proxies_lock = threading.Lock()
        self._dropped: list[int] = []
        self.counting: CallCounts | None = None  # calls are measured while set

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> StudentProcess:
        self.job_dir = Path(tempfile.mkdtemp(prefix="course-job-"))
        os.chmod(self.job_dir, 0o755)
        (self.job_dir / "cells.json").write_text(json.dumps(self.cells_in))
        to_child_r, self._to_child = os.pipe()
        self._from_child, from_child_w = os.pipe()
        try:
            self.launch = launch(self.job_dir, self.data_dir, self.limits, to_child_r,
                                 from_child_w)
        finally:
            os.close(to_child_r)
            os.close(from_child_w)
        self.launch.cleanup_paths.append(self.job_dir)
        self.stdout = _Drain(self.launch.process.stdout)
        self.stderr = _Drain(self.launch.process.stderr)
        return self._connect(os.fdopen(self._from_child, "rb"), os.fdopen(self._to_child, "wb"))

    def _connect(self, reader, writer) -> StudentProcess:
        """Talk to a runner through these two streams (``start``: the sandbox's pipes)."""
        self._reader, self._writer = reader, writer
        threading.Thread(target=self._read_frames, daemon=True).start()
        return self

    def _read_frames(self):
        while True:
            try:
                item = read_frame(self._reader, Limits())
            except (EOFError, OSError, ValueError):
                item = EOFError()
            except ProtocolError as exc:
                item = exc
            while True:  # bounded: what the process sends is read as fast as it is used
                try:
                    self._frames.put(item, timeout=0.5)
                    break
                except queue.Full:
                    if not self.alive:
                        return
            if isinstance(item, Exception):
                return

    @property
    def alive(self) -> bool:
        return self.dead_reason is None

    def _die(self, reason: str) -> SubmissionUnavailable:
        if self.dead_reason is None:
            if self.launch and self.launch.cgroup.oom_killed():
                reason = f"{reason} (out of memory: limit {self.limits.memory_bytes // 2**20} MiB)"
            self.dead_reason = reason
            self.close()
        return SubmissionUnavailable(self.dead_reason)

    def _exit_reason(self) -> str:
        if self.launch is None:
            return "the notebook's process went away"
        process = self.launch.process
        try:
            code = process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            code = None
        if self.launch.cgroup.oom_killed():
            return f"the notebook's process was killed: out of memory (limit " \
                   f"{self.limits.memory_bytes // 2**20} MiB)"
        time.sleep(0.05)  # let the drain thread take the last words
        last = [line for line in self.stderr.text().splitlines() if line.strip()][-1:]
        return f"the notebook's process exited (exit code {code})" + (
            f": {last[0][:300]}" if last else "")

    def _next_frame(self, deadline: float, what: str, running: str | None = None) -> dict:
        """The next frame before ``deadline``; ``running``: the cell the notebook is running,
        named in the reason when it times out or dies."""
        try:
            frame = self._frames.get(timeout=max(0.0, deadline - time.monotonic()))
        except queue.Empty:
            raise self._die(f"timed out after {what}"
                            + (f": {running} never finished" if running else "")) from None
        if isinstance(frame, EOFError):
            raise self._die(self._exit_reason() + (f" while running {running}" if running else ""))
        if isinstance(frame, Exception):
            raise self._die(f"broke the protocol: {frame}")
        return frame

    def wait_ready(self) -> list[dict]:
        """Run the notebook's cells; returns each cell's recorded outputs."""
        deadline = time.monotonic() + self.timeouts.notebook
        while True:
            frame = self._next_frame(deadline, f"{self.timeouts.notebook:g} s running the notebook",
                                     self._running_cell())
            if frame.get("ready") is True:
                self.functions = _names(frame.get("functions"))
                return self.cells
            cell = _cell_frame(frame, {c["index"] for c in self.cells_in}
                               - {c["cell"] for c in self.cells})
            if cell is not None:
                self.cells.append(cell)

    def _running_cell(self) -> str | None:
        """The cell the notebook is running while it starts: the first one it has not reported
        finished (it runs them in order), as its process reported them; None after the last."""
        done = {c["cell"] for c in self.cells}
        return next((cell_label(c["index"], c["source"]) for c in self.cells_in
                     if c["index"] not in done), None)

    # --- calls ------------------------------------------------------------------------------
    def encode(self, value):
        """A value for the notebook: plain data and this process's objects, in one walk under
        the same budget as the answers (a ProtocolError past it)."""
        try:
            return encode(value, Limits(), handle=self._handle_of)
        except NotData as exc:
            raise NotData(f"cannot send {exc} to the notebook: only plain data (numbers, strings, "
                          "bytes, numeric arrays, and lists, tuples and dicts of these) and the "
                          "notebook's own objects") from None

    def _handle_of(self, value) -> Handle | None:
        if type(value) is RemoteMethod:
            value = value._resolve()
        if type(value) is not RemoteObject:
            return None
        if value._process is not self:
            raise ProtocolError(f"{value!r} belongs to an earlier run of the notebook (it was "
                                "restarted since): get it again")
        return value._handle

    def _proxy(self, handle: Handle) -> RemoteObject:
        with self._proxies_lock:
            self._proxies[handle.id] = self._proxies.get(handle.id, 0) + 1
        return RemoteObject(self, handle)

    def _released(self) -> list[int]:
        """Ids none of whose proxies is left, to be dropped in the student's process."""
        ids = []
        with self._proxies_lock:
            while self._dropped and len(ids) < RELEASES_PER_MESSAGE:
                ident = self._dropped.pop()
                left = self._proxies.get(ident, 0) - 1
                if left > 0:
                    self._proxies[ident] = left
                else:
                    self._proxies.pop(ident, None)
                    ids.append(ident)
        return ids

    def call(self, target: int | None, name: str | None, args: tuple, kwargs: dict,
             timeout: float | None = None):
        """``target.name(*args, **kwargs)`` in one round trip (see the module's docstring)."""
        message = {"op": "call", "target": target, "args": self.encode([list(args), kwargs])}
        if name is not None:
            message["name"] = name
        if self.counting is not None:
            message["measure"] = True
        return self.request(message, timeout)

    def request(self, message: dict, timeout: float | None = None, *, data_only: bool = False):
        """Send one message (its values already encoded), wait for its reply, and return the
        answer decoded (handles as RemoteObjects; with ``data_only`` a handle is a broken
        answer), or raise what the notebook raised."""
        if not self.alive:
            raise SubmissionUnavailable(self.dead_reason)
        timeout = self.timeouts.call if timeout is None else timeout
        with self._lock:
            self._next_id += 1
            message = {**message, "id": self._next_id}
            released = self._released()
            if released:
                message["release"] = released
            deadline = time.monotonic() + timeout
            try:
                self._send(frame_bytes(message), deadline)
            except TimeoutError:  # before OSError, its base class
                raise self._die(f"timed out after {timeout:g} s sending a call to the notebook "
                                "(it stopped reading)") from None
            except (OSError, ValueError):
                raise self._die(self._exit_reason()) from None
            while True:
                frame = self._next_frame(deadline, f"{timeout:g} s in a call to the notebook")
                if frame.get("id") == message["id"]:
                    break
            if message.get("measure") and self.counting is not None:
                self.counting.add(frame.get("counts"))
        if "error" in frame:
            error = frame["error"] if type(frame["error"]) is dict else {}
            raise _remote_error(str(error.get("type", "Exception"))[:100],
                                str(error.get("message", ""))[:2000],
                                str(error.get("traceback", ""))[:4000])
        try:
            return decode(frame.get("ok"), Limits(),
                          handle=_no_handles if data_only else self._proxy)
        except ProtocolError as exc:
            raise self._die(f"sent a malformed answer: {exc}") from None

    def _send(self, data: bytes, deadline: float) -> None:
        """Write a frame without blocking past ``deadline``: a process that stops reading its
        input (while a thread of it answers) must not hang the grader on a large argument."""
        fd = self._writer.fileno()
        os.set_blocking(fd, False)
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        view = memoryview(data)
        while view:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not poll.poll(remaining * 1000):
                raise TimeoutError
            try:
                view = view[os.write(fd, view[:65536]):]
            except BlockingIOError:
                continue

    def close(self) -> None:
        if self.launch is not None:
            # Kill first: the reader thread holds the pipe's lock while it waits for a frame,
            # and closing the pipe under it blocks until the process writes or dies (a
            # notebook stuck in a loop never writes: the grader would hang here).
            self.launch.cleanup()
            for stream in (getattr(self, "_writer", None), getattr(self, "_reader", None)):
                try:
                    if stream:
                        stream.close()
                except OSError:
                    pass
        if self.dead_reason is None:
            self.dead_reason = "closed"


def _no_handles(found: Handle):
    raise ProtocolError(f"an object ({found.type_name[:40]}) where plain data was asked for")


class RemoteObject:
    """An object living in the student's process; attributes, items and calls go over the wire.
    When the last proxy of a handle is collected, the next message releases the object there."""

    __slots__ = ("_handle", "_process")

    def __init__(self, process: StudentProcess, handle: Handle):
        object.__setattr__(self, "_process", process)
        object.__setattr__(self, "_handle", handle)

    def __del__(self):
        try:
            self._process._dropped.append(self._handle.id)  # atomic; sent with the next message
        except AttributeError:  # half built
            pass

    def __copy__(self):  # a copy would release the object when it is collected: the same proxy
        return self

    def __deepcopy__(self, memo):
        return self

    def __getattr__(self, name: str):
        if name.startswith("__") or name in RemoteObject.__slots__:  # (not set yet)
            raise AttributeError(name)
        if name in self._handle.methods:  # looked up when called: one round trip
            return RemoteMethod(self._process, self, name)
        return self._process.request({"op": "getattr", "target": self._handle.id, "name": name})

    def __getitem__(self, key):
        return self._process.request({"op": "getitem", "target": self._handle.id,
                                      "key": self._process.encode(key)})

    def __call__(self, *args, timeout: float | None = None, **kwargs):
        return self._process.call(self._handle.id, None, args, kwargs, timeout)

    def __repr__(self) -> str:
        return f"<student {self._handle.type_name}>"


_UNSET = object()


class RemoteMethod:
    """``obj.name`` (``submission.name``) where the notebook says ``name`` is a method of the
    object's class (a function of the notebook): calling it looks the name up and calls it in one
    round trip. Any other use looks it up first (one round trip more) and acts on what it is."""

    __slots__ = ("_name", "_owner", "_process", "_value")

    def __init__(self, process: StudentProcess, owner: RemoteObject | None, name: str):
        for slot, value in (("_process", process), ("_owner", owner), ("_name", name),
                            ("_value", _UNSET)):
            object.__setattr__(self, slot, value)

    def _target(self) -> int | None:
        return None if self._owner is None else self._owner._handle.id

    def __call__(self, *args, timeout: float | None = None, **kwargs):
        return self._process.call(self._target(), self._name, args, kwargs, timeout)

    def _resolve(self):
        if self._value is _UNSET:
            object.__setattr__(self, "_value", self._process.request(
                {"op": "getattr", "target": self._target(), "name": self._name}))
        return self._value

    def __getattr__(self, name: str):
        if name.startswith("__") or name in RemoteMethod.__slots__:
            raise AttributeError(name)
        return getattr(self._resolve(), name)

    def __getitem__(self, key):
        return self._resolve()[key]

    def __repr__(self) -> str:
        if self._owner is None:
            return f"<student function {self._name}>"
        return f"<student method {self._owner._handle.type_name}.{self._name}>"


class Submission:
    """The grader's whole view of a student's work: ``submission.softmax(x)``,
    ``submission.model.predict(X)``, ``"fit" in submission``, ``submission.seed(0)``."""

    def __init__(self, process: StudentProcess):
        object.__setattr__(self, "_process", process)

    @property
    def source(self) -> str:
        """The code the notebook ran, as text: for static checks (``ast``), never executed.
        Its ``cells`` keep each cell apart (``autograder.cells.NotebookSource``)."""
        return NotebookSource((cell["index"], cell["source"]) for cell in self._process.cells_in)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        if name in self._process.functions:  # looked up when called: one round trip
            return RemoteMethod(self._process, None, name)
        return self._process.request({"op": "getattr", "target": None, "name": name})

    def __contains__(self, name: str) -> bool:
        return bool(self._process.request({"op": "defined", "name": name}))

    def remote(self, value) -> RemoteObject:
        """Place a copy of ``value`` (plain data: arrays, numbers, lists and dicts of them) in
        the student's process and return a proxy of it there. Passed to a call (alone or inside
        a list or dict argument), the student's function gets that live object, so what it
        changes in place stays changed; ``fetch`` reads the value back. The grader's ``value``
        itself is never touched."""
        placed = self._process.request({"op": "place", "value": self._process.encode(value)})
        if type(placed) is not RemoteObject:
            raise self._process._die("answered a placed value with something else than a handle")
        return placed

    def fetch(self, ref: RemoteObject):
        """The current value of an object in the student's process (one from ``remote``, or any
        other proxy) as plain data: a copy, as the student's process reports it. Raises
        StudentError (type ``NotData``) when it holds something else than plain data."""
        if type(ref) is not RemoteObject:
            raise TypeError(f"fetch takes a proxy of the notebook's objects, not "
                            f"{type(ref).__name__}")
        self._process._handle_of(ref)  # of this run of the notebook, or ProtocolError
        return self._process.request({"op": "fetch", "target": ref._handle.id}, data_only=True)

    @contextlib.contextmanager
    def counting(self):
        """``with submission.counting() as counts: submission.f(x)``: every call to the
        notebook made inside is measured, and ``counts`` (a CallCounts) adds them up."""
        if self._process.counting is not None:
            raise RuntimeError("counting() does not nest")
        counts = self._process.counting = CallCounts()
        try:
            yield counts
        finally:
            self._process.counting = None

    def seed(self, seed: int) -> list[str]:
        """Seed random, numpy and TensorFlow (with deterministic ops) in the student's process."""
        return self._process.request({"op": "seed", "seed": int(seed)})

    @property
    def cells(self) -> list[dict]:
        return self._process.cells
