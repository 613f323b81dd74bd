"""When feedback opens (the course file's ``feedback: {when: ...}``) on the real dashboard: before
its time a student's page links none and the feedback route refuses her, while staff see it;
the attacks of the route stay as they were (another student, someone not in the roster). The
service's "now" is ``NOW`` (``frozen_now``), before 01-numpy's deadline.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from small_courses import utc
from test_dashboard_access import FEEDBACK, _receipt_id, course_file, frozen_now, serving

from course.gradebook.records import grant_extension
from course.workspace import open_workspace

__all__ = ["course_file", "frozen_now"]  # fixtures, used by name

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def set_feedback(course_file, feedback: str, *, due: str | None = None) -> None:
    text = re.sub(r"policy: \{excused_misses: 1(, feedback: \{[^}]*\})?\}",
                  f"policy: {{excused_misses: 1, feedback: {feedback}}}", course_file.read_text())
    if due:  # 01-numpy due at a fixed time instead of before session 2
        text = text.replace("{id: 01-numpy, title: NumPy, for_session: 2}",
                            f"{{id: 01-numpy, title: NumPy, due: {due}}}")
    course_file.write_text(text)


def link(receipt: int) -> str:
    return f'feedback/{receipt}/{FEEDBACK}"'


@pytest.mark.parametrize("when, reason", [
    ("after_deadline", ("feedback opens after the deadline, Sun 2026-10-25 18:00 +0100 "
                        "(Europe/Berlin)")),
    ("after_hand_grading", "feedback opens once grading by hand is done")])
def test_before_its_time_a_student_gets_no_feedback_and_staff_do(course_file, when, reason):
    receipt = _receipt_id(course_file)
    route = f"feedback/{receipt}/{FEEDBACK}"
    with serving(course_file) as client:
        ada = client("ada")
        assert link(receipt) in ada.get("me").text  # at once (the default): linked and served
        assert ada.get(route).status_code == 200
        set_feedback(course_file, f"{{when: {when}}}")
        assert link(receipt) not in ada.get("me").text
        reply = ada.get(route)
        assert reply.status_code == 403 and reason in reply.text
        assert "well done" not in reply.text
        for staff in ("ina", "gus"):  # an instructor, a grader
            reply = client(staff).get(route)
            assert reply.status_code == 200 and "well done" in reply.text
        assert link(receipt) in client("ina").get("students/ada").text
        reply = client("ben").get(route)  # another student: refused as before, no reason given
        assert reply.status_code == 403 and "this feedback is another student" in reply.text
        assert reason not in reply.text
        assert client("mallory").get(route).status_code == 403  # not in the roster


def test_after_the_deadline_is_after_the_students_own_extension(course_file):
    receipt = _receipt_id(course_file)
    route = f"feedback/{receipt}/{FEEDBACK}"
    # 01-numpy was due before NOW: open, unless an extension runs past NOW
    set_feedback(course_file, "{when: after_deadline}", due="2026-10-23 18:00")
    with serving(course_file) as client:
        ada = client("ada")
        assert ada.get(route).status_code == 200 and link(receipt) in ada.get("me").text
        ws = open_workspace(course_file)
        with ws.gradebook() as gb:
            grant_extension(gb, "ada", "01-numpy", utc(2026, 10, 26, 17), "ill", by="ina")
            gb.commit()
        reply = ada.get(route)
        assert reply.status_code == 403
        assert "feedback opens after the deadline, Mon 2026-10-26 18:00 +0100" in reply.text
        assert link(receipt) not in ada.get("me").text


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_in_the_browser_the_link_appears_when_feedback_opens(course_file):
    """ada's own page in chromium (Playwright), the hub's login replaced by her token: no link
    and a refusal that says when, before its time; the link and the page once it is open."""
    from playwright.sync_api import sync_playwright

    receipt = _receipt_id(course_file)
    set_feedback(course_file, "{when: after_deadline}")
    with serving(course_file) as client, sync_playwright() as pw:
        base = client("ada").base
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            page = browser.new_context(extra_http_headers={"Authorization": "token ada"}
                                       ).new_page()
            page.goto(base + "me")
            assert page.locator(f'a[href$="feedback/{receipt}/{FEEDBACK}"]').count() == 0
            reply = page.goto(f"{base}feedback/{receipt}/{FEEDBACK}")
            assert reply.status == 403
            assert "feedback opens after the deadline, Sun 2026-10-25 18:00" in page.inner_text(
                "body")
            set_feedback(course_file, "{when: at_once}")
            page.goto(base + "me")
            links = page.locator(f'a[href$="feedback/{receipt}/{FEEDBACK}"]')
            assert links.count() == 1
            links.first.click()
            page.wait_for_load_state()
            assert "well done" in page.inner_text("body")
        finally:
            browser.close()
