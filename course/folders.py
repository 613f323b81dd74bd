"""Writing a folder of files so that readers see all of it or nothing: it is staged under a hidden
name beside its destination and renamed into place. A crash leaves at most a hidden folder.
Several processes may write the same destination at once (two exchange processes collecting one
course): every staging name is unique, and a replaced folder is renamed aside before it is
removed, so no reader ever sees a folder half-written or half-deleted."""

from __future__ import annotations

import errno
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

__all__ = ["fsync_dir", "swap_in", "write_folder", "write_hidden_folder"]

_SWAP_TRIES = 20  # each lost race means another writer put a complete folder there
# a replaced folder that others may be reading (collected submissions, released assignments) is
# kept this long under a hidden name: a reader that opened it reads it whole, not half-deleted
LINGER_S = 300


def write_folder(dest: Path, files: dict[str, bytes], *, replace: bool = False,
                 durable: bool = False) -> Path:
    """Write ``files`` (relative POSIX names) into the new folder ``dest``; ``replace`` an
    existing one; ``durable``: on disk (fsync) before it becomes visible. Returns ``dest``."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".partial", dir=dest.parent))
    try:
        for name, content in files.items():
            path = staging / name
            if not path.resolve().is_relative_to(staging.resolve()):
                raise ValueError(f"refusing file name {name!r}")
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as handle:
                handle.write(content)
                if durable:
                    handle.flush()
                    os.fsync(handle.fileno())
        staging.chmod(0o755)
        if durable:
            fsync_dir(staging)
        swap_in(staging, dest, replace=replace)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def write_hidden_folder(dest: Path, files: dict[str, bytes]) -> Path:
    """Write ``files`` into ``dest``, a new folder under a hidden name that no reader opens (a
    hand-in's staged folder, renamed into place once flushed: ``exchange.group_commit``), not
    flushed. Its names must have passed ``course.inbox.check_names`` (relative, no ``..``): in
    a folder made here no link can lead out, so, unlike ``write_folder``, nothing is resolved
    and nothing renamed (a third of the CPU of ``write_folder`` per hand-in). Removed whole if
    any file fails."""
    if not dest.name.startswith("."):
        raise ValueError(f"{dest.name!r}: a hidden folder's name starts with '.'")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.mkdir()
    try:
        dest.chmod(0o755)  # whatever the umask: collection and grading read it as others
        for name, content in files.items():
            path = dest / name
            if path.parent != dest:
                path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "xb") as handle:
                handle.write(content)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    return dest


def fsync_dir(folder: Path) -> None:
    """Make a folder's entries (files created, renamed into it) durable."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def swap_in(staged: Path, dest: Path, *, replace: bool = True, aside: Path | None = None,
            linger: bool = False) -> None:
    """Rename the complete folder ``staged`` to ``dest`` (same file system). ``replace``: an
    existing ``dest`` is first renamed aside (a hidden name in ``aside``, default beside it),
    then removed; a writer racing this one may put its own folder there between the two
    renames, and then this one replaces that. Without ``replace``, an existing ``dest`` is a
    ``FileExistsError``. ``linger``: the replaced folder is removed only ``LINGER_S`` later (by
    a later swap into ``dest``), for readers of it that other processes may have."""
    place = aside or dest.parent
    for _ in range(_SWAP_TRIES):
        try:
            staged.rename(dest)
            break
        except OSError as exc:
            if exc.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            if not replace:
                raise FileExistsError(errno.EEXIST, "already there", str(dest)) from None
        old = place / f".{dest.name}.old-{int(time.time())}-{secrets.token_hex(4)}"
        try:
            dest.rename(old)
        except FileNotFoundError:  # another writer moved it aside first
            continue
        if not linger:
            shutil.rmtree(old, ignore_errors=True)
    else:
        raise OSError(errno.EBUSY, f"{dest} is replaced by other writers without end")
    if linger:
        _remove_lingering(place, dest.name, time.time() - LINGER_S)


def _remove_lingering(place: Path, name: str, before: float) -> None:
    for old in place.glob(f".{name}.old-*"):
        stamp = old.name.rpartition(".old-")[2].partition("-")[0]
        if stamp.isdigit() and int(stamp) < before:
            shutil.rmtree(old, ignore_errors=True)
