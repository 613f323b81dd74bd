"""A student's JupyterLab on a real JupyterHub (127.0.0.1), in Debian's chromium through
Playwright (issue 28, item 11): nbgrader's Create Assignment, Formgrader and Course List are
not there for a student (their Lab plugins are disabled in her server's page config, an
instructor's keep them), nobody is asked about Jupyter news on an offline server, and a feedback
page's long grader messages wrap at the page's edge.
"""

from __future__ import annotations

import html as html_text
import json
import re
import secrets
import time
from pathlib import Path

import pytest
import requests
from hub_doubles import ScriptedHub

from devhub.hubcourse import build_hub_course

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "student-lab-pw"
STUDENT_HIDDEN = {"@jupyter/nbgrader:create-assignment", "@jupyter/nbgrader:formgrader",
                  "@jupyter/nbgrader:course-list"}

pytestmark = [
    pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium "
                       "(scripts/install-system-deps.sh installs it)"),
]


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("student-lab")
    course_file = build_hub_course(tmp / "course", release="none")
    hub = ScriptedHub(course_file, tmp / "hub", password=PASSWORD,
                      admin_token=secrets.token_hex(16))
    try:
        hub.start(timeout=180)
        for user in ("ada", "ina"):
            hub.api("POST", f"users/{user}/server", hub.admin_token)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not all(
                (hub.api("GET", f"users/{u}", hub.admin_token)["servers"].get("") or {})
                .get("ready") for u in ("ada", "ina")):
            time.sleep(0.5)
        yield hub
    finally:
        hub.stop()


def lab_page_config(hub, user: str) -> dict:
    """The page config JupyterLab serves ``user`` (logged in through the hub's form)."""
    session = requests.Session()
    session.get(f"{hub.url}/hub/login", timeout=30)
    session.post(f"{hub.url}/hub/login", timeout=30, data={
        "username": user, "password": PASSWORD, "_xsrf": session.cookies.get("_xsrf", "")})
    page = session.get(f"{hub.url}/user/{user}/lab", timeout=60)
    assert page.status_code == 200, (page.status_code, page.url)
    found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                      page.text, re.DOTALL)
    assert found, page.text[:500]
    return json.loads(html_text.unescape(found.group(1)))


def test_a_students_lab_has_no_authoring_or_grading_menus_and_asks_no_news(hub, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    assert STUDENT_HIDDEN <= set(lab_page_config(hub, "ada")["disabledExtensions"])
    assert not STUDENT_HIDDEN & set(lab_page_config(hub, "ina")["disabledExtensions"])

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.set_default_timeout(120_000)
        try:
            page.goto(f"{hub.url}/hub/login")
            page.fill("input[name=username]", "ada")
            page.fill("input[name=password]", PASSWORD)
            page.click("#login_submit")
            page.wait_for_url(re.compile(r".*/user/ada/lab.*"), timeout=180_000)
            page.wait_for_selector(".jp-LabShell", timeout=180_000)
            page.get_by_role("menuitem", name="Nbgrader").click()
            menu = page.locator("#jp-mainmenu-nbgrader")
            expect(menu.get_by_text("Assignment List")).to_be_visible()
            for item in ("Course List", "Formgrader", "Create Assignment"):
                expect(menu.get_by_text(item)).to_have_count(0)
            page.keyboard.press("Escape")
            # the news question comes as a notification shortly after the Lab starts, if at all
            page.wait_for_timeout(4000)
            expect(page.get_by_text(re.compile("notified about official Jupyter news"))) \
                .to_have_count(0)
        except Exception:
            page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()


def test_long_grader_messages_wrap_in_the_feedback_page():
    """The page as generate_feedback writes it (nbgrader's feedback template, our exporter)."""
    import nbgrader
    from nbformat.v4 import new_code_cell, new_notebook, new_output
    from playwright.sync_api import sync_playwright

    from course.nbgrader_steps import FeedbackPage

    message = "test_shapes (2 of 2 points lost): expected an array of shape (3, 4) " * 8
    nb = new_notebook(cells=[new_code_cell("check()", outputs=[new_output(
        "error", ename="AssertionError", evalue=message,
        traceback=[f"AssertionError: {message}"])])])
    base = Path(nbgrader.__file__).parent / "server_extensions" / "formgrader"
    exporter = FeedbackPage(template_name="feedback",
                            extra_template_basedirs=[str(base / "templates")],
                            extra_template_paths=[str(base / "static" / "node_modules" /
                                                      "bootstrap" / "dist" / "css")])
    page_html, _ = exporter.from_notebook_node(nb, resources={"nbgrader": {
        "notebook": "numpy-basics", "score": 0, "max_score": 2, "late_penalty": 0}})
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 700})
            page.set_content(page_html)
            sizes = page.eval_on_selector("div.output_error pre", "p => [p.scrollWidth, "
                                          "p.clientWidth, p.getBoundingClientRect().right]")
        finally:
            browser.close()
    scroll, client, right = sizes
    assert scroll <= client + 1 and right <= 800, sizes  # wrapped, nothing past the edge
