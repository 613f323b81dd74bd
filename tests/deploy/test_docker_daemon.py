"""The deploy tests' own daemon starts clean: a run killed mid-test leaves its containers (brought
back by their restart policy) and volumes behind, and the next run must not inherit them (CI
once recreated a killed run's stack on its old PostgreSQL volume, whose password was not the
new run's)."""

from __future__ import annotations

import pytest
from docker_daemon import SOCKET, DockerDaemon, docker

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def test_our_daemon_found_running_is_cleared_of_a_killed_runs_containers_and_volumes(
        docker_host, images):
    if docker_host != f"unix://{SOCKET}":
        pytest.skip("the daemon is $DOCKER_HOST's, not ours: never cleared")
    image = images["course-hub"]  # name:tag
    docker(docker_host, "volume", "create", "course-killed-run_pgdata")
    docker(docker_host, "create", "--name", "course-killed-run-postgres-1", "--restart",
           "unless-stopped", "-v", "course-killed-run_pgdata:/data", image, "true")
    images_before = docker(docker_host, "images", "-q").stdout.split()

    again = DockerDaemon()  # the next run's fixture, finding ours answering
    assert again.start() == docker_host and again.leftover

    assert docker(docker_host, "ps", "-aq").stdout.split() == []
    assert "course-killed-run_pgdata" not in docker(docker_host, "volume", "ls", "-q").stdout
    assert docker(docker_host, "images", "-q").stdout.split() == images_before
