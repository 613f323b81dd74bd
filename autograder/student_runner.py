"""The student's side: runs inside the sandbox, executes the notebook, then answers calls.

Started as ``python -m autograder.student_runner CELLS.json IN_FD OUT_FD``. Everything in this
process is under the student's control once their code runs, so nothing here is trusted: the
grader's process decides every score from the plain data this process sends back. The messages it
answers are described in ``autograder.client``.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import shutil
import sys
import traceback
import types

from autograder.measure import Counter, thread_idents
from autograder.protocol import (
    Handle,
    Limits,
    NotData,
    ProtocolError,
    decode,
    encode,
    read_frame,
    write_frame,
)

CELL_OUTPUT_CHARS = 20_000  # per cell and stream; the rest is counted, not kept
MAX_DISPLAY_OUTPUTS = 20
MAX_NAMES = 1_000  # method names per handle, function names in the ready frame
_ROUTINES = (types.FunctionType, types.BuiltinFunctionType, types.MethodDescriptorType,
             types.ClassMethodDescriptorType, staticmethod, classmethod)


class BoundedText(io.TextIOBase):
    """A text stream keeping the first ``limit`` characters and counting the rest."""

    def __init__(self, limit: int = CELL_OUTPUT_CHARS):
        self.limit, self.parts, self.kept, self.dropped = limit, [], 0, 0

    def writable(self):
        return True

    def write(self, text):
        text = str(text)
        room = self.limit - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def value(self) -> str:
        tail = f"\n... [{self.dropped} more characters not shown]" if self.dropped else ""
        return "".join(self.parts) + tail


class Runner:
    def __init__(self, in_stream, out_stream):
        self.inp, self.out = in_stream, out_stream
        self.handles: dict[int, object] = {}
        self.next_handle = 1
        self.class_methods: dict[type, frozenset[str]] = {}
        self.shell = None
        self.displays: list[dict] = []
        self.allowed_threads: frozenset[int] = frozenset()  # the runner's own, not the notebook's
        self.counts: dict | None = None  # of the last measured call

    # --- executing the notebook -------------------------------------------------------------
    def start_shell(self):
        from IPython.core.displaypub import DisplayPublisher
        from IPython.core.interactiveshell import InteractiveShell

        runner = self

        class CappedDisplay(DisplayPublisher):
            def publish(self, data, metadata=None, source=None, **_kwargs):
                if len(runner.displays) < MAX_DISPLAY_OUTPUTS:
                    kept = {k: v for k, v in data.items() if k in ("text/plain", "image/png")}
                    runner.displays.append({k: str(v)[:200_000] for k, v in kept.items()})

        self.shell = InteractiveShell.instance(display_pub_class=CappedDisplay)
        self.shell.display_pub = CappedDisplay(shell=self.shell)

    def run_cell(self, source: str) -> dict:
        out, err = BoundedText(), BoundedText()
        self.displays = []
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        error = None
        try:
            result = self.shell.run_cell(source, store_history=True, silent=False)
            failure = result.error_before_exec or result.error_in_exec
            if failure is not None:
                error = {"ename": type(failure).__name__, "evalue": str(failure)[:2000]}
        except BaseException as exc:  # noqa: BLE001 - SystemExit etc. raised past IPython
            error = {"ename": type(exc).__name__, "evalue": str(exc)[:2000]}
        finally:
            sys.stdout, sys.stderr = saved
        return {"stdout": out.value(), "stderr": err.value(), "displays": self.displays,
                "error": error}

    # --- serving calls ----------------------------------------------------------------------
    def functions(self) -> list[str]:
        """The notebook's public functions and classes: the grader calls these by name."""
        names = []
        for name, value in list(self.shell.user_ns.items()):
            with contextlib.suppress(Exception):  # an object whose __class__ raises: not listed
                if not name.startswith("_") and len(name) <= 200 and isinstance(
                        value, (types.FunctionType, types.BuiltinFunctionType, type)):
                    names.append(name)
        return sorted(names)[:MAX_NAMES]

    def methods(self, value) -> frozenset[str]:
        """Public methods of the value's class that the instance does not hide."""
        try:
            cls = type(value)
            names = self.class_methods.get(cls)
            if names is None:
                defined = {}
                for klass in reversed(cls.__mro__):  # the most derived definition wins
                    for name, attr in vars(klass).items():
                        defined[name] = isinstance(attr, _ROUTINES)
                names = frozenset(sorted(name for name, routine in defined.items() if routine
                                         and not name.startswith("_") and len(name) <= 200)
                                  [:MAX_NAMES])
                self.class_methods[cls] = names
            own = getattr(value, "__dict__", None)
            return names.difference(own) if type(own) is dict else names
        except Exception:  # noqa: BLE001 - a class that breaks these reads: attributes one by one
            return frozenset()

    def to_wire(self, value):
        """The answer, with each object that is not data kept here as a handle."""
        if type(value) is _AsData:  # ``fetch``: the object's value, plain data or nothing
            try:
                return encode(value.value, Limits())
            except NotData as exc:
                raise NotData(f"the object holds {exc}, which is not plain data") from None
        created: list[int] = []
        known: dict[int, Handle] = {}  # id(object): the same object, the same handle

        def keep(obj) -> Handle:
            if id(obj) not in known:
                ident, self.next_handle = self.next_handle, self.next_handle + 1
                self.handles[ident] = obj
                created.append(ident)
                known[id(obj)] = Handle(ident, str(type(obj).__name__)[:200], callable(obj),
                                        self.methods(obj))
            return known[id(obj)]

        try:
            if type(value) is _Placed:  # ``place``: a handle even though the value is data
                found = keep(value.value)
                methods = sorted(found.methods)
                return {"$handle": {"id": found.id, "type": found.type_name,
                                    "callable": found.callable,
                                    **({"methods": methods} if methods else {})}}
            return encode(value, Limits(), handle=keep)
        except BaseException:
            for ident in created:  # the answer is an error: nothing of it stays
                self.handles.pop(ident, None)
            raise

    def object(self, ident):
        if type(ident) is not int or ident not in self.handles:
            raise ProtocolError(f"no object {str(ident)[:40]} here: released, or never sent")
        return self.handles[ident]

    def from_wire(self, tree):
        return decode(tree, Limits(), handle=lambda found: self.object(found.id))

    def lookup(self, target, name):
        """``name`` of the object ``target``, of the notebook's namespace when it is None; the
        object itself when ``name`` is None."""
        if target is None:
            name = str(name)
            if name not in self.shell.user_ns:
                raise NameError(f"name {name!r} is not defined in the notebook")
            return self.shell.user_ns[name]
        obj = self.object(target)
        return obj if name is None else getattr(obj, str(name))

    def release(self, idents) -> None:
        if type(idents) is list:
            for ident in idents:
                if type(ident) is int:
                    self.handles.pop(ident, None)

    def handle(self, message: dict):
        self.release(message.get("release"))
        op = message.get("op")
        if op == "call":
            arguments = self.from_wire(message.get("args"))
            if type(arguments) is not list or len(arguments) != 2 \
                    or type(arguments[0]) is not list or type(arguments[1]) is not dict:
                raise ProtocolError("a call's arguments are [positional, keywords]")
            function = self.lookup(message.get("target"), message.get("name"))
            if message.get("measure") is True:
                counter = Counter(self.allowed_threads)
                try:
                    return counter.run(function, arguments[0], arguments[1])
                finally:
                    self.counts = counter.result()
            return function(*arguments[0], **arguments[1])
        if op == "getattr":
            return self.lookup(message.get("target"), message.get("name"))
        if op == "getitem":
            return self.object(message.get("target"))[self.from_wire(message.get("key"))]
        if op == "place":
            return _Placed(self.from_wire(message.get("value")))
        if op == "fetch":
            return _AsData(self.object(message.get("target")))
        if op == "defined":
            return str(message["name"]) in self.shell.user_ns
        if op == "seed":
            return seed_everything(int(message["seed"]))
        raise ProtocolError(f"unknown op {str(op)[:40]!r}")

    def serve(self):
        while True:
            try:
                message = read_frame(self.inp)
            except EOFError:
                return
            reply = {"id": message.get("id")}
            self.counts = None
            saved = sys.stdout, sys.stderr  # what a call prints is kept bounded, not sent
            sys.stdout, sys.stderr = BoundedText(), BoundedText()
            try:
                reply["ok"] = self.to_wire(self.handle(message))
            except BaseException as exc:  # noqa: BLE001 - every failure, even SystemExit, as data
                reply["error"] = {"type": type(exc).__name__, "message": str(exc)[:2000],
                                  "traceback": traceback.format_exc(limit=-3)[-4000:]}
            finally:
                sys.stdout, sys.stderr = saved
            if self.counts is not None:
                reply["counts"] = self.counts
            write_frame(self.out, reply)


