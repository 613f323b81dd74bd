"""Starting the student's process inside layers of isolation, and saying which layers are active.

Layers, outermost first: a cgroup (memory and process count; cgroup v1 or v2 when writable), a
non-root uid, rlimits (processes, file size, CPU time, open files, no core dumps), and
bubblewrap (no network, own pid/ipc/uts namespaces, read-only system, only the Python runtime
and the assignment's data mounted, a size-capped private home on tmpfs, scrubbed environment).
Where bubblewrap cannot run, ``unshare`` gives the network and pid namespaces. Either way the
student's processes die with the process that launched them (``die_with_parent``). Where neither
runs (e.g. a container started without the flags in deploy/compose/compose.yml), grading refuses
(``IsolationUnavailable``, with the reason) unless the course says ``isolation: none``: then only
the outer layers remain, and ``course doctor`` says so.
"""

from __future__ import annotations

import ctypes
import errno
import os
import resource
import shutil
import signal
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import autograder

from .cgroup_delegation import delegate
from .settings import DEFAULTS, cpu_limit

__all__ = ["NOBODY", "Cgroup", "IsolationUnavailable", "Launch", "SandboxLimits", "choose_isolation",
           "die_with_parent", "in_container", "isolation_report", "launch", "require_isolation"]

NOBODY = 65534
RUNTIME_MOUNT = "/opt/grader-runtime"  # our runner package, read-only
DATA_MOUNT = "/opt/assignment-data"  # the assignment's data files, read-only
JOB_MOUNT = "/opt/job"  # the cells to execute, read-only
HOME = "/home/student"
SYSTEM_PATHS = ["/usr", "/bin", "/lib", "/lib64", "/sbin", "/etc/ld.so.cache", "/etc/ld.so.conf",
                "/etc/ld.so.conf.d", "/etc/localtime", "/etc/passwd", "/etc/group",
                "/etc/nsswitch.conf", "/etc/alternatives", "/etc/fonts"]
PR_SET_PDEATHSIG = 1  # prctl(2): the signal this process gets when its parent dies
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
GPU_DEVICES = ["/dev/nvidiactl", "/dev/nvidia-uvm", "/dev/nvidia-uvm-tools", "/dev/nvidia-modeset"]


@dataclass(frozen=True)
class SandboxLimits:
    memory_bytes: int = DEFAULTS.memory_mb * 2**20
    processes: int = 256  # threads count too: leave room for BLAS and TensorFlow pools
    file_bytes: int = 64 * 1024**2
    home_bytes: int = 256 * 1024**2
    cpu_seconds: int = cpu_limit(DEFAULTS.notebook_timeout)  # settings.cpu_limit
    open_files: int = 512
    # the GPUs the student's CUDA sees (CUDA_VISIBLE_DEVICES: UUIDs, robust to CUDA's order)
    # and their device nodes, kept apart: CUDA's index N need not be /dev/nvidiaN
    gpu_devices: tuple[str, ...] = ()  # e.g. ("GPU-8f3c...",)
    gpu_nodes: tuple[str, ...] = ()  # minors: ("3",) binds /dev/nvidia3
    isolation: str = DEFAULTS.isolation  # auto | bwrap | unshare | none
    # numpy's BLAS threads (OpenBLAS): a grading job is one core's work beside the others a
    # worker runs, and an idle OpenBLAS thread spins on a core before it sleeps
    blas_threads: int = 1


def _root() -> bool:
    return os.geteuid() == 0


class IsolationUnavailable(RuntimeError):
    """The isolation the course asks for does not run here: grading refuses rather than run
    student code without it. The message says why and what to do."""


_failures: dict[str, str] = {}  # layer -> why its probe failed, for IsolationUnavailable


def _works(command: list[str], layer: str) -> bool:
    try:
        done = subprocess.run(command, capture_output=True, timeout=20, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        _failures[layer] = str(exc)
        return False
    if done.returncode != 0:
        _failures[layer] = (done.stderr.decode(errors="replace").strip().splitlines()
                            or [f"exit status {done.returncode}"])[-1]
    return done.returncode == 0


def _namespaces() -> list[str]:
    # As root, bwrap mounts with real privileges and the uid is dropped inside (see _drop);
    # a user namespace would map the sandbox's uid back to root outside.
    if _root():
        return ["--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
                "--unshare-cgroup-try"]
    return ["--unshare-all"]


def _drop() -> list[str]:
    """Inside the sandbox, as root: become nobody with no capabilities and no way back."""
    if not _root():
        return []
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
            "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs"]


