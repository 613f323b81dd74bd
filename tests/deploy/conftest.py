"""The deploy tests' Docker daemon and images (once per session).

``docker_host``: a real daemon on a unix socket (tests/deploy/docker_daemon.py), ours unless
$DOCKER_HOST answers. ``images``: deploy/build-images.sh with TF=none (TensorFlow is left out
of the test stack: the week graded here is 01-numpy, and the CPU wheel alone would double the
build); its layers stay in the daemon's data-root, so a second run only checks them.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest
from docker_daemon import DockerDaemon

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def docker_host():
    if os.geteuid() != 0:
        pytest.skip("the deploy tests start dockerd, which needs root (CI runs as root)")
    daemon = DockerDaemon()
    host = daemon.start()
    try:
        yield host
    finally:
        daemon.stop()


@pytest.fixture(scope="session")
def images(docker_host) -> dict[str, str]:
    """NAME=TAG lines of build-images.sh: course-hub, course-worker, ..., COURSE_TAG, BASE_TAG."""
    started = time.monotonic()
    done = subprocess.run(["bash", str(REPO / "deploy" / "build-images.sh"), "none"],
                          env={**os.environ, "DOCKER_HOST": docker_host}, capture_output=True,
                          text=True, timeout=1800, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    built = dict(line.split("=", 1) for line in done.stdout.split() if "=" in line)
    built["seconds"] = f"{time.monotonic() - started:.0f}"
    print(f"\nimages built or checked in {built['seconds']} s: {sorted(built)}")
    return built
