"""The grading container's own cgroup, made writable for the sandbox, instead of the node's tree.

Docker and Kubernetes mount ``/sys/fs/cgroup`` read-only in a container. With a cgroup
namespace of its own (compose: ``cgroup: private``; the default on cgroup v2), the root of that
mount is the container's own cgroup, so a fresh cgroup mount made inside (which needs the
``SYS_ADMIN`` the sandbox needs anyway) reaches that subtree and nothing above it: the node's
other containers and its system slices stay out of reach, and the sandbox gets a cgroup per
student process below the container's own limits. The alternative, bind-mounting the node's
``/sys/fs/cgroup`` read-write, hands the whole node's tree to the container.

``delegate()`` does it once per container, only where it is safe: as root, in a cgroup
namespace of its own (every line of ``/proc/self/cgroup`` is at its root), on read-only cgroup
mounts. Anywhere else (a developer's machine, a host cgroup namespace, mounts already writable)
it changes nothing and says why.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

__all__ = ["delegate"]

ROOT = Path("/sys/fs/cgroup")
V1_CONTROLLERS = ("memory", "pids")  # what autograder.sandbox.Cgroup limits
OPTIONS = "rw,nosuid,nodev,noexec"
_outcome: str | None = None


def _read_only(path: Path) -> bool:
    return bool(os.statvfs(path).f_flag & os.ST_RDONLY)


def _own_namespace() -> bool:
    """In a cgroup namespace whose root is this process's cgroup (every hierarchy at "/")."""
    lines = Path("/proc/self/cgroup").read_text().split()
    return bool(lines) and all(line.rsplit(":", 1)[-1] == "/" for line in lines)


def _remount(path: Path, kind: str, options: str) -> None:
    subprocess.run(["umount", str(path)], check=True, capture_output=True, timeout=30)
    subprocess.run(["mount", "-t", kind, "-o", options, kind, str(path)], check=True,
                   capture_output=True, timeout=30)


def _v2_leaf() -> None:
    """cgroup v2 lets no process sit in a group that hands controllers to its children: move
    this container's processes into a leaf of their own, then hand memory and pids down."""
    leaf = ROOT / "worker"
    leaf.mkdir(exist_ok=True)
    for pid in (ROOT / "cgroup.procs").read_text().split():
        try:
            (leaf / "cgroup.procs").write_text(pid)
        except OSError:  # gone, or a kernel thread
            pass
    (ROOT / "cgroup.subtree_control").write_text("+memory +pids")


def delegate() -> str:
    """Make the container's own cgroup subtree writable (once); returns what was done."""
    global _outcome
    if _outcome is not None:
        return _outcome
    try:
        if os.geteuid() != 0:
            _outcome = "not root: no cgroup to delegate"
        elif not ROOT.is_dir() or not _own_namespace():
            _outcome = "not in a cgroup namespace of its own: left as it is"
        elif (ROOT / "cgroup.controllers").is_file():  # v2, one hierarchy
            if _read_only(ROOT):
                _remount(ROOT, "cgroup2", OPTIONS)
                _v2_leaf()
                _outcome = "cgroup v2: the container's own subtree, remounted writable"
            else:
                _outcome = "cgroup v2: already writable"
        else:
            done = []
            for controller in V1_CONTROLLERS:
                path = ROOT / controller
                if path.is_dir() and _read_only(path):
                    _remount(path, "cgroup", f"{OPTIONS},{controller}")
                    done.append(controller)
            _outcome = (f"cgroup v1 {', '.join(done)}: the container's own subtree, remounted "
                        "writable" if done else "cgroup v1: already writable")
    except (OSError, subprocess.SubprocessError) as error:
        _outcome = f"could not delegate the container's cgroup: {error}"
    return _outcome
