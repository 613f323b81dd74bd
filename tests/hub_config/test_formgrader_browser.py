"""Hand grading on the local hub, in a real browser (Debian's chromium through Playwright).

The instructor opens the course's formgrader from JupyterLab's menu (Nbgrader > Course List:
the hub's formgrader service, no local one), previews the student version (the link opens in
the service's JupyterLab, not /hub/tree), collects, autogrades, grades one cell by hand,
generates and releases feedback; the student fetches the feedback and opens it. No line of a
hidden test (the notebook's hidden regions, graders/) is in it, and autograding submissions
whose test cells were handed back as released logs no checksum warning.

The course is the small fixture that keeps nbgrader-style hidden tests in its notebook
(tests/hidden_tests_course.py); the two submissions are stored as the exchange stores
them (course.inbox.receive), the rest goes through the hub's services.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import nbformat
import pytest
import requests
from hidden_tests_course import AID, NOTEBOOK, secret_lines, with_answer, write_course

from devhub.localhub import LocalHub, require_proxy

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "formgrader-test-pw"
COURSE_ID = "dl-hidden"
SERVICE = f"/services/formgrader-{COURSE_ID}"

pytestmark = [
    pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium "
                       "(scripts/install-system-deps.sh installs it)"),
]


@pytest.fixture(scope="module")
def course_hub(tmp_path_factory):
    """The fixture course released, ada's and ben's submissions received, and the hub with
    its exchange and formgrader services."""
    from course.calendar import utcnow
    from course.inbox import receive
    from course.release import release
    from course.workspace import open_workspace

    require_proxy()
    root = tmp_path_factory.mktemp("formgrader-browser") / "course"
    root.mkdir()
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("COURSE_DB_URL", raising=False)
        mp.setenv("COURSE_USER", "ina")
        now = utcnow()  # the exchange stamps with the real clock: the course is laid out around it
        ws = open_workspace(write_course(root, now.date(), course_id=COURSE_ID))
        released = nbformat.read(release(ws, AID, now=now) / NOTEBOOK, as_version=4)
        with ws.gradebook() as gb:
            # ada: square is wrong for the hidden cases; ben: the student version as released
            wrong = with_answer(released, "return x + x")
            receive(ws, gb, "ada", AID, {NOTEBOOK: nbformat.writes(wrong).encode()},
                    received_at=now)
            receive(ws, gb, "ben", AID, {NOTEBOOK: nbformat.writes(released).encode()},
                    received_at=now)
        hub = LocalHub(ws.course_file, root / ".hub", password=PASSWORD, formgrader=True)
        hub.start(timeout=180)
        try:
            yield hub, ws
        finally:
            hub.stop()


def _log_in(context, url: str, user: str):
    page = context.new_page()
    page.set_default_timeout(120_000)
    page.goto(f"{url}/hub/login")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(re.compile(rf".*/user/{user}/lab.*"), timeout=180_000)
    page.wait_for_selector(".jp-LabShell", timeout=180_000)
    return page


def _formgrader_frame(page):
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        for frame in page.frames:
            if f"{SERVICE}/formgrader" in frame.url:
                return frame
        page.wait_for_timeout(500)
    raise AssertionError(f"no formgrader frame in {[f.url for f in page.frames]}")


def _modal(frame, action) -> str:
    """Click what ``action`` names in the formgrader, wait for its result dialog, close it;
    returns the dialog's text (nbgrader shows the command's log there)."""
    action.click()
    dialog = frame.locator(".modal.in, .modal.show").last
    dialog.wait_for(state="visible", timeout=300_000)
    text = dialog.inner_text()
    dialog.locator(".modal-footer button").first.click()
    dialog.wait_for(state="hidden")
    return text


def _manual_grade(db_url: str) -> tuple:
    """ada's hand-given score and comment for the written answer, as the gradebook has them."""
    from nbgrader.api import Gradebook

    with Gradebook(db_url) as gb:
        grade = gb.find_grade("why", Path(NOTEBOOK).stem, AID, "ada")
        comment = gb.find_comment("why", Path(NOTEBOOK).stem, AID, "ada")
        return grade.manual_score, comment.manual_comment


