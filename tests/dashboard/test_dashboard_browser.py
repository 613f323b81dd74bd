"""The dashboard on a real JupyterHub, in Debian's chromium through Playwright.

The hub is ``devhub.localhub.LocalHub`` with the dashboard service (as ``make hub`` runs it):
browser logins through the hub's OAuth, configurable-http-proxy from npm. The course is the hub's
demo course with ada's submission received and graded. An instructor logs in, opens the overview
and the assignment page, grants ben an extension; ben's own page shows it; ben gets 403 for
anyone else's page and every instructor page; forged and cross-site POSTs are refused (XSRF).
Screenshots of each page are kept in tests/artifacts/dashboard/ (git-ignored).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
from sqlalchemy import select

from autograder.results import GradingReport
from autograder.results import TestScore as Score
from course.gradebook.models import Excuse, Extension, Presentation
from course.gradebook.records import finish_run, receipts_where, start_run
from course.inbox import receive
from course.store import CourseExchange
from course.workspace import open_workspace
from devhub.hubcourse import ASSIGNMENT, build_hub_course
from devhub.localhub import LocalHub, require_proxy

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "dashboard-test-pw"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "dashboard"
LAPTOP = {"width": 1366, "height": 768}
FEEDBACK = "numpy-basics.html"
FEEDBACK_HTML = b"<html><body><p>well done</p><script>parent.alert(1)</script></body></html>"

pytestmark = [
    pytest.mark.browser, pytest.mark.e2e, pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium "
                       "(scripts/install-system-deps.sh installs it)"),
]


def _seed(course_file: Path) -> None:
    """ada hands in the released notebook and it is graded (a run and its report, as
    ``course grade`` leaves them)."""
    ws = open_workspace(course_file)
    outbound = ws.root / "exchange" / ws.course.id / "outbound" / ASSIGNMENT
    files = {p.name: p.read_bytes() for p in outbound.glob("*.ipynb")}
    with ws.gradebook() as gb:
        receipt = receive(ws, gb, "ada", ASSIGNMENT, files)
        run = start_run(gb, "ada", ASSIGNMENT, receipt.id, "sandboxed-pytest", "v1")
        finish_run(gb, run, "success", score=7.5, max_score=10.0)
    folder = ws.root / "autograded" / "ada" / ASSIGNMENT
    folder.mkdir(parents=True)
    GradingReport(next(iter(files)).removesuffix(".ipynb"), (
        Score("test_shapes", "shapes", 5.0, 5.0, "passed"),
        Score("test_broadcast", "broadcast", 2.5, 5.0, "failed"),
    ), isolation="bwrap").write(folder)
    exchange = CourseExchange(course_file)  # feedback returned as `course feedback` does
    try:
        exchange.release_feedback(exchange.receipt(receipt.id), {FEEDBACK: FEEDBACK_HTML})
    finally:
        exchange.close()


def _ada_receipt(hub) -> int:
    with open_workspace(hub.course_file).gradebook() as gb:
        (receipt,) = receipts_where(gb, student_id="ada")
        return receipt.id


@pytest.fixture(scope="module")
def hub(tmp_path_factory):
    require_proxy()
    root = tmp_path_factory.mktemp("dashboard") / "course"
    course_file = build_hub_course(root, release="copy")
    _seed(course_file)
    hub = LocalHub(course_file, root / ".hub", password=PASSWORD, dashboard=True)
    hub.start(timeout=120)
    try:
        hub.wait_for(f"{hub.url}/services/dashboard/health", timeout=60)
        yield hub
    finally:
        hub.stop()


@pytest.fixture(scope="module")
def artifacts():
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")  # screenshots are test output, never committed
    return ARTIFACTS


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


def _login(browser, hub: LocalHub, user: str):
    context = browser.new_context(viewport=LAPTOP)
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.goto(f"{hub.url}/hub/login?next=/services/dashboard/")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", PASSWORD)
    page.click("#login_submit")
    page.wait_for_url(re.compile(r".*/services/dashboard/(course|me)$"))
    return context, page


def _shot(page, artifacts: Path, name: str) -> None:
    path = artifacts / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")


def _fits_laptop(page) -> bool:
    """No horizontal scrolling of the page itself (wide tables scroll in their own box)."""
    return page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]


def test_instructor_grants_an_extension_and_the_student_sees_it(hub, browser, artifacts):
    ws = open_workspace(hub.course_file)
    context, page = _login(browser, hub, "ina")
    try:
        # the overview: the standing table, the withdrawal countdown
        assert page.locator("h1").inner_text().endswith("the course at a glance")
        rows = page.locator("table.standing tbody tr")
        assert rows.count() == 3
        ada = page.locator("table.standing tbody tr", has_text="ada")
        assert "on time 7.5/10" in ada.inner_text()
        assert re.search(r"in \d+ days", page.locator(".cards time.countdown").inner_text())
        assert _fits_laptop(page)
        _shot(page, artifacts, "overview")

        # the assignment page: plots with their data tables, the hidden tests' pass rates
        page.click(f"table.standing thead a:text('{ASSIGNMENT}')")
        page.wait_for_url(f"**/assignments/{ASSIGNMENT}")
        figures = page.locator("figure.plot")
        assert figures.count() == 3
        assert page.locator("figure.plot svg").count() == 3
        rates = figures.nth(2).locator("details table tbody tr")
        # the data table is inside a closed <details>: read as a screen reader does
        assert [rates.nth(i).locator("td").all_text_contents() for i in range(rates.count())] == [
            ["test_broadcast", "0/1", "0%"], ["test_shapes", "1/1", "100%"]]
        assert page.locator('[data-count="done"]').inner_text() == "1"
        progress = context.request.get(f"{hub.url}/services/dashboard/assignments/{ASSIGNMENT}"
                                       "/progress")  # what the page polls while grading runs
        assert progress.json() == {"queued": 0, "running": 0, "done": 1, "failed": 0}
        assert page.get_by_role("button", name="Draw presenters").is_visible()
        assert _fits_laptop(page)
        _shot(page, artifacts, "assignment")

        # ada's page links her returned feedback, served sandboxed (it holds her notebook's output)
        page.goto(f"{hub.url}/services/dashboard/students/ada")
        link = page.locator("#receipts-h + table a", has_text=FEEDBACK)
        feedback = context.request.get(f"{hub.url}{link.get_attribute('href')}")
        assert feedback.status == 200 and feedback.body() == FEEDBACK_HTML
        assert feedback.headers["content-security-policy"] == "sandbox"

        # ben's page: grant an extension two days past the deadline
        page.goto(f"{hub.url}/services/dashboard/students/ben")
        due = ws.course.due(ASSIGNMENT).astimezone(ws.course.zone)
        until = due + dt.timedelta(days=2)
        form = page.locator("form[action$='/students/ben/extension']")
        form.locator("select[name=assignment]").select_option(ASSIGNMENT)
        form.locator("input[name=until]").fill(f"{until:%Y-%m-%d %H:%M}")
        form.locator("input[name=reason]").fill("doctor's note")
        form.get_by_role("button", name="Grant extension").click()
        page.wait_for_url("**/students/ben")
        assert "extended 01-numpy for ben until" in page.locator(".flash.ok").inner_text()
        grants = page.locator("#grants-h + table tbody").inner_text()
        assert "extension" in grants and "ina" in grants and "doctor's note" in grants
        _shot(page, artifacts, "student-ben")
    finally:
        context.close()

    with ws.gradebook() as gb:  # recorded as `course extend` records it, by the instructor
        (row,) = gb.session.scalars(select(Extension).where(Extension.student_id == "ben"))
        assert (row.assignment_id, row.granted_by, row.reason) == (ASSIGNMENT, "ina",
                                                                   "doctor's note")
        assert row.until == until.astimezone(dt.UTC)

    context, page = _login(browser, hub, "ben")
    try:
        assert page.url.endswith("/services/dashboard/me")
        row = page.locator("#deadlines-h ~ div table tbody tr", has_text=ASSIGNMENT)
        text = row.inner_text()
        assert f"{until:%Y-%m-%d %H:%M}" in text and "extended from" in text
        assert re.search(r"in \d+ days", row.locator("time.countdown").inner_text())
        assert "You have used 0 of your 1 excused miss" in page.locator(".budget").inner_text()
        assert "doctor's note" not in page.content()  # the reason is the instructor's note
        mine = page.locator("main").inner_text()  # ada appears only as a summary co-author
        assert "7.5" not in mine and "Lovelace" not in mine and "test_shapes" not in mine
        _shot(page, artifacts, "student-me")
    finally:
        context.close()


def test_a_student_gets_403_for_every_other_page(hub, browser):
    context, page = _login(browser, hub, "ben")
    try:
        base = f"{hub.url}/services/dashboard"
        for path in ("students/ada", "students/ben", "course", f"assignments/{ASSIGNMENT}",
                     f"assignments/{ASSIGNMENT}/progress"):
            reply = page.goto(f"{base}/{path}")
            assert reply.status == 403, path
            assert "Lovelace" not in page.content()
        reply = page.goto(f"{base}/feedback/{_ada_receipt(hub)}/{FEEDBACK}")
        assert reply.status == 403 and "well done" not in page.content()
        # the student's own page carries a valid token: staff actions are refused all the same
        page.goto(f"{base}/me")
        xsrf = page.evaluate("document.cookie.match(/_xsrf=([^;]+)/)?.[1] ?? ''")
        reply = context.request.post(f"{base}/students/ben/excuse", form={
            "_xsrf": xsrf, "assignment": ASSIGNMENT, "reason": "self-service",
            "action": "grant"}, max_redirects=0)
        assert reply.status == 403, reply.status
    finally:
        context.close()
    ws = open_workspace(hub.course_file)
    with ws.gradebook() as gb:
        assert list(gb.session.scalars(select(Excuse))) == []


def test_forged_and_cross_site_posts_are_refused(hub, browser, tmp_path):
    """XSRF: the instructor's logged-in browser is made to POST without the page's token, with
    a wrong one, and from another site's auto-submitting form: all 403, nothing recorded."""
    base = f"{hub.url}/services/dashboard"
    context, page = _login(browser, hub, "ina")
    try:
        form = {"assignment": ASSIGNMENT, "reason": "forged", "action": "grant"}
        assert context.request.post(f"{base}/students/cleo/excuse", form=form,
                                    max_redirects=0).status == 403
        assert context.request.post(f"{base}/students/cleo/excuse",
                                    form={**form, "_xsrf": "2|forged|token|1"},
                                    max_redirects=0).status == 403
        assert context.request.post(f"{base}/assignments/{ASSIGNMENT}/draw", form={"count": "1"},
                                    max_redirects=0).status == 403
        attacker = tmp_path / "attacker.html"
        attacker.write_text(f"""<html><body>
<form id="f" method="post" action="{base}/students/cleo/excuse">
<input name="assignment" value="{ASSIGNMENT}"><input name="reason" value="forged">
<input name="action" value="grant"><input name="_xsrf" value="guessed"></form>
<script>document.getElementById("f").submit()</script></body></html>""")
        with page.expect_response(f"{base}/students/cleo/excuse") as response:
            page.goto(attacker.as_uri())
        assert response.value.status == 403
    finally:
        context.close()
    ws = open_workspace(hub.course_file)
    with ws.gradebook() as gb:
        assert list(gb.session.scalars(select(Excuse))) == []
        assert list(gb.session.scalars(select(Presentation))) == []


def test_the_instructor_draws_presenters_from_the_assignment_page(hub, browser, artifacts):
    context, page = _login(browser, hub, "ina")
    try:
        page.goto(f"{hub.url}/services/dashboard/assignments/{ASSIGNMENT}")
        page.get_by_role("button", name="Draw presenters").click()
        page.wait_for_url(f"**/assignments/{ASSIGNMENT}")
        assert "drew 1 of 1 students" in page.locator(".flash.ok").inner_text()
        assert "Ada Lovelace (ada)" in page.locator("#presenters-h + ul").inner_text()
    finally:
        context.close()
    ws = open_workspace(hub.course_file)
    with ws.gradebook() as gb:
        (row,) = gb.session.scalars(select(Presentation))
        assert (row.student_id, row.drawn_by) == ("ada", "ina")


def test_a_student_reads_her_own_feedback(hub, browser, artifacts):
    context, page = _login(browser, hub, "ada")
    try:
        assert "7.5/10" in page.locator("#deadlines-h ~ div table").inner_text()
        page.locator("#receipts-h + table a", has_text=FEEDBACK).click()
        page.wait_for_url(f"**/feedback/*/{FEEDBACK}")
        assert page.locator("p").inner_text() == "well done"
        _shot(page, artifacts, "feedback-ada")
    finally:
        context.close()
