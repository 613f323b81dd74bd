"""What the adversarial corpus needs around each attack: the notebooks it is built from, a
throw-away course folder to hash, and a watch over the processes, cgroups and scratch folders a
grading run leaves behind.

Everything here runs in the test process (trusted); attack code only ever runs in the sandbox.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import sqlite3
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Self

import nbformat

from autograder.client import Timeouts
from autograder.engine import GradingOptions
from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from autograder.sandbox import NOBODY, SandboxLimits

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "assignments" / "01-numpy"
NOTEBOOK = "numpy-basics.ipynb"
CGROUP_ROOTS = [Path("/sys/fs/cgroup/memory"), Path("/sys/fs/cgroup/pids"), Path("/sys/fs/cgroup")]

# Small limits keep the corpus fast; each attack may tighten or loosen them.
OPTIONS = GradingOptions(limits=SandboxLimits(memory_bytes=512 * 2**20),
                         timeouts=Timeouts(notebook=20, call=5), total_seconds=90)
# The grader's own process (pytest with the hidden graders) must stay small whatever the
# student's process sends: a few frames of the wire's maximum size at most.
TRUSTED_PEAK_MB = 700


def source_notebook():
    return nbformat.read(SOURCE / NOTEBOOK, as_version=4)


def released_notebook():
    """The student version as nbgrader generates it: solutions stubbed, hidden tests removed."""
    from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions

    nb, _ = ClearSolutions().preprocess(source_notebook(), {})
    return ClearHiddenTests().preprocess(nb, {})[0]


REFERENCE = solution_cells(source_notebook())  # grade_id -> the genuinely correct code
STUB = {c.metadata["nbgrader"]["grade_id"]: c.source for c in released_notebook().cells
        if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def build_notebook(answers: dict[str, str], inserts: tuple[tuple[str, str], ...] = ()):
    """The released notebook with solution cells answered and new code cells inserted, each
    ``(after, source)`` placed after the cell whose grade id is ``after`` ("" = at the end)."""
    nb = answer_notebook(released_notebook(), answers)
    for after, source in inserts:
        cell = nbformat.v4.new_code_cell(source)
        if not after:
            nb.cells.append(cell)
            continue
        (index,) = [i for i, c in enumerate(nb.cells) if grade_id(c) == after]
        nb.cells.insert(index + 1, cell)
    return nb


# --- a course folder the attacks aim at ---------------------------------------------------------

@dataclass
class Course:
    root: Path
    source: Path  # assignments/01-numpy: notebook with solutions and the hidden graders
    gradebook: Path
    other_submission: Path  # another student's collected notebook

    def digest(self) -> dict[str, str]:
        """sha256 and mode of every file under the course root, by relative path."""
        found = {}
        for path in sorted(self.root.rglob("*")):
            if path.is_file():
                mode = oct(path.stat().st_mode)
                found[str(path.relative_to(self.root))] = (
                    hashlib.sha256(path.read_bytes()).hexdigest() + " " + mode)
        return found


def make_course(root: Path) -> Course:
    """assignments/01-numpy (sources, graders), a gradebook file, another student's work."""
    root.mkdir(parents=True, exist_ok=True)
    source = root / "assignments" / "01-numpy"
    shutil.copytree(SOURCE, source)
    gradebook = root / "gradebook.db"
    with contextlib.closing(sqlite3.connect(gradebook)) as db:
        db.execute("create table grade (student text, cell text, score real)")
        db.executemany("insert into grade values (?, ?, ?)",
                       [("ben", "test_matmul", 3.0), ("ben", "test_pairwise", 4.0)])
        db.commit()
    other = root / "submitted" / "ben" / "01-numpy" / NOTEBOOK
    other.parent.mkdir(parents=True)
    nbformat.write(build_notebook(REFERENCE), other)
    (other.parent / "timestamp.txt").write_text("2026-10-26 17:00:00.000000 UTC")
    return Course(root, source, gradebook, other)


# --- a listener on the host that no sandbox may reach -------------------------------------------

class Listener:
    """A TCP port on the grading host; records every connection that arrives."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections: list[tuple] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self):
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except (TimeoutError, OSError):
                continue
            self.connections.append(peer)
            conn.close()

    def close(self):
        self._stop.set()
        self._thread.join()
        self.sock.close()


# --- what a grading run leaves behind -----------------------------------------------------------

def _stat(pid: str) -> tuple[int, int] | None:
    """(ppid, start time) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[19])


def _uid(pid: str) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("Uid:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def nobody_processes() -> dict[int, int]:
    """pid -> start time of every process running as the sandbox's uid."""
    found = {}
    for pid in os.listdir("/proc"):
        if pid.isdigit() and _uid(pid) == NOBODY:
            stat = _stat(pid)
            if stat:
                found[int(pid)] = stat[1]
    return found


def grading_cgroups() -> set[Path]:
    found = set()
    for root in CGROUP_ROOTS:
        with contextlib.suppress(OSError):
            found.update(root.glob("course-grading-*"))
    return {p for p in found if p.is_dir()}


def _pid_namespace(pid: str) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


def _cgroup_names(pid: str) -> set[str]:
    try:
        text = Path(f"/proc/{pid}/cgroup").read_text()
    except OSError:
        return set()
    return {part for line in text.splitlines() for part in line.split("/")
            if part.startswith("course-grading-")}


@dataclass
class Watch:
    """Samples, while a grading run is under way, the processes descending from this test
    (the engine's pytest, bwrap, the student's tree) and what they hold: pid namespaces,
    cgroups, job folders, and the trusted process's peak memory. ``leftovers()`` then lists
    what of this run is still there: a process of the sandbox's uid in one of its pid
    namespaces (nothing leaves a pid namespace, so a forked daemon is found there too), one of
    its cgroups, one of its job folders, or a process of that uid that escaped every sandbox
    (reparented to the host's init). Other grading runs may be under way on the same machine
    (other test sessions, graders being checked): what is theirs is not counted."""

    interval: float = 0.1
    ours_nobody: dict[int, int] = field(default_factory=dict)
    ours_namespaces: set[str] = field(default_factory=set)
    ours_cgroups: set[str] = field(default_factory=set)
    ours_jobs: set[Path] = field(default_factory=set)
    trusted_peak_mb: int = 0

    def __enter__(self) -> Self:
        self.before_nobody = nobody_processes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _descendants(self) -> dict[str, tuple[int, int]]:
        stats = {pid: _stat(pid) for pid in os.listdir("/proc") if pid.isdigit()}
        stats = {pid: stat for pid, stat in stats.items() if stat}
        mine, grew = {str(os.getpid())}, True
        while grew:
            grew = False
            for pid, (ppid, _start) in stats.items():
                if pid not in mine and str(ppid) in mine:
                    mine.add(pid)
                    grew = True
        mine.discard(str(os.getpid()))
        return {pid: stats[pid] for pid in mine}

    def _sample(self) -> None:
        while True:
            for pid, (_ppid, started) in self._descendants().items():
                self.ours_cgroups.update(_cgroup_names(pid))
                if _uid(pid) == NOBODY:
                    self.ours_nobody[int(pid)] = started
                    namespace = _pid_namespace(pid)
                    if namespace:
                        self.ours_namespaces.add(namespace)
                with contextlib.suppress(OSError):
                    cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    self.ours_jobs.update(Path(arg.decode()) for arg in cmdline
                                          if arg.startswith(b"/tmp/course-job-"))
                    if b"autograder.pytest_plugin" in cmdline:
                        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                            if line.startswith("VmHWM:"):
                                self.trusted_peak_mb = max(self.trusted_peak_mb,
                                                           int(line.split()[1]) // 1024)
            if self._stop.wait(self.interval):
                return

    def leftovers(self, grace: float = 5.0) -> list[str]:
        def found() -> list[str]:
            left = []
            for pid, started in nobody_processes().items():
                stat = _stat(str(pid))
                if self.ours_nobody.get(pid) == started or (
                        _pid_namespace(str(pid)) in self.ours_namespaces):
                    left.append(f"process {pid} (uid {NOBODY}) of this run still running")
                elif stat and stat[0] == 1 and self.before_nobody.get(pid) != started:
                    left.append(f"process {pid} (uid {NOBODY}) outside any sandbox")
            left += [f"cgroup {g} still there" for g in grading_cgroups()
                     if g.name in self.ours_cgroups]
            left += [f"job folder {j} still there" for j in self.ours_jobs if j.exists()]
            return left

        deadline = time.monotonic() + grace
        while found() and time.monotonic() < deadline:
            time.sleep(0.1)
        return found()