class _Placed:
    """A value the grader placed here (``submission.remote``): kept, answered with a handle."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value


class _AsData(_Placed):
    """An object the grader reads back (``submission.fetch``): answered as plain data only."""

    __slots__ = ()


def seed_everything(seed: int) -> list[str]:
    """Seed every generator the notebook may use; returns what was seeded."""
    seeded = ["random"]
    random.seed(seed)
    if "numpy" in sys.modules:
        sys.modules["numpy"].random.seed(seed % 2**32)
        seeded.append("numpy")
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        tf.keras.utils.set_random_seed(seed)
        with contextlib.suppress(AttributeError, RuntimeError):  # older TF: seeding alone
            tf.config.experimental.enable_op_determinism()
        seeded.append("tensorflow")
    return seeded


def main(argv: list[str]) -> int:
    cells_path, in_fd, out_fd, data_dir = argv[1], int(argv[2]), int(argv[3]), argv[4]
    with open(cells_path, encoding="utf-8") as handle:
        cells = json.load(handle)
    if data_dir and os.path.isdir(data_dir):  # the assignment's data, beside the notebook
        # as data/ beside the notebook, as students have it; copy mode bits only: the home
        # folder itself belongs to root and its metadata cannot be changed from in here
        shutil.copytree(data_dir, os.path.join(os.getcwd(), "data"), copy_function=shutil.copy)
    inp, out = os.fdopen(in_fd, "rb", buffering=0), os.fdopen(out_fd, "wb")
    sys.argv = ["ipykernel_launcher.py", "-f", "kernel.json"]  # as in a Jupyter kernel
    runner = Runner(inp, out)
    runner.start_shell()
    runner.allowed_threads = thread_idents()  # IPython's, before any cell
    for cell in cells:
        result = runner.run_cell(cell["source"])
        write_frame(out, {"cell": cell["index"], **result})
    write_frame(out, {"ready": True, "functions": runner.functions()})
    runner.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