def _bwrap_works() -> bool:
    if not shutil.which("bwrap") or (_root() and not shutil.which("setpriv")):
        _failures["bwrap"] = "bwrap (Debian: bubblewrap) or setpriv is not installed"
        return False
    probe = ["bwrap", *_namespaces(), "--die-with-parent", "--ro-bind", "/usr", "/usr",
             "--symlink", "usr/bin", "/bin", "--symlink", "usr/lib", "/lib",
             "--symlink", "usr/lib64", "/lib64", "--proc", "/proc", "--dev", "/dev",
             *_drop(), "/usr/bin/true"]
    return _works(probe, "bwrap")


def _unshare_works() -> bool:
    if not (_root() and shutil.which("unshare")):
        _failures["unshare"] = "needs root and unshare (util-linux)"
        return False
    return _works(["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
                   "/usr/bin/true"], "unshare")


_chosen: dict[str, str] = {}


def choose_isolation(wanted: str = "auto") -> str:
    """What runs here for ``wanted`` (cached): ``auto`` is the strongest of bwrap and unshare;
    a named mode is itself. ``"none"`` when it does not run: see ``require_isolation``."""
    if wanted not in _chosen:
        if wanted in ("auto", "bwrap") and _bwrap_works():
            _chosen[wanted] = "bwrap"
        elif wanted in ("auto", "unshare") and _unshare_works():
            _chosen[wanted] = "unshare"
        else:
            _chosen[wanted] = "none"
    return _chosen[wanted]


# what a container runtime leaves behind: Docker's and Podman's marker files, and the words
# the control groups of PID 1 carry under Docker, containerd, Kubernetes, Podman or LXC
CONTAINER_FILES = (".dockerenv", "run/.containerenv")
CONTAINER_CGROUP_WORDS = ("docker", "containerd", "kubepods", "libpod", "lxc")


def in_container(root: Path = Path("/")) -> bool:
    """Whether this process runs in a container (``root``: the file system to look at, for
    tests): a runtime's marker file, or PID 1's control groups named after a runtime."""
    if any((root / name).exists() for name in CONTAINER_FILES):
        return True
    try:
        groups = (root / "proc/1/cgroup").read_text(errors="replace")
    except OSError:
        return False
    return any(word in groups for word in CONTAINER_CGROUP_WORDS)


def require_isolation(wanted: str = "auto", *, container: bool | None = None) -> str:
    """The isolation student code will run behind; IsolationUnavailable when ``wanted`` is not
    ``none`` and nothing of it runs here. Never falls back to running without isolation.

    The message says what to do where this runs (``container``: default ``in_container()``): in
    a container (the hub's holds the Docker socket) grade on the fleet, whose workers have the
    sandbox's privileges; turning the sandbox off is offered only outside one."""
    chosen = choose_isolation(wanted)
    if chosen == "none" and wanted != "none":
        tried = ["bwrap", "unshare"] if wanted == "auto" else [wanted]
        why = "; ".join(f"{layer}: {_failures.get(layer, 'does not run')}" for layer in tried)
        if in_container() if container is None else container:
            raise IsolationUnavailable(
                f"grading refused: isolation '{wanted}' does not run in this container ({why}). "
                "Grade on the grading fleet, whose workers run the sandbox: set `grading: "
                "{backend: celery}` in course.yml and start workers with `course worker` "
                "(deploy/README.md); a grading worker's own container needs --cap-add SYS_ADMIN "
                "--cap-add NET_ADMIN --security-opt seccomp=unconfined (deploy/compose/"
                "compose.yml); check with `course doctor`")
        raise IsolationUnavailable(
            f"grading refused: isolation '{wanted}' does not run on this machine ({why}). "
            "Run the grading worker as deploy/README.md says (in a container: --cap-add "
            "SYS_ADMIN --cap-add NET_ADMIN --security-opt seccomp=unconfined), check with "
            "`course doctor`, or set `grading: {isolation: none}` in course.yml to grade "
            "without isolation on purpose")
    return chosen


