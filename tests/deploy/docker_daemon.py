"""A Docker daemon for the deploy tests: the one at $DOCKER_HOST if it answers, else our own.

Our own daemon listens only on a unix socket and keeps its images under a data-root that
outlives the run (``COURSE_TEST_DOCKER_ROOT``, default ``/var/lib/course-test-docker``), so a
second run on the same machine reuses the built images; a fresh CI machine builds them.
It is stopped again when the test session ends; when it starts (or a killed run's is found still
running) its containers and volumes are removed, its images kept. Needs root (CI and this
machine run as root).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

DATA_ROOT = Path(os.environ.get("COURSE_TEST_DOCKER_ROOT", "/var/lib/course-test-docker"))
SOCKET = DATA_ROOT.with_name(DATA_ROOT.name + ".sock")


def _answers(host: str) -> bool:
    env = {**os.environ, "DOCKER_HOST": host}
    try:
        return subprocess.run(["docker", "version"], env=env, capture_output=True,
                              timeout=20, check=False).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


class DockerDaemon:
    """``start()`` returns the DOCKER_HOST to use; ``stop()`` ends the daemon if we started it."""

    def __init__(self, data_root: Path = DATA_ROOT):
        self.data_root = data_root
        self.socket = data_root.with_name(data_root.name + ".sock")
        self.exec_root = Path("/run") / (data_root.name + "-exec")
        self.pidfile = Path(f"{self.exec_root}.pid")
        self.proc: subprocess.Popen | None = None
        self.leftover = False  # ours, from a run that was killed before it could stop it
        self.host = ""

    def start(self, timeout: float = 60) -> str:
        given = os.environ.get("DOCKER_HOST")
        if given and _answers(given):
            self.host = given
            return given
        ours = f"unix://{self.socket}"
        if _answers(ours):  # left by a run that was killed: reuse it, and stop it at the end
            self.host, self.leftover = ours, True
            clear_leftovers(ours)
            return ours
        if not shutil.which("dockerd"):
            raise RuntimeError("dockerd is not installed (scripts/install-system-deps.sh)")
        self.data_root.mkdir(parents=True, exist_ok=True)
        exec_root = self.exec_root
        log = self.data_root.with_name(self.data_root.name + ".log")
        with open(log, "ab") as out:
            self.proc = subprocess.Popen(
                ["dockerd", "--data-root", str(self.data_root), "--exec-root", str(exec_root),
                 "--host", ours, "--pidfile", str(self.pidfile), "--storage-driver", "overlay2"],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited ({self.proc.returncode}); see {log}")
            if _answers(ours):
                self.host = ours
                clear_leftovers(ours)  # a restart policy brings a killed run's containers back
                return ours
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"dockerd did not answer in {timeout:.0f} s; see {log}")

    def stop(self) -> None:
        if self.proc is None:
            if self.leftover:
                try:
                    os.kill(int(self.pidfile.read_text()), signal.SIGTERM)
                except (OSError, ValueError):
                    pass
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None


def clear_leftovers(host: str) -> None:
    """Remove every container and volume of our own daemon (never of a $DOCKER_HOST we were
    given), keeping the images: a run killed mid-test leaves its stack running (restarted with
    the daemon by its restart policy) and its PostgreSQL volume, whose password the next run's
    ``course env`` no longer knows, and they would take the cores for the whole next run."""
    containers = docker(host, "ps", "-aq").stdout.split()
    if containers:
        docker(host, "rm", "-f", "-v", *containers)
    volumes = docker(host, "volume", "ls", "-q").stdout.split()
    if volumes:  # by name: ``volume prune --all`` needs API 1.42, Debian's daemon has 1.41
        docker(host, "volume", "rm", "-f", *volumes)


def docker(host: str, *args: str, timeout: float = 300, check: bool = True,
           **kwargs) -> subprocess.CompletedProcess:
    """``docker ARGS`` against the daemon at ``host``."""
    return subprocess.run(["docker", *args], env={**os.environ, "DOCKER_HOST": host},
                          capture_output=True, text=True, timeout=timeout, check=check, **kwargs)


if __name__ == "__main__":  # for operators and debugging: start it and print the DOCKER_HOST
    print(DockerDaemon().start())
