"""Late days asked for from the student's dashboard page (``POST me/late-days``), against the
real service on a loopback port (only the hub's answer about a login is replaced, as in
``test_dashboard_access``), attacks first: a student spending another student's days, a forged
budget, spending past the deadline and the cut-off, withdrawing after the deadline, staff of
this course, a grader of another course, an outsider, a POST without the page's XSRF token.
Then what the student and the staff see: the days left, the penalty in the overview cell.
The service's clock is set by each test."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import requests
from small_courses import BASE_COURSE, utc
from sqlalchemy import select
from test_dashboard_access import Client, serving

from course import calendar
from course.gradebook.models import LateDayRequest, Presentation
from course.gradebook.records import add_receipt, finish_run, record_release, start_run
from course.workspace import open_workspace

A1, A2 = "01-numpy", "02-linreg"  # due Sun 2026-10-25 18:00 and 2026-11-01 18:00 (Berlin)
HOUR, DAY = dt.timedelta(hours=1), dt.timedelta(days=1)
DUE = utc(2026, 10, 25, 17)  # 01-numpy's deadline in UTC
POLICY = "policy: {excused_misses: 1}"
WINDOW = ("late: {rule: window, penalty: [{after: 0h, percent: 10}, {after: 24h, percent: 25}], "
          "cutoff: 72h}")
INSTRUCTOR_LINE = "    - {id: ina, first_name: Ina, last_name: Structor}\n"
STAFF = INSTRUCTOR_LINE + "  graders:\n    - {id: gus, first_name: Gus}\n"


def course_text(late_days: str) -> str:
    return BASE_COURSE.replace(POLICY, f"policy: {{excused_misses: 1, {late_days}, {WINDOW}}}"
                               ).replace(INSTRUCTOR_LINE, STAFF)


class Person(Client):
    """A ``Client`` whose first page (for the XSRF cookie) is its own: me for a student."""

    def __init__(self, base: str, user: str, page: str):
        super().__init__(base, user)
        self.page = page

    def post(self, path: str, form: dict) -> requests.Response:
        if "_xsrf" not in self.session.cookies:
            assert self.get(self.page).status_code == 200
        return self.session.post(self.base + path, allow_redirects=False, timeout=60,
                                 data={"_xsrf": self.session.cookies["_xsrf"], **form})


@pytest.fixture
def clock(monkeypatch):
    """The service's clock: ``clock(moment)`` sets it."""
    def set_to(moment: dt.datetime) -> None:
        monkeypatch.setattr(calendar, "utcnow", lambda: moment)
    set_to(DUE - DAY)
    return set_to


def _make(make_course, late_days: str) -> Path:
    root = make_course(course_text(late_days))
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        for assignment in (A1, A2):
            record_release(gb, assignment, "0" * 64, now=utc(2026, 10, 19, 12))
        receipt = add_receipt(gb, student_id="cleo", assignment_id=A1,
                              received_at=DUE + 5 * HOUR, sha256="c" * 64, size_bytes=1,
                              storage_path="inbox/cleo", client_timestamp=None)
        gb.commit()
        run = start_run(gb, "cleo", A1, receipt.id, "sandboxed-pytest", "v1")
        finish_run(gb, run, "success", score=10.0, max_score=10.0)
    return root / "course.yml"


@pytest.fixture
def course_file(make_course, clock):
    """on_request, 2 days each; cleo handed in 01-numpy 5 h late, graded 10/10."""
    return _make(make_course, "late_days: {budget: 2, spend: on_request}")


def _rows(course_file) -> list[tuple]:
    with open_workspace(course_file).gradebook() as gb:
        return [(r.student_id, r.assignment_id, r.days, r.requested_by, r.withdrawn_at is None)
                for r in gb.session.scalars(select(LateDayRequest).order_by(LateDayRequest.id))]


def people(client):
    """``serving``'s client maker, as ``Person``: ``people(client)("ada")``."""
    return lambda user, page="me": Person(client(user).base, user, page)


def test_a_student_spends_and_withdraws_her_own_days_from_her_page(course_file):
    with serving(course_file) as client:
        ada = people(client)("ada")
        page = ada.get("me").text
        assert "You have 2 of 2 late days left" in page and 'action="/services/dashboard/me/' \
            'late-days"' in page
        reply = ada.post("me/late-days", {"action": "spend", "assignment": A1, "days": "1"})
        assert reply.status_code == 303 and reply.headers["Location"].endswith("/me")
        page = ada.get("me").text
        assert "1 late day spent on 01-numpy" in page and "You have 1 of 2 late days left" in page
        assert _rows(course_file) == [("ada", A1, 1, "ada", True)]
        reply = ada.post("me/late-days", {"action": "withdraw", "assignment": A1})
        assert reply.status_code == 303
        assert "withdrew the late days asked for on 01-numpy" in ada.get("me").text
        assert _rows(course_file) == [("ada", A1, 1, "ada", False)]


def test_a_student_cannot_spend_another_students_days(course_file):
    with serving(course_file) as client:
        ada = people(client)("ada")
        forged = {"action": "spend", "assignment": A1, "days": "2", "student": "ben",
                  "student_id": "ben", "user": "ben", "by": "ben"}
        assert ada.post("me/late-days", forged).status_code == 303
        assert _rows(course_file) == [("ada", A1, 2, "ada", True)]  # her own, never ben's
        for path in ("students/ben/late-days", "me/late-days/ben", "students/ben/extension"):
            reply = ada.post(path, forged)
            assert reply.status_code in (403, 404), (path, reply.status_code)
        assert _rows(course_file) == [("ada", A1, 2, "ada", True)]
        ben = people(client)("ben")
        assert "You have 2 of 2 late days left" in ben.get("me").text
        reply = ben.post("me/late-days", {"action": "withdraw", "assignment": A1})
        assert reply.status_code == 303  # he has none to withdraw; hers stays
        assert "ben has no late days asked for on 01-numpy" in ben.get("me").text
        assert _rows(course_file) == [("ada", A1, 2, "ada", True)]


def test_a_forged_budget_is_ignored_and_a_request_beyond_it_refused(course_file):
    with serving(course_file) as client:
        ada = people(client)("ada")
        reply = ada.post("me/late-days", {"action": "spend", "assignment": A1, "days": "3",
                                          "budget": "99", "left": "99"})
        assert reply.status_code == 303
        assert "3 late days asked for on 01-numpy, but ada has 2 of 2 left" in \
            ada.get("me").text
        assert _rows(course_file) == []


def test_spending_past_the_deadline_and_cut_off_or_withdrawing_after_it_is_refused(
        course_file, clock):
    with serving(course_file) as client:
        ada = people(client)("ada")
        assert ada.post("me/late-days", {"action": "spend", "assignment": A2,
                                         "days": "1"}).status_code == 303
        clock(DUE + 4 * DAY)  # 01-numpy: past the deadline, 2 days and the 72 h cut-off
        reply = ada.post("me/late-days", {"action": "spend", "assignment": A1, "days": "1"})
        assert reply.status_code == 303
        assert "too late: the deadline of 01-numpy passed" in ada.get("me").text
        clock(utc(2026, 11, 1, 18))  # 02-linreg's deadline passed an hour ago
        ada.post("me/late-days", {"action": "withdraw", "assignment": A2})
        assert "the deadline of 02-linreg passed" in ada.get("me").text
        assert _rows(course_file) == [("ada", A2, 1, "ada", True)]


@pytest.mark.parametrize("user, page, status, message", [
    ("gus", "course", 403, "only students spend their own late days; gus is staff (grader)"),
    ("ina", "course", 403, "students spend their own late days; ina is staff (instructor)"),
    ("otto", None, 403, "otto is not in the roster of dl-test"),  # a grader of another course
])
def test_staff_and_people_of_other_courses_cannot_spend(course_file, user, page, status,
                                                        message):
    with serving(course_file) as client:
        person = people(client)(user, page or "me")
        if page is None:  # no page of this course opens for him, so he forges a token
            reply = person.get("me")
            assert reply.status_code == status and message in reply.text
            reply = _forged_xsrf_post(person.session, person.base)
            message = "XSRF cookie does not match"  # the hub's token is tied to a login
        else:
            reply = person.post("me/late-days", {"action": "spend", "assignment": A1,
                                                 "days": "1"})
        assert reply.status_code == status
        assert message in reply.text.replace("&#39;", "'")
    assert _rows(course_file) == []


def _forged_xsrf_post(session: requests.Session, base: str) -> requests.Response:
    """A POST carrying an XSRF cookie and a field of the sender's own making, equal: refused,
    since JupyterHub ties its token to the login."""
    session.cookies.set("_xsrf", "f0" * 16)
    return session.post(base + "me/late-days", allow_redirects=False, timeout=60,
                        data={"_xsrf": "f0" * 16, "action": "spend", "assignment": A1,
                              "days": "1"})


def test_an_outsider_and_a_post_without_the_pages_token_are_refused(course_file):
    with serving(course_file) as client:
        base = client("ada").base
        form = {"action": "spend", "assignment": A1, "days": "1"}
        outsider = requests.post(base + "me/late-days", data=form, allow_redirects=False,
                                 timeout=60)
        assert outsider.status_code == 403
        reply = _forged_xsrf_post(requests.Session(), base)  # no login at all
        assert reply.status_code == 403 and "XSRF cookie does not match" in reply.text
        ada = client("ada")  # logged in, no XSRF cookie or field: a cross-site form
        reply = ada.session.post(base + "me/late-days", data=form, allow_redirects=False,
                                 timeout=60)
        assert reply.status_code == 403 and "_xsrf" in reply.text.replace("&#39;", "'")
    assert _rows(course_file) == []


# "²" and "١" pass str.isdigit(); int() raises on the first: both are a 400, never a 500
@pytest.mark.parametrize("days", ["abc", "-1", "1e3", "9999", "", "1; DROP TABLE x", "²", "1²",
                                  "١", "１"])
def test_days_that_are_no_small_whole_number_are_a_400(course_file, days):
    with serving(course_file) as client:
        reply = people(client)("ada").post("me/late-days", {"action": "spend",
                                                             "assignment": A1, "days": days})
        assert reply.status_code == 400, reply.status_code
    assert _rows(course_file) == []


@pytest.mark.parametrize("count", ["²", "1²", "１", "1000", "-1"])
def test_a_draw_count_that_is_no_small_whole_number_is_a_400(course_file, count):
    """The presenters' draw (``DrawHandler``) reads its count the same way: "²" is a 400."""
    with serving(course_file) as client:
        reply = people(client)("ina", "course").post(f"assignments/{A1}/draw",
                                                      {"count": count})
        assert reply.status_code == 400, reply.status_code
        assert "count must be a number" in reply.text
    with open_workspace(course_file).gradebook() as gb:
        assert gb.session.scalars(select(Presentation)).all() == []


def test_an_unknown_assignment_or_action_is_refused(course_file):
    with serving(course_file) as client:
        ada = people(client)("ada")
        assert ada.post("me/late-days", {"action": "spend", "assignment": "99-x",
                                         "days": "1"}).status_code == 404
        assert ada.post("me/late-days", {"action": "steal", "assignment": A1,
                                         "days": "1"}).status_code == 400
    assert _rows(course_file) == []


def test_a_course_spending_automatically_shows_no_form_and_refuses_requests(make_course,
                                                                            clock):
    course_file = _make(make_course, "late_days: 2")
    with serving(course_file) as client:
        ada = people(client)("ada")
        page = ada.get("me").text
        assert "me/late-days" not in page and "Late days: 2 of 2 left" in page
        assert ada.post("me/late-days", {"action": "spend", "assignment": A1,
                                         "days": "1"}).status_code == 303
        assert "spends its late days automatically" in ada.get("me").text
    assert _rows(course_file) == []


def test_the_overview_cell_and_the_students_page_show_the_penalty_and_why(course_file,
                                                                             clock):
    clock(utc(2026, 11, 20))
    with serving(course_file) as client:
        overview = people(client)("ina", "course").get("course").text
        own = people(client)("cleo").get("me").text
    assert '<td class="st late" title="late by 5 h 0 min: -10 % (graded 10, counts 9)">' \
           "late 9/10 -10%</td>" in overview
    assert "<td>9/10 -10%</td><td>late by 5 h 0 min: -10 % (graded 10, counts 9)" in own


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_in_the_browser_a_student_spends_a_day_and_withdraws_it(course_file):
    """Debian's chromium through Playwright on the real service: ada's own page, its form and
    the page's XSRF token as a browser sends them (the login is the test's token header)."""
    from playwright.sync_api import sync_playwright

    with serving(course_file) as client, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_context(extra_http_headers={"Authorization": "token ada"}
                                       ).new_page()
            page.goto(client("ada").base + "me")
            section = page.locator("section", has=page.locator("#late-days-h"))
            assert "You have 2 of 2 late days left" in section.inner_text()
            row = section.locator("tr", has=page.locator("th", has_text=A1))
            row.locator("input[name=days]").fill("2")
            row.get_by_role("button", name="Spend late days").click()
            page.wait_for_load_state()
            assert "2 late days spent on 01-numpy" in page.inner_text("body")
            row = page.locator("section", has=page.locator("#late-days-h")).locator(
                "tr", has=page.locator("th", has_text=A1))
            assert "Tue 2026-10-27 18:00" in row.inner_text()  # the new deadline
            assert "You have 0 of 2 late days left" in page.inner_text("body")
            row.get_by_role("button", name="Withdraw").click()
            page.wait_for_load_state()
            assert "withdrew the late days asked for on 01-numpy" in page.inner_text("body")
            assert "You have 2 of 2 late days left" in page.inner_text("body")
        finally:
            browser.close()
    assert _rows(course_file) == [("ada", A1, 2, "ada", False)]