class Cgroup:
    """A cgroup for one student process tree: memory cap, process cap, and a clean kill."""

    V1 = Path("/sys/fs/cgroup")
    V2 = Path("/sys/fs/cgroup/unified")

    def __init__(self, limits: SandboxLimits):
        self.dirs: list[Path] = []
        name = f"course-grading-{uuid.uuid4().hex[:12]}"
        if not _root():
            return
        delegate()  # in a grading container: its own subtree, never the node's tree
        try:
            if (self.V1 / "memory").is_dir() and (self.V1 / "pids").is_dir():
                self._make(self.V1 / "memory" / name, "memory.limit_in_bytes", limits.memory_bytes)
                self._make(self.V1 / "pids" / name, "pids.max", limits.processes)
            elif (Path("/sys/fs/cgroup") / "cgroup.controllers").is_file():
                group = Path("/sys/fs/cgroup") / name
                self._make(group, "memory.max", limits.memory_bytes)
                (group / "pids.max").write_text(str(limits.processes))
                (group / "memory.swap.max").write_text("0")
        except OSError:
            self.remove()
            self.dirs = []

    def _make(self, path: Path, limit_file: str, value: int) -> None:
        path.mkdir()
        self.dirs.append(path)
        (path / limit_file).write_text(str(value))

    @property
    def active(self) -> bool:
        return bool(self.dirs)

    def join(self) -> None:
        """Called in the child before exec: move this process into the group."""
        for path in self.dirs:
            with open(path / "cgroup.procs", "w") as handle:
                handle.write(str(os.getpid()))

    def pids(self) -> list[int]:
        found = set()
        for path in self.dirs:
            try:
                found.update(int(p) for p in (path / "cgroup.procs").read_text().split())
            except OSError:
                pass
        return sorted(found)

    def oom_killed(self) -> bool:
        for path in self.dirs:
            for name in ("memory.oom_control", "memory.events"):
                try:
                    text = (path / name).read_text()
                except OSError:
                    continue
                for line in text.splitlines():
                    key, _, value = line.partition(" ")
                    if key == "oom_kill" and value.strip() not in ("", "0"):
                        return True
        return False

    def kill_all(self, seconds: float = 10.0) -> None:
        # by the clock, not a number of rounds: 256 processes of a fork bomb on a loaded
        # machine take longer than a second to die and be reaped
        import time

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, 9)
                except ProcessLookupError:
                    pass
            time.sleep(0.02)

    def remove(self, seconds: float = 10.0) -> None:
        import time

        deadline = time.monotonic() + seconds
        for path in reversed(self.dirs):
            while True:
                try:
                    path.rmdir()
                    break
                except OSError as exc:  # busy: the last processes are still being reaped
                    if exc.errno != errno.EBUSY or time.monotonic() > deadline:
                        break
                    self.kill_all(0.1)


@dataclass
class Launch:
    """What ``launch`` started; the caller owns the process and must call ``cleanup``."""

    process: subprocess.Popen
    cgroup: Cgroup
    isolation: str
    home: Path | None = None
    cleanup_paths: list[Path] = field(default_factory=list)

    def cleanup(self) -> None:
        try:
            os.killpg(self.process.pid, 9)
        except (ProcessLookupError, PermissionError):
            pass
        self.cgroup.kill_all()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        self.cgroup.remove()
        for path in self.cleanup_paths:
            shutil.rmtree(path, ignore_errors=True)


def _environment(limits: SandboxLimits) -> dict[str, str]:
    env = {"HOME": HOME, "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8",
           "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": RUNTIME_MOUNT,
           "TF_CPP_MIN_LOG_LEVEL": "2", "TF_FORCE_GPU_ALLOW_GROWTH": "true",
           "CUDA_VISIBLE_DEVICES": ",".join(limits.gpu_devices),
           "CUDA_DEVICE_ORDER": "PCI_BUS_ID",  # an index, if one is given, in the nodes' order
           "OPENBLAS_NUM_THREADS": str(limits.blas_threads),
           "MKL_NUM_THREADS": str(limits.blas_threads)}
    return env


