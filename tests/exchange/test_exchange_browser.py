"""``course hub`` (what ``make hub`` runs) in a real browser: Debian's chromium through
Playwright logs in as a student, opens nbgrader's Assignments panel in JupyterLab, fetches,
edits and submits; the instructor's ``course status`` then shows it received on time.

The hub runs as ``make hub`` runs it: the exchange, formgrader and idle culler as managed
services, configurable-http-proxy from npm, the local process spawner.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import psutil
import pytest
import requests

from autograder.notebooks import solution_cells
from devhub.hubcourse import ASSIGNMENT, COURSE_ID, build_hub_course
from devhub.localhub import free_port, require_proxy

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "browser-test-pw"

pytestmark = [
    pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium "
                       "(scripts/install-system-deps.sh installs it)"),
]


@pytest.fixture(scope="module")
def course_hub(tmp_path_factory):
    """`course hub --dir ... --port ...` in a subprocess, until it prints its URL."""
    require_proxy()
    root = tmp_path_factory.mktemp("hub-browser") / "course"
    build_hub_course(root)
    port = free_port()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "commands.main", "hub", "--dir", str(root),
                             "--port", str(port), "--password", PASSWORD],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    lines = []
    try:
        for line in proc.stdout:
            lines.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        banner = "".join(lines)
        match = re.search(r"JupyterHub is running at (\S+)", banner)
        assert match, banner
        url = match.group(1).rstrip("/")
        # the managed exchange answers through the proxy
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{url}/services/exchange/health", timeout=2).ok:
                    break
            except requests.RequestException:
                pass
            time.sleep(0.5)
        yield {"url": url, "root": root, "banner": banner,
               "startup_s": time.monotonic() - started}
    finally:
        family = _family(proc.pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        for child in family:
            if child.is_running():
                child.kill()


def _family(pid: int) -> list[psutil.Process]:
    try:
        return psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []


def _cell(path: Path, grade_id: str) -> str:
    for cell in nbformat.read(path, as_version=4).cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell.source
    return ""


def test_course_hub_prints_url_and_logins(course_hub):
    banner = course_hub["banner"]
    assert f"password for everyone: {PASSWORD}" in banner
    assert "instructor: ina" in banner and "students:   ada, ben, cleo" in banner
    assert requests.get(course_hub["url"] + "/hub/login", timeout=10).status_code == 200


def test_a_student_fetches_edits_and_submits_in_jupyterlab(course_hub, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    url, root = course_hub["url"], course_hub["root"]
    source = nbformat.read(next((root / "assignments" / ASSIGNMENT).glob("*.ipynb")),
                           as_version=4)
    answers = solution_cells(source)
    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)
        try:
            page.goto(f"{url}/hub/login")
            page.fill("input[name=username]", "ada")
            page.fill("input[name=password]", PASSWORD)
            page.click("#login_submit")
            page.wait_for_url(re.compile(r".*/user/ada/lab.*"), timeout=180_000)
            page.wait_for_selector(".jp-LabShell", timeout=180_000)

            page.get_by_role("menuitem", name="Nbgrader").click()
            page.get_by_role("menuitem", name="Assignment List").click()
            panel = page.locator("#released_assignments_list")
            expect(panel.get_by_text(ASSIGNMENT)).to_be_visible()
            panel.get_by_role("button", name="Fetch").click()

            fetched = page.locator("#fetched_assignments_list")
            expect(fetched.get_by_text(ASSIGNMENT)).to_be_visible()
            fetched.get_by_text(ASSIGNMENT).first.click()  # unfold: its notebooks
            fetched.get_by_role("link", name=re.compile("numpy-basics")).click()

            # edit: the first solution cell gets the reference answer, then save
            stub = page.locator(".jp-Notebook .jp-CodeCell").filter(
                has_text="raise NotImplementedError").first
            stub.locator(".cm-content").click()
            page.keyboard.press("Control+A")
            first_id = next(cell.metadata["nbgrader"]["grade_id"] for cell in source.cells
                            if cell.metadata.get("nbgrader", {}).get("solution"))
            page.keyboard.insert_text(answers[first_id])
            page.keyboard.press("Control+S")
            page.wait_for_timeout(1500)
            saved = root / ".hub" / "home" / "ada" / ASSIGNMENT / "numpy-basics.ipynb"
            deadline = time.monotonic() + 30
            while _cell(saved, first_id) != answers[first_id] and time.monotonic() < deadline:
                time.sleep(0.5)
            assert _cell(saved, first_id) == answers[first_id]

            page.get_by_role("tab", name=re.compile("Assignments")).click()
            page.locator("#fetched_assignments_list").get_by_role(
                "button", name="Submit").click()
            submitted = page.locator("#submitted_assignments_list")
            expect(submitted.get_by_text(ASSIGNMENT)).to_be_visible(timeout=60_000)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()
    browser_seconds = time.monotonic() - started

    status = subprocess.run([sys.executable, "-m", "commands.main", "status", "--format", "json",
                             "--course", str(root)], capture_output=True, text=True, check=True,
                            timeout=120, env={**os.environ, "COURSE_USER": "ina"})
    (ada,) = [s for s in json.loads(status.stdout)["students"] if s["id"] == "ada"]
    assert ada["assignments"][ASSIGNMENT]["state"] == "on_time", ada
    print(f"\nbrowser: hub up in {course_hub['startup_s']:.1f} s, log in to submitted in "
          f"{browser_seconds:.1f} s")


def _logged_in(url: str, user: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{url}/hub/login", timeout=30)
    reply = session.post(f"{url}/hub/login", timeout=30, allow_redirects=False,
                         data={"username": user, "password": PASSWORD,
                               "_xsrf": session.cookies.get("_xsrf", "")})
    assert reply.status_code == 302, reply.text[:300]
    return session


def test_the_formgrader_service_is_for_staff_only(course_hub):
    """nbgrader's formgrader runs as a hub service: the instructor gets it, a student a 403."""
    formgrader = f"{course_hub['url']}/services/formgrader-{COURSE_ID}/formgrader"
    anonymous = requests.get(formgrader, timeout=60)
    assert "/hub/login" in anonymous.url
    reply = _logged_in(course_hub["url"], "ben").get(formgrader, timeout=60)
    assert reply.status_code == 403, (reply.status_code, reply.url)
    reply = _logged_in(course_hub["url"], "ina").get(formgrader, timeout=120)
    assert reply.status_code == 200 and "formgrader" in reply.text.lower(), reply.url
