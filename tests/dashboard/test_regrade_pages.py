"""Regrade requests in the dashboard, against the real service on a loopback port (only the hub's
answer about a login is replaced: ``Authorization: token ada`` is ada): a student asks on her
page, staff (a grader too: a regrade is grading) answer on the student's or the assignment's
page, and both see the history. The attacks first: a student asking for another student, for
work not handed in or not graded, after the window, for a test that does not exist, with a huge
or script-laden reason; a student answering; staff of another course and outsiders; ids no row
can have. Each refused one writes nothing.

No test reads the clock: the service's "now" is the ``clock`` fixture's."""

from __future__ import annotations

import datetime as dt
import importlib
import sys
from pathlib import Path

import pytest
from small_courses import BASE_COURSE, utc
from sqlalchemy import func, select
from test_dashboard_access import CLOCK_USERS, serving

from autograder import results
from course import calendar
from course.gradebook.models import RegradeRequest, ScoreOverride
from course.gradebook.records import add_receipt, finish_run, record_release, start_run
from course.regrades import MAX_REASON_CHARS
from course.workspace import open_workspace

AID = "01-numpy"  # due Sun 2026-10-25 18:00 Berlin
GRADED = utc(2026, 10, 26, 10)
NOW = utc(2026, 10, 28, 9)
CLOSES = GRADED + dt.timedelta(days=7)
INSTRUCTOR_LINE = "    - {id: ina, first_name: Ina, last_name: Structor}\n"
COURSE = BASE_COURSE.replace(
    "policy: {excused_misses: 1}",
    "policy: {excused_misses: 1, regrade_requests: {until: 7d}}").replace(
    INSTRUCTOR_LINE, INSTRUCTOR_LINE + "  graders:\n    - {id: gus, first_name: Gus}\n")
STUDENTS = ("ada", "ben", "cleo")
SCRIPT = "<script>alert('x')</script>"
TESTS = (results.TestScore("test_mean", "mean-tests", 0.0, 4.0, "failed"),
         results.TestScore("test_shape", None, 6.0, 6.0, "passed"))


class Clock:
    now = NOW


@pytest.fixture
def clock(monkeypatch):
    """The platform's clock reads ``Clock.now`` (set by a test) in every module that took it."""
    original = calendar.utcnow
    for name in CLOCK_USERS:
        importlib.import_module(name)
    Clock.now = GRADED
    monkeypatch.setattr(calendar, "utcnow", lambda: Clock.now)
    for module in list(sys.modules.values()):
        if getattr(module, "utcnow", None) is original:
            monkeypatch.setattr(module, "utcnow", lambda: Clock.now)
    return Clock


def _hand_in_graded(ws, gb, student: str, score: float) -> None:
    receipt = add_receipt(gb, student_id=student, assignment_id=AID,
                          received_at=utc(2026, 10, 24, 9), sha256="a" * 64, size_bytes=2,
                          storage_path=f"inbox/{AID}/{student}", client_timestamp=None)
    gb.commit()
    run = start_run(gb, student, AID, receipt.id, "sandboxed-pytest", "v1")
    finish_run(gb, run, "success", score=score, max_score=10.0)
    graded = ws.root / "autograded" / student / AID
    graded.mkdir(parents=True)
    results.GradingReport("numpy-basics", TESTS, isolation="bwrap").write(graded)


def _course(make_course, clock, text: str = COURSE):
    """ada and ben handed 01-numpy in, graded 6/10 at GRADED; cleo handed nothing in."""
    root = make_course(text)
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        for assignment in (AID, "02-linreg"):
            record_release(gb, assignment, "0" * 64, now=utc(2026, 10, 19, 12))
        for student in ("ada", "ben"):
            _hand_in_graded(ws, gb, student, 6.0)
        gb.commit()
    clock.now = NOW
    return root / "course.yml"


@pytest.fixture
def course_file(make_course, clock):
    return _course(make_course, clock)


def _rows(course_file, model) -> list:
    with open_workspace(course_file).gradebook() as gb:
        return list(gb.session.scalars(select(model).order_by(model.id)))


def _count(course_file, model) -> int:
    with open_workspace(course_file).gradebook() as gb:
        return gb.session.scalar(select(func.count()).select_from(model))


def _post(person, path: str, form: dict):
    """``person.post``, after a view of the person's own first page (it sets the XSRF cookie)."""
    if "_xsrf" not in person.session.cookies:
        person.get("me" if person.user in STUDENTS else "course")
    return person.session.post(person.base + path, allow_redirects=False, timeout=60,
                               data={"_xsrf": person.session.cookies.get("_xsrf", ""), **form})


def _ask(person, item="test_mean", reason="my mean skips NaN as asked", **extra):
    return _post(person, "me/regrades", {"assignment": AID, "item": item, "reason": reason,
                                         **extra})


def _flash(person, page: str) -> str:
    return person.get(page).text


def test_students_asking_wrongly_are_refused_and_nothing_is_written(course_file, clock):
    with serving(course_file) as client:
        ada, cleo = client("ada"), client("cleo")
        reply = _ask(ada, student="ben")  # for another student
        assert reply.status_code == 403 and "ada may ask for a regrade of their own work only" \
            in reply.text
        refused = [
            (cleo, {}, "cleo has not handed in 01-numpy"),
            (ada, {"item": "test_nope"}, "has no test or cell"),
            (ada, {"item": "x" * 300}, "at most 256 characters"),
            (ada, {"reason": " "}, "give a reason"),
            (ada, {"reason": "y" * (MAX_REASON_CHARS + 1)}, f"at most {MAX_REASON_CHARS}"),
        ]
        for person, form, message in refused:
            reply = _ask(person, **form)
            assert reply.status_code == 303, (form, reply.status_code)
            assert message in _flash(person, "me"), form
        reply = _post(ada, "me/regrades", {"assignment": "02-linreg", "item": "test_mean",
                                         "reason": "why"})
        assert reply.status_code == 303
        assert "ada has not handed in 02-linreg" in _flash(ada, "me")
        reply = _post(ada, "me/regrades", {"assignment": "99-nope", "item": "t", "reason": "r"})
        assert reply.status_code == 404
        clock.now = CLOSES + dt.timedelta(seconds=1)  # the window has closed
        assert 'action="/services/dashboard/me/regrades"' not in ada.get("me").text
        assert _ask(ada).status_code == 303
        assert "regrade requests for ada&#39;s 01-numpy closed on" in _flash(ada, "me")
    assert _count(course_file, RegradeRequest) == 0


def test_only_staff_of_this_course_answer_and_only_students_ask(course_file):
    with serving(course_file) as client:
        ada, ben, ina = client("ada"), client("ben"), client("ina")
        assert _ask(ada).status_code == 303
        (request,) = _rows(course_file, RegradeRequest)
        accept = {"action": "accept", "score": "10", "answer": "mine now"}
        for student in (ada, ben):  # the asker and another student
            reply = _post(student, f"regrades/{request.id}", accept)
            assert reply.status_code == 403 and "only the course&#39;s instructors and graders" \
                in reply.text
        for outsider in ("otto", "zoe"):  # a grader of another course; nobody's
            person = client(outsider)
            for path, form in ((f"regrades/{request.id}", accept), ("me/regrades", {})):
                reply = person.session.post(person.base + path, data=form, timeout=60,
                                            allow_redirects=False)  # no XSRF token: refused
                assert reply.status_code == 403 and "_xsrf" in reply.text, (outsider, path)
                person.session.cookies.set("_xsrf", ada.session.cookies["_xsrf"])  # with one
                reply = _post(person, path, form)
                assert reply.status_code == 403, (outsider, path, reply.status_code)
                assert f"{outsider} is not in the roster of dl-test" in reply.text
        reply = _ask(ina)  # staff ask with `course regrade file`, not as a student
        assert reply.status_code == 403 and "course regrade file" in reply.text
        for bad in (str(2**64), "999"):
            assert _post(ina, f"regrades/{bad}", accept).status_code == 404
        assert _post(ina, f"regrades/{request.id}", {"action": "delete"}).status_code == 400
        for score in ("abc", "nan", "11", "-1"):
            reply = _post(ina, f"regrades/{request.id}", {**accept, "score": score})
            assert reply.status_code == 303, score
            flash = _flash(ina, "students/ada")
            assert "give the new score as a number" in flash or "not between 0" in flash, score
    (request,) = _rows(course_file, RegradeRequest)
    assert (request.state, request.answered_by) == ("open", None)
    assert _count(course_file, ScoreOverride) == 0


def test_a_script_in_a_reason_is_shown_as_text_on_both_sides(course_file):
    with serving(course_file) as client:
        ada, ina = client("ada"), client("ina")
        assert _ask(ada, reason=f"see {SCRIPT}").status_code == 303
        _post(ina, "regrades/1", {"action": "reject", "answer": f"no {SCRIPT}"})
        for person, page in ((ada, "me"), (ina, "students/ada")):
            html = person.get(page).text
            assert SCRIPT not in html, page
            assert "see &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html, page
            assert "no &lt;script&gt;" in html, page


def test_a_student_asks_an_instructor_accepts_and_both_see_the_new_score(course_file):
    with serving(course_file) as client:
        ada, gus, ina = client("ada"), client("gus"), client("ina")
        page = ada.get("me").text
        assert 'action="/services/dashboard/me/regrades"' in page
        assert "<option>test_mean</option>" in page and "<option>mean-tests</option>" in page
        reply = _ask(ada)
        assert reply.status_code == 303 and reply.headers["Location"].endswith("/me")
        page = ada.get("me").text
        assert "asked for a regrade of test_mean in 01-numpy (request #1)" in page
        assert "my mean skips NaN as asked" in page and "not answered yet" in page
        assert "already asked for" in (_ask(ada), _flash(ada, "me"))[1]  # one open per test
        listed = ina.get(f"assignments/{AID}").text  # the open requests of the assignment
        assert 'action="/services/dashboard/regrades/1"' in listed and "my mean skips" in listed
        # what counts now, beside the form: an accepted score is final
        assert "Now: counts 6/10 (an accepted score is final: no late penalty" in listed
        reply = _post(ina, "regrades/1", {"action": "accept", "score": "9", "back": "assignment",
                                        "answer": "right: NaN-safe"})
        assert reply.status_code == 303 and reply.headers["Location"].endswith(f"/{AID}")
        assert "accepted regrade request #1: ada&#39;s 01-numpy now scores 9" in \
            ina.get(f"assignments/{AID}").text
        assert "regrades/1" not in ina.get(f"assignments/{AID}").text  # answered: not open
        reply = _post(gus, "regrades/1", {"action": "reject", "answer": "twice"})
        assert "was accepted already, by ina" in _flash(gus, "students/ada")
        page = ada.get("me").text
        assert "right: NaN-safe" in page and "accepted" in page
        assert "9/10" in page  # the new score in her deadlines table
        assert "right: NaN-safe" in ina.get("students/ada").text
    (override,) = _rows(course_file, ScoreOverride)
    assert (override.score, override.set_by) == (9.0, "ina")
    assert override.reason == "regrade request #1 (test_mean): right: NaN-safe"


def test_a_grader_may_reject_but_not_accept_unless_the_course_file_says(make_course, clock):
    """Attack: an accept sets the assignment's total, an instructor's act (like an override):
    a grader's is a 403 that writes nothing; ``graders_may_accept: true`` lets them."""
    course_file = _course(make_course, clock)
    with serving(course_file) as client:
        ada, gus = client("ada"), client("gus")
        assert _ask(ada).status_code == 303
        page = gus.get(f"assignments/{AID}").text
        assert 'value="reject"' in page and 'value="accept"' not in page
        assert 'name="score"' not in page
        reply = _post(gus, "regrades/1", {"action": "accept", "score": "10", "answer": "mine"})
        assert reply.status_code == 403
        assert "only the course&#39;s instructors accept regrade requests" in reply.text
        assert _count(course_file, ScoreOverride) == 0
        assert _rows(course_file, RegradeRequest)[0].state == "open"
        reply = _post(gus, "regrades/1", {"action": "reject", "answer": "NaN must be skipped"})
        assert reply.status_code == 303
        assert "rejected regrade request #1" in _flash(gus, "students/ada")
        course_file.write_text(course_file.read_text().replace(
            "regrade_requests: {until: 7d}",
            "regrade_requests: {until: 7d, graders_may_accept: true}"))
        assert _ask(ada, reason="see line 3").status_code == 303
        assert 'value="accept"' in gus.get(f"assignments/{AID}").text
        reply = _post(gus, "regrades/2", {"action": "accept", "score": "9", "answer": "right"})
        assert reply.status_code == 303
        assert "now scores 9" in _flash(gus, "students/ada")
    (override,) = _rows(course_file, ScoreOverride)
    assert (override.score, override.set_by) == (9.0, "gus")


