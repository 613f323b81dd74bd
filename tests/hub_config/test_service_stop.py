"""The hub's services stop at once when the hub stops them, however the hub was started.

JupyterHub stops each managed service with SIGINT and sends SIGTERM only after its
``interrupt_timeout`` (30 s), one service after the other. A hub started with SIGINT ignored (a
background job of a non-interactive shell or script, as CI's run was) starts its services before
it sets its own SIGINT handler, so they inherit the ignored SIGINT: roster-sync and lti-jwks ran
on for those 30 s, and a hub's stop took 30 s and more (CI's hub teardowns: 31-33 s, cut short
by ``LocalHub.stop``'s own 30 s). Our services stop on both signals themselves, however they were
started (they run under any operator's hub); a hub that ``LocalHub`` starts passes on no ignored
SIGINT (the idle culler and Jupyter are not ours).
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time

import pytest
from hub_doubles import ScriptedHub
from small_courses import LTI_PLATFORM, REPO, course_text

from devhub.hubcourse import COURSE_ID, build_hub_course
from devhub.localhub import free_port, require_proxy

STOPPED_WITHIN_S = 5  # JupyterHub's next step, SIGTERM, comes 30 s after its SIGINT



def start_with_sigint_ignored(command: list[str], env: dict) -> subprocess.Popen:
    """``command`` as a script's background job starts it: SIGINT ignored, kept through exec."""
    return subprocess.Popen(["bash", "-c", "trap '' INT; exec \"$@\"", "service", *command],
                            cwd=REPO, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


def wait_for_line(process: subprocess.Popen, text: str, timeout: float = 60) -> list[str]:
    """The lines ``process`` wrote until one holding ``text``."""
    lines, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        if select.select([process.stdout], [], [], 0.2)[0]:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            if text in line:
                return lines
    process.kill()
    raise AssertionError(f"no {text!r} in {timeout:.0f} s:\n{''.join(lines)}")


def assert_stops_at_once(process: subprocess.Popen, sig: signal.Signals) -> None:
    process.send_signal(sig)
    try:
        process.wait(STOPPED_WITHIN_S)
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"still running {STOPPED_WITHIN_S} s after {sig.name}") from None
    rest = process.stdout.read()
    assert process.returncode == 0, rest
    assert "Traceback" not in rest  # a stop, not a crash


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_roster_sync_stops_at_once_on_the_hubs_signal(tmp_path, sig):
    course_file = tmp_path / "course" / "course.yml"
    course_file.parent.mkdir()
    course_file.write_text(course_text())
    # a hub that does not answer: it logs and waits for its next check, a minute away
    env = {**os.environ, "JUPYTERHUB_API_URL": f"http://127.0.0.1:{free_port()}/hub/api",
           "JUPYTERHUB_API_TOKEN": "unused"}
    process = start_with_sigint_ignored(
        [sys.executable, "-m", "hub_config.roster_sync", "--course", str(course_file),
         "--interval", "60"], env)
    wait_for_line(process, "not synced this time")
    assert_stops_at_once(process, sig)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_lti_jwks_stops_at_once_on_the_hubs_signal(tmp_path, sig):
    course_file = tmp_path / "course" / "course.yml"
    course_file.parent.mkdir()
    course_file.write_text(course_text() + LTI_PLATFORM)
    env = {**os.environ, "COURSE_LTI_KEY_DIR": str(tmp_path / "keys")}
    process = start_with_sigint_ignored(
        [sys.executable, "-m", "hub_config.lti_jwks", "--course", str(course_file),
         "--port", str(free_port())], env)
    wait_for_line(process, "lti-jwks ready")
    assert_stops_at_once(process, sig)


@pytest.mark.slow
def test_a_hub_started_with_sigint_ignored_stops_every_service_at_once(tmp_path, monkeypatch):
    """A real hub with every service it manages: exchange, roster-sync, formgrader (Jupyter),
    dashboard, lti-jwks and the idle culler; its stop is JupyterHub's own, well before
    ``LocalHub.stop`` would kill it."""
    require_proxy()
    course_file = build_hub_course(tmp_path / "course", students=[("ada", "Ada", "L")],
                                   release="none")
    course_file.write_text(course_file.read_text() + LTI_PLATFORM)
    monkeypatch.setenv("COURSE_LTI_KEY_DIR", str(tmp_path / "keys"))
    hub = ScriptedHub(course_file, tmp_path / "hub", password="test-password",
                      admin_token="a" * 32, formgrader=True, dashboard=True,
                      idle_timeout=3600)
    hub.settings["lti_jwks_port"] = hub.free_port()
    ignored = signal.signal(signal.SIGINT, signal.SIG_IGN)  # the hub inherits it
    try:
        hub.start(timeout=180)
    finally:
        signal.signal(signal.SIGINT, ignored)
    try:
        for path in (f"services/formgrader-{COURSE_ID}/api/status", "services/dashboard/",
                     "services/lti-jwks/jwks.json", "services/exchange/health"):
            hub.wait_for(f"{hub.url}/{path}", timeout=120)
        running = [" ".join(process.cmdline()) for process in hub.spawned()]
        for command in ("commands.main exchange serve", "hub_config.roster_sync",
                        "jupyterhub.singleuser", "commands.main dashboard serve",
                        "hub_config.lti_jwks", "jupyterhub_idle_culler"):
            assert any(command in line for line in running), running
    finally:
        started = time.monotonic()
        hub.stop()
        took = time.monotonic() - started
    log = hub.log_tail(200)
    assert took < 15, f"the hub took {took:.0f} s to stop:\n{log}"
    assert "...done" in log  # JupyterHub finished its own clean-up: it was not killed
