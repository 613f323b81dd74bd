"""Writing a folder of files so that readers see all of it or nothing: it is staged under a hidden
name beside its destination and renamed into place. A crash leaves at most a hidden folder."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

__all__ = ["write_folder"]


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
        if replace and dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest
