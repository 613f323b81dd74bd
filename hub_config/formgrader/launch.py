"""Start a course's formgrader as the owner of its course folder: ``python -m
hub_config.formgrader.launch [jupyter server options]`` (the hub's service command).

Started by a hub that runs as root (compose, a local hub as root), it gives up root for the
course folder's owner, with no supplementary groups and no way back (no new privileges), before
Jupyter starts: so it cannot read the hub's environment or secrets, the Docker socket or another
course's folder, and it never needs Jupyter's ``--allow-root``. A course folder that belongs to
root is refused: give each course a user of its own (deploy/README.md). Started as anyone else,
it runs as that user.
"""

from __future__ import annotations

import ctypes
import os
import signal
import sys
from pathlib import Path

PR_SET_NO_NEW_PRIVS = 38


def drop_to_owner(root: Path) -> None:
    owner = root.stat()
    if owner.st_uid == 0:
        raise SystemExit(
            f"formgrader: {root} belongs to root, and a course's formgrader runs as its course "
            f"folder's owner, never as root: give the folder a user of its own (e.g. useradd "
            f"--system course-x; chown -R course-x {root})")
    os.setgroups([])
    os.setgid(owner.st_gid)
    os.setuid(owner.st_uid)  # from root to another user: every capability goes with it
    if ctypes.CDLL(None, use_errno=True).prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise SystemExit(f"formgrader: no_new_privs refused (errno {ctypes.get_errno()})")
    os.environ["HOME"] = str(root / ".formgrader-home")  # Jupyter's runtime files, its own


def main() -> None:
    root = Path(os.environ["COURSE_FILE"]).resolve().parent
    if os.geteuid() == 0:
        drop_to_owner(root)
    # the hub stops its services with SIGINT, and a hub started with SIGINT ignored (a background
    # job of a script) passes that on: Jupyter would then run on until the hub's SIGTERM, 30 s
    # later. Default kept across exec: Jupyter's own handling (stop on ^C) applies again
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    os.execv(sys.executable, [sys.executable, "-m", "jupyterhub.singleuser", *sys.argv[1:]])


if __name__ == "__main__":
    main()