def die_with_parent(parent: int) -> None:
    """In a child (before exec, or just forked): SIGKILL this process when ``parent``, the pid
    of the process that started it, dies (killed, a worker lost), and at once if it already
    has. The setting survives the exec of ``unshare`` (not set-uid); a change of uid clears
    it, so it is set after any. Linux ties it to the thread that forked: ``launch`` runs in the
    thread that keeps the sandbox (pytest's main thread)."""
    if _LIBC is not None and _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os.write(2, b"sandbox: prctl(PR_SET_PDEATHSIG) failed\n")
        os.kill(os.getpid(), signal.SIGKILL)
    if os.getppid() != parent:  # the launcher died before the line above: nobody would kill it
        os.kill(os.getpid(), signal.SIGKILL)


def _unshare_command(command: list[str]) -> list[str]:
    """``unshare`` with its own network and pid namespaces around ``command``. The namespace's
    pid 1 is a second, trusted ``unshare`` (root, unreachable from the student's uid), not the
    student's process: when pid 1 dies the kernel kills everything in the namespace, so the
    chain holds whatever the student's code does (a student's process could clear its own
    parent-death signal, or leave the process group with ``setsid``). The chain: the launcher
    dies -> the outer ``unshare`` gets SIGKILL (``die_with_parent``) -> pid 1 gets SIGKILL (the
    outer one's ``--kill-child``) -> the namespace and every process in it."""
    return ["unshare", "--net", "--pid", "--fork", "--kill-child", "--mount-proc",
            "unshare", "--fork", "--kill-child", *_drop(), *command]


def _bwrap_command(python: str, job_dir: Path, data_dir: Path | None,
                   limits: SandboxLimits) -> list[str]:
    command = ["bwrap", *_namespaces(), "--die-with-parent", "--new-session",
               "--hostname", "jupyter", "--proc", "/proc", "--dev", "/dev",
               # tmpfs mounts are root's; the private namespace makes world-writable safe here
               "--perms", "1777", "--size", str(64 * 1024**2), "--tmpfs", "/tmp",
               "--perms", "1777", "--size", str(64 * 1024**2), "--tmpfs", "/dev/shm",
               "--perms", "0777", "--size", str(limits.home_bytes), "--tmpfs", HOME,
               "--clearenv", "--chdir", HOME]
    for path in SYSTEM_PATHS:
        command += ["--ro-bind-try", path, path]
    binds = [(prefix, prefix) for prefix in sorted({sys.base_prefix, sys.prefix})]
    binds += [(str(Path(autograder.__file__).parent), f"{RUNTIME_MOUNT}/autograder"),
              (str(job_dir), JOB_MOUNT)]
    if data_dir is not None:
        binds.append((str(data_dir), DATA_MOUNT))
    made: set[str] = set()
    for source, target in binds:
        # bwrap would create missing parents private to root, out of the student's reach
        for parent in reversed(Path(target).parents[:-1]):
            if str(parent) not in made:
                made.add(str(parent))
                command += ["--perms", "0755", "--dir", str(parent)]
        command += ["--ro-bind", source, target]
    if limits.gpu_devices or limits.gpu_nodes:
        # no minors given (the local backend): its CUDA indices, in PCI order, are the minors
        nodes = limits.gpu_nodes or tuple(d for d in limits.gpu_devices if d.isdigit())
        if not all(n.isdigit() for n in nodes):  # each names a path
            raise ValueError(f"GPU device minors are numbers: {nodes}")
        for device in GPU_DEVICES + [f"/dev/nvidia{n}" for n in nodes]:
            command += ["--dev-bind-try", device, device]
    for key, value in _environment(limits).items():
        command += ["--setenv", key, value]
    return command + _drop() + [python]


def launch(job_dir: Path, data_dir: Path | None, limits: SandboxLimits, in_fd: int,
           out_fd: int) -> Launch:
    """Start ``autograder.student_runner`` on ``job_dir/cells.json`` behind every layer that
    runs here. ``in_fd``/``out_fd`` are the child's ends of the two protocol pipes."""
    isolation = require_isolation(limits.isolation)
    cgroup = Cgroup(limits)
    python = sys.executable
    runner = ["-s", "-m", "autograder.student_runner"]  # -s: no user site-packages
    cleanup = []
    home = None
    if isolation == "bwrap":
        command = _bwrap_command(python, job_dir, data_dir, limits) + runner
        command += [f"{JOB_MOUNT}/cells.json", str(in_fd), str(out_fd),
                    DATA_MOUNT if data_dir is not None else ""]
        env = None
    else:
        # No mount namespace of our own: a private home folder on disk, data copied in.
        home = Path(job_dir).with_name(Path(job_dir).name + "-home")
        home.mkdir(mode=0o700)
        if data_dir is not None:
            shutil.copytree(data_dir, home / "data")
        if _root():
            os.chown(home, NOBODY, NOBODY)
        cleanup.append(home)
        env = {**_environment(limits), "HOME": str(home),
               "PYTHONPATH": str(Path(autograder.__file__).parent.parent)}
        command = [python, *runner, str(Path(job_dir) / "cells.json"), str(in_fd), str(out_fd),
                   ""]
        if isolation == "unshare":
            command = _unshare_command(command)
    parent = os.getpid()

    def in_child() -> None:
        os.setsid()
        if cgroup.active:
            cgroup.join()
        for which, value in ((resource.RLIMIT_FSIZE, limits.file_bytes),
                             (resource.RLIMIT_CPU, limits.cpu_seconds),
                             (resource.RLIMIT_NOFILE, limits.open_files),
                             (resource.RLIMIT_CORE, 0)):
            resource.setrlimit(which, (value, value))
        if not cgroup.active:  # no cgroup: address-space and process caps as the fallback
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
            # RLIMIT_NPROC counts every process of the uid, so all sandboxes running as nobody
            # share it: one student's fork bomb would starve the others. The cgroup's pids cap
            # is per sandbox, so with a cgroup this limit is left alone.
            resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        if _root() and isolation == "none":  # bwrap and unshare drop root themselves
            os.setgroups([])
            os.setgid(NOBODY)
            os.setuid(NOBODY)
        die_with_parent(parent)  # after the uid change, which would clear it

    process = subprocess.Popen(
        command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        # preexec_fn: rlimits, cgroup and uid must be set between fork and exec
        pass_fds=(in_fd, out_fd), preexec_fn=in_child, env=env,  # noqa: PLW1509
        cwd=str(home) if home else "/",
    )
    return Launch(process, cgroup, isolation, home, cleanup)


def isolation_report(limits: SandboxLimits = SandboxLimits()) -> list[tuple[str, bool, str]]:
    """(layer, active, detail) for each layer, as ``course doctor`` prints them."""
    isolation = choose_isolation(limits.isolation)
    cgroup = Cgroup(limits)
    cgroup_ok = cgroup.active
    cgroup.remove()
    bwrap = isolation == "bwrap"
    namespaced = isolation in ("bwrap", "unshare")
    return [
        ("bubblewrap", bwrap, (shutil.which("bwrap") or "not installed (apt-get install bubblewrap)")
         + ("" if bwrap or "bwrap" not in _failures else f": {_failures['bwrap']}")),
        ("no network", namespaced, "network namespace" if namespaced else "NOT isolated"),
        ("own pid namespace", namespaced, isolation),
        ("read-only system, graders not mounted", bwrap,
         "only the runtime and data are mounted" if bwrap else "whole filesystem visible"),
        ("private home (tmpfs, size-capped)", bwrap, f"{limits.home_bytes // 2**20} MiB"),
        ("non-root uid", _root(), f"uid {NOBODY}" if _root() else "runs as the grader's own uid"),
        ("scrubbed environment", True, "only HOME, PATH, LANG and runtime settings"),
        ("memory cap", True, f"{limits.memory_bytes // 2**20} MiB via "
         + ("cgroup" if cgroup_ok else "RLIMIT_AS")),
        ("process cap", True, f"{limits.processes} via "
         + ("cgroup pids" if cgroup_ok else "RLIMIT_NPROC (shared by all sandboxes)")),
        ("file size / CPU time rlimits", True,
         f"{limits.file_bytes // 2**20} MiB per file, {limits.cpu_seconds} s CPU"),
        ("wall-clock kill", True, "SIGKILL from the grader's process"),
    ]
