"""A course's formgrader in a process of its own (a pod or container in a deployment), not one
the hub starts beside itself: the hub only routes to it and knows its token
(``c.CourseHub.formgrader_urls`` / ``formgrader_api_tokens``); it runs as the course folder's
owner with its own token and nothing of the hub's. Real JupyterHub on 127.0.0.1."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time

import psutil
import pytest
import requests
from hub_doubles import ScriptedHub

from devhub.hubcourse import build_hub_course
from devhub.localhub import free_port

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COURSE = "dl-own"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("formgrader-own")
    course_file = build_hub_course(tmp / COURSE, course_id=COURSE,
                                   students=[("ada", "Ada", "L")], release="none")
    subprocess.run([sys.executable, "-m", "commands.main", "upgrade", "--course", str(course_file)],
                   check=True, capture_output=True, timeout=120)
    port, token, admin = free_port(), secrets.token_hex(32), secrets.token_hex(16)
    hub = ScriptedHub(course_file, tmp / "hub", password="test-password", admin_token=admin,
                      formgrader=True, dashboard=False,
                      settings={"formgrader_urls": {COURSE: f"http://127.0.0.1:{port}"},
                                "formgrader_api_tokens": {COURSE: token}})
    formgrader = None
    try:
        hub.start(timeout=180)
        env = {key: value for key, value in os.environ.items()
               if not key.startswith(("JUPYTERHUB_", "CONFIGPROXY_"))}
        formgrader = subprocess.Popen(
            [sys.executable, "-m", "hub_config.formgrader.external", "--course",
             str(course_file), "--hub-api", f"http://127.0.0.1:{hub.hub_port}/hub/api",
             "--exchange-url", hub.exchange_url, "--port", str(port), "--ip", "127.0.0.1"],
            env={**env, "JUPYTERHUB_API_TOKEN": token}, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        hub.wait_for(f"http://127.0.0.1:{port}/services/formgrader-{COURSE}/api/status",
                     timeout=120)
        yield {"hub": hub, "formgrader": formgrader, "root": course_file.parent,
               "tokens": {user: hub.token_for(user) for user in ("ina", "ada")}}
    finally:
        if formgrader is not None:
            formgrader.terminate()
            formgrader.wait(30)
        hub.stop()


def status(env, user: str) -> int:
    return requests.get(f"{env['hub'].url}/services/formgrader-{COURSE}/api/status",
                        headers={"Authorization": f"token {env['tokens'][user]}"},
                        allow_redirects=False, timeout=60).status_code


def test_the_hub_routes_to_a_formgrader_it_did_not_start(hub):
    assert status(hub, "ina") == 200  # the instructor, through the hub's proxy and OAuth
    assert status(hub, "ada") == 403  # a student: the hub refuses her
    process = psutil.Process(hub["formgrader"].pid)
    assert "jupyterhub.singleuser" in " ".join(process.cmdline())  # exec'd in place
    if os.geteuid() == 0:  # as its course folder's user, never root
        assert process.uids().real == hub["root"].stat().st_uid != 0
    hub_family = {p.pid for p in psutil.Process(hub["hub"].proc.pid).children(recursive=True)}
    assert process.pid not in hub_family and process.ppid() == os.getpid()  # its own
    assert not {"JUPYTERHUB_COOKIE_SECRET", "CONFIGPROXY_AUTH_TOKEN"} & set(process.environ())


def test_its_lockdown_is_the_same(hub):
    reply = requests.post(f"{hub['hub'].url}/services/formgrader-{COURSE}/api/kernels",
                          headers={"Authorization": f"token {hub['tokens']['ina']}"},
                          json={"name": "python3"}, timeout=60)
    assert reply.status_code == 403
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # and no kernel appeared meanwhile
        assert not [p for p in psutil.Process(hub["formgrader"].pid).children(recursive=True)
                    if "ipykernel" in " ".join(p.cmdline())]
        time.sleep(0.5)
