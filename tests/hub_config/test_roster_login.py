"""Login follows the course file while the hub runs (issue 28, item 6), on a real JupyterHub
(127.0.0.1, the simple authenticator, the local process spawner, the roster-sync service).

A student added to the course file logs in through the hub's login form at once, joins the
course's group and gets a server; dropped again, she cannot log in, her old browser session
cannot start a server, and roster-sync stops the server she had. No hub restart anywhere.
"""

from __future__ import annotations

import secrets
import time

import pytest
import requests
from hub_doubles import ScriptedHub

from devhub.hubcourse import COURSE_ID, build_hub_course

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PASSWORD = "roster-login-pw"
NEW = '    - {id: dora, first_name: "Dora", last_name: "Explorer", email: dora@example.org}\n'
GROUP = f"nbgrader-{COURSE_ID}"


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("roster-login")
    course_file = build_hub_course(tmp / "course", release="none")
    hub = ScriptedHub(course_file, tmp / "hub", password=PASSWORD,
                      admin_token=secrets.token_hex(16))
    try:
        hub.start(timeout=180)
        yield hub
    finally:
        hub.stop()


def log_in(hub, user: str) -> tuple[int, requests.Session]:
    """The hub's login form as a browser sends it: the status of the POST (302: logged in)."""
    session = requests.Session()
    session.get(f"{hub.url}/hub/login", timeout=30)
    reply = session.post(f"{hub.url}/hub/login", timeout=30, allow_redirects=False,
                         data={"username": user, "password": PASSWORD,
                               "_xsrf": session.cookies.get("_xsrf", "")})
    return reply.status_code, session


def until(check, timeout: float = 60, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.5)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


def server(hub, user: str) -> dict | None:
    model = hub.api("GET", f"users/{user}", hub.admin_token)
    return model.get("servers", {}).get("")


def members(hub) -> list[str]:
    return hub.api("GET", f"groups/{GROUP}", hub.admin_token)["users"]


def test_a_student_added_mid_term_logs_in_and_one_dropped_is_refused(hub):
    course_file = hub.course_file
    original = course_file.read_text()
    assert log_in(hub, "ada")[0] == 302
    assert log_in(hub, "dora")[0] == 403  # not on the roster (yet)

    # added to the course file while the hub runs: she logs in at once, no restart
    course_file.write_text(original.replace("  students:\n", "  students:\n" + NEW))
    status, dora = log_in(hub, "dora")
    assert status == 302, status
    until(lambda: "dora" in members(hub), what="roster-sync puts dora in her course's group")
    # her server starts (her browser session: as clicking "Start My Server")
    dora.get(f"{hub.url}/hub/spawn", timeout=60)
    until(lambda: (server(hub, "dora") or {}).get("ready"), timeout=120,
          what="dora's server starts")

    # dropped: refused at the login form, her session starts nothing, her server is stopped
    course_file.write_text(original)
    assert log_in(hub, "dora")[0] == 403
    until(lambda: server(hub, "dora") is None, timeout=60,
          what="roster-sync stops dora's server")
    until(lambda: "dora" not in members(hub), what="roster-sync takes dora out of her group")
    again = dora.post(f"{hub.url}/hub/spawn", timeout=60, allow_redirects=False,
                      data={"_xsrf": dora.cookies.get("_xsrf", "")})
    assert again.status_code == 403, again.status_code  # "auth has expired for dora"
    time.sleep(2)
    assert server(hub, "dora") is None
    assert log_in(hub, "ada")[0] == 302  # everyone else is untouched
