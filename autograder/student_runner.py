"""The student's side: runs inside the sandbox, executes the notebook, then answers calls.

Started as ``python -m autograder.student_runner CELLS.json IN_FD OUT_FD``. Everything in this
process is under the student's control once their code runs, so nothing here is trusted: the
grader's process decides every score from the plain data this process sends back.
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

from autograder.protocol import (
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
        self.shell = None
        self.displays: list[dict] = []

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
    def to_wire(self, value):
        try:
            return encode(value)
        except NotData:
            handle = self.next_handle
            self.next_handle += 1
            self.handles[handle] = value
            return {"$handle": {"id": handle, "type": type(value).__name__,
                                "callable": callable(value)}}

    def from_wire(self, tree):
        value = decode(tree, Limits())
        return self._resolve(value)

    def _resolve(self, value):
        from autograder.protocol import Handle

        if isinstance(value, Handle):
            return self.handles[value.id]
        if isinstance(value, list):
            return [self._resolve(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self._resolve(v) for v in value)
        if isinstance(value, dict):
            return {k: self._resolve(v) for k, v in value.items()}
        return value

    def target(self, message):
        target = message.get("target")
        return self.handles[int(target)] if target is not None else None

    def handle(self, message: dict):
        op = message.get("op")
        if op == "getattr":
            obj, name = self.target(message), str(message["name"])
            if obj is None:
                if name not in self.shell.user_ns:
                    raise NameError(f"name {name!r} is not defined in the notebook")
                return self.shell.user_ns[name]
            return getattr(obj, name)
        if op == "call":
            args = self.from_wire(message.get("args", []))
            kwargs = self.from_wire(message.get("kwargs", {"$dict": {}}))
            return self.target(message)(*args, **kwargs)
        if op == "getitem":
            return self.target(message)[self.from_wire(message["key"])]
        if op == "defined":
            return str(message["name"]) in self.shell.user_ns
        if op == "release":
            for handle in message.get("ids", []):
                self.handles.pop(int(handle), None)
            return None
        if op == "seed":
            return seed_everything(int(message["seed"]))
        raise ProtocolError(f"unknown op {op!r}")

    def serve(self):
        while True:
            try:
                message = read_frame(self.inp)
            except EOFError:
                return
            reply = {"id": message.get("id")}
            out, err = BoundedText(), BoundedText()
            saved = sys.stdout, sys.stderr
            sys.stdout, sys.stderr = out, err
            try:
                reply["ok"] = self.to_wire(self.handle(message))
            except BaseException as exc:  # noqa: BLE001 - every failure, even SystemExit, as data
                reply["error"] = {"type": type(exc).__name__, "message": str(exc)[:2000],
                                  "traceback": traceback.format_exc(limit=-3)[-4000:]}
            finally:
                sys.stdout, sys.stderr = saved
            reply["stdout"] = out.value()[:4000]
            write_frame(self.out, reply)


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
    for cell in cells:
        result = runner.run_cell(cell["source"])
        write_frame(out, {"cell": cell["index"], **result})
    write_frame(out, {"ready": True})
    runner.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