@pytest.mark.parametrize("feedback", ["{show: nothing}", "{show: message, when: after_deadline}"])
def test_a_student_page_names_no_hidden_test_her_feedback_does_not_show(make_course, clock,
                                                                       feedback):
    """Attack (hidden names): at level nothing, or before her feedback opens (her extension
    runs past "now"), neither the form's choices nor a refusal names a hidden test."""
    from course.gradebook.records import grant_extension

    course_file = _course(make_course, clock, text=COURSE.replace(
        "regrade_requests: {until: 7d}}", f"regrade_requests: {{until: 7d}}, feedback: {feedback}}}"))
    with open_workspace(course_file).gradebook() as gb:
        grant_extension(gb, "ada", AID, utc(2026, 11, 6, 17), "ill", by="ina")
        gb.commit()
    with serving(course_file) as client:
        ada = client("ada")
        page = ada.get("me").text
        assert "<option>mean-tests</option>" in page
        for name in ("test_mean", "test_shape"):
            assert name not in page, name
        for named in ("test_mean", "test_nope"):
            assert _ask(ada, item=named).status_code == 303
            flash = _flash(ada, "me")
            assert f"has no test or cell &#39;{named}&#39;" in flash
            assert "test_shape" not in flash and "it has" not in flash
        assert _ask(ada, item="mean-tests").status_code == 303
        assert "asked for a regrade of mean-tests" in _flash(ada, "me")
    assert [r.item for r in _rows(course_file, RegradeRequest)] == ["mean-tests"]


def test_a_course_without_the_option_shows_no_form_and_takes_nothing(make_course, clock):
    course_file = _course(make_course, clock, text=BASE_COURSE)
    with serving(course_file) as client:
        ada = client("ada")
        assert "Regrade requests" not in ada.get("me").text
        assert _ask(ada).status_code == 303
        assert "dl-test takes no regrade requests" in _flash(ada, "me")
    assert _count(course_file, RegradeRequest) == 0


# --- in the browser, on a real JupyterHub ----------------------------------------------------

@pytest.fixture(scope="module")
def regrade_hub(tmp_path_factory):
    """The hub's demo course taking regrade requests, ada's hand-in graded 7.5/10 (the grading
    stamped at the hub's "now": the 7-day window is open while the test runs)."""
    from test_dashboard_browser import PASSWORD, _seed

    from devhub.hubcourse import build_hub_course
    from devhub.localhub import LocalHub, require_proxy

    require_proxy()
    root = tmp_path_factory.mktemp("regrades") / "course"
    course_file = build_hub_course(root, release="copy")
    text = course_file.read_text()
    course_file.write_text(text.replace(
        "roster:\n", "policy: {excused_misses: 1, regrade_requests: {until: 7d}}\nroster:\n", 1))
    _seed(course_file)
    hub = LocalHub(course_file, root / ".hub", password=PASSWORD, dashboard=True)
    hub.start(timeout=120)
    try:
        hub.wait_for(f"{hub.url}/services/dashboard/health", timeout=60)
        yield hub
    finally:
        hub.stop()


@pytest.mark.browser
@pytest.mark.e2e
@pytest.mark.slow
def test_in_the_browser_a_student_asks_staff_accept_and_she_sees_the_new_score(regrade_hub):
    from playwright.sync_api import sync_playwright
    from test_dashboard_browser import ARGS, CHROMIUM, _login

    from devhub.hubcourse import ASSIGNMENT

    if not Path(CHROMIUM).exists():
        pytest.skip("needs Debian's chromium")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            context, page = _login(browser, regrade_hub, "ada")
            form = page.locator("form.regrade-ask")
            form.locator("select[name=item]").select_option("test_broadcast")
            form.locator("textarea[name=reason]").fill(f"broadcasting works {SCRIPT}")
            form.get_by_role("button", name="Ask for a regrade").click()
            page.wait_for_url("**/services/dashboard/me")
            assert "asked for a regrade of test_broadcast" in page.locator(".flash.ok").inner_text()
            row = page.locator("tr.regrade.open")
            assert f"broadcasting works {SCRIPT}" in row.inner_text()  # shown as text
            context.close()

            context, page = _login(browser, regrade_hub, "ina")
            page.goto(f"{regrade_hub.url}/services/dashboard/assignments/{ASSIGNMENT}")
            answer = page.locator("form[action$='/regrades/1']")
            answer.locator("input[name=score]").fill("9")
            answer.locator("input[name=answer]").fill("right: broadcasting is fine")
            answer.get_by_role("button", name="Accept").click()
            page.wait_for_url(f"**/assignments/{ASSIGNMENT}")
            assert "now scores 9" in page.locator(".flash.ok").inner_text()
            context.close()

            context, page = _login(browser, regrade_hub, "ada")
            scores = page.locator("#deadlines-h ~ div table tbody tr", has_text=ASSIGNMENT)
            assert "9/10" in scores.inner_text()
            answered = page.locator("tr.regrade.accepted").inner_text()
            assert "right: broadcasting is fine" in answered and "ina" in answered
            context.close()
        finally:
            browser.close()
    with open_workspace(regrade_hub.course_file).gradebook() as gb:
        (override,) = gb.session.scalars(select(ScoreOverride)).all()
    assert (override.score, override.set_by) == (9.0, "ina")
