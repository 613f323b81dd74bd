"""The course file as it is now, for services that decide roles on every request.

``course_file_stamp`` says whether the file changed since it was last parsed (any edit, even
one of the same size within one tick of the file system's clock); ``FreshCourse`` parses it
again only then. The exchange, the dashboard and the formgrader's gate check roles this way.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Callable
from pathlib import Path

from .coursefile import Course, load_course
from .errors import UserError

__all__ = ["TRUST_STAT_S", "FreshCourse", "course_file_stamp"]


SETTLED_S = 2.0  # a file last changed longer ago than this (clock ticks, NFS skew) is settled
# how long an unchanged stat is trusted before the bytes are read again: NFS may answer stat
# from its attribute cache for up to a minute, while open revalidates (close-to-open)
TRUST_STAT_S = 1.0
# path -> (stamp, its stat if it was settled, when it was hashed)
_hashed: dict[str, tuple[tuple, tuple | None, float]] = {}


def course_file_stamp(path: Path | str, *, now: Callable[[], float] = time.time) -> tuple:
    """What the course file is now: its device, inode, size, modification time and the SHA-256
    of its bytes, all of one open file. Equal stamps mean the same roster; any edit changes the
    stamp, even one in place, of the same size, within one tick of the file system's clock
    (where the modification time alone stays the same). Reading a course file is cheap next to
    parsing it: callers parse again only when the stamp changed.

    The file is read and hashed again unless it had been settled (unchanged for ``SETTLED_S``)
    when it was last hashed, less than ``TRUST_STAT_S`` ago, and its ``stat`` is the same now:
    an edit after that hashing gets a later tick, so its stat differs; a stat that a network
    file system served stale is trusted for that second at most. Services ask on every request;
    a settled roster of a thousand students then costs a ``stat``, and a read and a hash of its
    80 kB once a second."""
    key = os.fspath(path)
    hashed_at = now()  # before the read: whatever the read sees was written by then
    stamp, settled_stat, last_hashed = _hashed.get(key, (None, None, 0.0))
    if (settled_stat is not None and 0 <= hashed_at - last_hashed < TRUST_STAT_S
            and _stat(os.stat(key)) == settled_stat):
        return stamp
    with open(key, "rb") as file:
        info = os.fstat(file.fileno())
        digest = hashlib.sha256(file.read()).digest()
    stamp = (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, digest)
    changed = max(info.st_mtime_ns, info.st_ctime_ns) / 1e9  # ctime: a touch back in time too
    _hashed[key] = (stamp, _stat(info) if hashed_at - changed > SETTLED_S else None, hashed_at)
    return stamp


def _stat(info: os.stat_result) -> tuple:
    """The fields any change of the file changes."""
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)


class FreshCourse:
    """``course()``: the course file parsed as it is now, or None while it does not load (an
    edit half done; ``broken`` says why), so that a role check fails closed."""

    def __init__(self, course_file: Path | str):
        self.path = Path(course_file)
        self._stamp: tuple | None = None
        self._course: Course | None = None
        self.broken: str | None = None

    def course(self) -> Course | None:
        stamp = course_file_stamp(self.path)  # taken before parsing: a later edit misses
        if stamp != self._stamp:
            try:
                self._course, self.broken = load_course(self.path)[0], None
            except UserError as error:
                self._course, self.broken = None, str(error)
            self._stamp = stamp
        return self._course