def _wait_for(condition, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the formgrader did not save the grade")
        time.sleep(0.5)


def test_instructor_grades_by_hand_and_the_student_reads_feedback(course_hub, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    hub, ws = course_hub
    url = hub.url
    started = time.monotonic()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = None
        try:
            # the instructor's own server offers no local formgrader ...
            page = _log_in(context, url, "ina")
            assert requests.get(f"{url}/user/ina/formgrader/api/status",
                                cookies={c["name"]: c["value"] for c in context.cookies()},
                                timeout=30).status_code == 404
            # ... its Formgrader menu shows a link to the course's formgrader service ...
            page.get_by_role("menuitem", name="Nbgrader").click()
            page.get_by_role("menuitem", name="Formgrader", exact=True).click()
            expect(page.frame_locator("#formgrader iframe").get_by_role(
                "link", name=f"Open the formgrader of {COURSE_ID}")).to_be_visible()
            # ... and its Course List leads there too
            page.get_by_role("menuitem", name="Nbgrader").click()
            page.get_by_role("menuitem", name="Course List").click()
            courses = page.locator("#courses")
            link = courses.get_by_role("link", name=COURSE_ID)
            expect(link).to_be_visible()
            expect(courses).not_to_contain_text("local")
            with context.expect_page() as opened:
                link.click()
            lab = opened.value
            lab.set_default_timeout(120_000)
            lab.wait_for_url(re.compile(rf".*{SERVICE}/lab.*"))
            fg = _formgrader_frame(lab)
            row = fg.locator("tr", has_text=AID)
            expect(row.locator(".collect a")).to_be_visible()

            # Preview opens the student version in the service's JupyterLab (not /hub/tree)
            row.locator(".preview a").click()
            expect(lab.locator(".jp-FileBrowser .jp-BreadCrumbs")).to_contain_text(AID)
            expect(lab.locator(".jp-FileBrowser .jp-DirListing-content")).to_contain_text(
                NOTEBOOK)

            collected = _modal(fg, row.locator(".collect a"))
            assert "Successfully collected" in collected, collected

            # autograde both: no checksum warning for test cells handed back as released
            row.locator(".num-submissions a").click()
            for student in ("ada", "ben"):
                line = fg.locator("tr", has_text=student)
                log = _modal(fg, line.locator(".autograde a"))
                # graded as `course grade` grades (hub_config.formgrader.autograde)
                assert f"Successfully autograded {student}'s {AID}" in log, log
                assert "points" in log, log
                assert "checksum" not in log.lower(), log

            # one cell by hand: ada's written answer, with a comment
            fg.goto(f"{url}{SERVICE}/formgrader/gradebook/{AID}/{Path(NOTEBOOK).stem}")
            fg.locator("tr", has_text="Lovelace").get_by_role(
                "link", name=re.compile("Submission #")).click()
            fg.wait_for_url(re.compile(r".*/formgrader/submissions/\w+/?$"))
            fg.wait_for_load_state("networkidle")  # the grades and comments are loaded
            # maths typeset by MathJax from the service itself (no CDN)
            expect(fg.locator("script[src*='static/MathJax.js']")).to_have_count(1)
            expect(fg.locator(".MathJax_CHTML").first).to_be_visible()
            fg.locator("input.score#why").click()
            fg.locator("input.score#why").press_sequentially("1.5")
            fg.locator("textarea#why-comment").click()  # leaving the field saves it
            fg.locator("textarea#why-comment").press_sequentially(
                "Right idea; say why the sign cancels.")
            fg.locator("h4").first.click()
            _wait_for(lambda: _manual_grade(ws.db_url) == (
                1.5, "Right idea; say why the sign cancels."))

            fg.goto(f"{url}{SERVICE}/formgrader/manage_assignments")
            row = fg.locator("tr", has_text=AID)
            generated = _modal(fg, row.locator(".generate-feedback a"))
            assert "Successfully generated feedback" in generated, generated
            released = _modal(fg, row.locator(".release-feedback a"))
            assert "Successfully released feedback" in released, released
            # Manage Students: the roster's names and emails
            fg.goto(f"{url}{SERVICE}/formgrader/manage_students")
            expect(fg.locator("tr", has_text="ada@example.org")).to_contain_text("Lovelace")

            # the student fetches the feedback and opens it
            student = _log_in(browser.new_context(), url, "ada")
            student.get_by_role("menuitem", name="Nbgrader").click()
            student.get_by_role("menuitem", name="Assignment List").click()
            submitted = student.locator("#submitted_assignments_list")
            submitted.get_by_role("button", name="Fetch Feedback").click()
            expect(submitted.get_by_text("(view feedback)")).to_be_visible()
            home = hub.state / "home" / "ada" / AID / "feedback"
            (fetched,) = home.glob(f"*/{Path(NOTEBOOK).stem}.html")
            student.goto(f"{url}/user/ada/files/{AID}/feedback/{fetched.parent.name}/"
                         f"{fetched.name}")
            text = student.locator("body").inner_text()
        except Exception:
            if page is not None:
                page.screenshot(path=str(tmp_path / "failure.png"))
            raise
        finally:
            browser.close()
    seconds = time.monotonic() - started

    assert [line for line in secret_lines() if line in text] == []
    assert "BEGIN HIDDEN TESTS" not in text
    assert "hidden tests: 3 lines not shown" in text
    assert "held-out case: a negative number" in text  # the failed test's message
    assert "Right idea; say why the sign cancels." in text
    print(f"\nformgrader browser walk: {seconds:.1f} s")
