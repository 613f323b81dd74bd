"""The dashboard's alike-code list (on the assignment page) and its side-by-side view of a pair,
against the real service on a loopback port (``serving``: only the hub's answer about a login is
replaced). Staff only: a student, a grader of another course and an outsider are refused; ids
that are not the course's, and path tricks, are 404s; the students' code is shown escaped.

No test reads the clock: the service's "now" is ``NOW`` (``frozen_now``).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from pathlib import Path

import pytest
from test_dashboard_access import frozen_now, serving  # noqa: F401 (a fixture)

from course.code_similarity import Fingerprints
from course.collect import collect
from course.inbox import receive
from course.release import release
from course.roles import role_in
from course.workspace import open_workspace

AID = "01-numpy"
COURSE = """\
id: dl-test
title: Deep Learning (test)
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
assignments:
  - {id: 01-numpy, title: NumPy, due: 2026-10-25 18:00}
roster:
  instructors: [{id: ina}]
  graders: [{id: gus}]
  students: [{id: ada}, {id: ben}, {id: cleo}]
"""
OTHER_COURSE = COURSE.replace("id: dl-test", "id: dl-other").replace("{id: gus}", "{id: gil}")

# ada's solution, with markup in its strings and comments; ben's is hers with other names
ADA = '''\
def matmul_loops(A, B):
    """Matrix product of A (n, m) and B (m, p) computed with Python loops."""
    A = np.asarray(A)
    B = np.asarray(B)
    if A.shape[1] != B.shape[0]:
        raise ValueError("<script>alert('xss')</script> incompatible shapes")
    result = np.zeros((A.shape[0], B.shape[1]), dtype=np.result_type(A, B, float))
    for row in range(A.shape[0]):
        for col in range(B.shape[1]):
            total = 0
            for k in range(A.shape[1]):
                total = total + A[row, k] * B[k, col]
            result[row, col] = total
    return result  # </pre><img src=x onerror="alert(2)">
'''
BEN = (ADA.replace("result", "out").replace("total", "acc").replace("row", "r")
       .replace("col", "c"))


def _handed_in(released: bytes, source: str) -> bytes:
    nb = json.loads(released)
    for cell in nb["cells"]:
        if cell.get("metadata", {}).get("nbgrader", {}).get("grade_id") == "matmul_loops":
            cell["source"] = source
    return json.dumps(nb).encode()


@pytest.fixture
def course_file(make_course, frozen_now) -> Path:  # noqa: F811 (the imported fixture)
    """dl-test, 01-numpy released; ada and ben (hers renamed) and cleo (the template) handed in,
    collected."""
    root = make_course(COURSE, assignments=(AID,))
    ws = open_workspace(root / "course.yml")
    release(ws, AID, now=frozen_now - dt.timedelta(days=5))
    (name,) = [p.name for p in (ws.source / AID).glob("*.ipynb")]
    released = (ws.root / "exchange" / ws.course.id / "outbound" / AID / name).read_bytes()
    with ws.gradebook() as gb:
        for student, content in [("ada", _handed_in(released, ADA)),
                                 ("ben", _handed_in(released, BEN)), ("cleo", released)]:
            receive(ws, gb, student, AID, {name: content},
                    received_at=frozen_now - dt.timedelta(hours=1))
    assert len(collect(ws, AID)) == 3
    return ws.course_file


PAIR = f"assignments/{AID}/similarity/ada/ben"


def assignment_page(person):
    """The assignment page once its alike-code list is computed (on the similarity thread: a
    view may come back before it is done, saying so; a bound, not a clock, ends the wait)."""
    for _ in range(120):
        page = person.get(f"assignments/{AID}")
        if page.status_code != 200 or "Alike code (being computed)" not in page.text:
            return page
    raise AssertionError("the alike-code list was never computed")


def test_staff_see_the_pair_listed_and_side_by_side(course_file):
    with serving(course_file) as client:
        for user in ("ina", "gus"):  # an instructor and a grader of the course
            person = client(user)
            page = assignment_page(person)
            assert page.status_code == 200, (user, page.status_code)
            assert "Alike code (1)" in page.text
            assert f'href="/services/dashboard/{PAIR}"' in page.text
            assert "never an automatic penalty" in page.text
            assert "cleo" not in page.text.split('id="similar"')[1]  # the template only

            view = person.get(PAIR)
            assert view.status_code == 200, (user, view.status_code)
            assert view.headers["Cache-Control"] == "no-store"
            assert "ada and ben side by side" in view.text
            assert "never an automatic penalty" in view.text
            assert "<mark>" in view.text and "100% of ada" in view.text
            # the pair in the other order is the same two students
            assert person.get(f"assignments/{AID}/similarity/ben/ada").status_code == 200


def test_the_students_code_is_shown_escaped(course_file):
    with serving(course_file) as client:
        view = client("ina").get(PAIR).text
    assert "<script>alert" not in view and "<img src=x" not in view
    assert "&lt;script&gt;alert(&#39;xss&#39;)&lt;/script&gt;" in view
    assert "&lt;/pre&gt;&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in view


@pytest.mark.parametrize("user", ["ada", "ben", "cleo"])
def test_students_are_refused_even_their_own_pair(course_file, user):
    with serving(course_file) as client:
        person = client(user)
        for path in (PAIR, f"assignments/{AID}", f"assignments/{AID}/similarity/ben/cleo"):
            reply = person.get(path)
            assert reply.status_code == 403, (user, path, reply.status_code)
            assert "acc = acc" not in reply.text and "total = total" not in reply.text
        assert "Alike code" not in person.get("me").text


def test_a_grader_of_another_course_and_an_outsider_are_refused(course_file, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "course.yml").write_text(OTHER_COURSE)  # gil grades there, not here
    with serving(course_file) as client:
        for user in ("gil", "mallory"):
            for path in (PAIR, f"assignments/{AID}"):
                reply = client(user).get(path)
                assert reply.status_code == 403, (user, path, reply.status_code)
                assert f"{user} is not in the roster of dl-test" in reply.text
        anonymous = client("ina")
        anonymous.session.headers.pop("Authorization")
        reply = anonymous.get(PAIR)
        assert reply.status_code == 302  # to the hub's login, nothing of the page
        assert reply.headers["Location"].startswith("/hub/api/oauth2/authorize")
    assert role_in(open_workspace(other / "course.yml").course, "gil").name == "grader"


def test_every_other_page_is_served_while_the_pairs_are_computed(course_file, monkeypatch):
    """The first look after a restart fingerprints every hand-in, which takes seconds for a
    course: here a fingerprinting step that waits for the test. Meanwhile the assignment page
    says the list is being computed, and every other page (a student's first) is served; once
    the step goes on, the list is there."""
    started, go_on, calls = threading.Event(), threading.Event(), []
    real_get = Fingerprints.get

    def slow_get(self, notebook, template):
        calls.append(threading.current_thread().name)
        started.set()
        assert go_on.wait(120), "the test never let the fingerprinting go on"
        return real_get(self, notebook, template)

    monkeypatch.setattr(Fingerprints, "get", slow_get)
    with serving(course_file) as client:
        ina, ada = client("ina"), client("ada")
        try:
            page = ina.get(f"assignments/{AID}")
            assert page.status_code == 200
            assert "Alike code (being computed)" in page.text and "Reload" in page.text
            assert "side by side" not in page.text
            assert started.wait(60)  # the fingerprinting is under way, and waits for the test
            me = ada.get("me")
            assert me.status_code == 200 and "my standing in" in me.text
            for path in ("students/ben", "course", f"assignments/{AID}"):
                reply = ina.get(path)
                assert reply.status_code == 200, (path, reply.status_code)
            assert "Alike code (being computed)" in reply.text
            assert not go_on.is_set() and calls == ["dashboard-similarity_0"]  # one step, off
            # the data thread: the second look joined the comparison under way
        finally:
            go_on.set()
        page = assignment_page(ina)
        assert "Alike code (1)" in page.text
        assert f'href="/services/dashboard/{PAIR}"' in page.text
        assert set(calls) == {"dashboard-similarity_0"}


def test_a_comparison_that_fails_is_said_and_tried_again(course_file, monkeypatch):
    real_get, failures = Fingerprints.get, [RuntimeError("copydetect broke")]

    def failing_once(self, notebook, template):
        if failures:
            raise failures.pop()
        return real_get(self, notebook, template)

    monkeypatch.setattr(Fingerprints, "get", failing_once)
    with serving(course_file) as client:
        ina = client("ina")
        page = assignment_page(ina)
        assert page.status_code == 200
        assert "Alike code (not compared)" in page.text
        assert "could not be compared (the dashboard's log says why)" in page.text
        assert "copydetect broke" not in page.text
        assert "Alike code (1)" in assignment_page(ina).text  # the next look compares again


BAD_PATHS = [
    f"assignments/{AID}/similarity/ada/zoe",          # not in the roster
    f"assignments/{AID}/similarity/zoe/ada",
    f"assignments/{AID}/similarity/ina/ada",          # staff, not a student
    f"assignments/{AID}/similarity/ada/ada",          # one student is no pair
    "assignments/99-nothing/similarity/ada/ben",      # not the course's assignment
    f"assignments/{AID}/similarity/..%2F..%2Fada/ben",
    f"assignments/{AID}/similarity/%2e%2e/ben",
    f"assignments/{AID}/similarity/ada%2F..%2Fben/ben",
    f"assignments/{AID}/similarity/ada/ben/extra",
    f"assignments/{AID}/similarity/ada",
    "assignments/..%2F01-numpy/similarity/ada/ben",
    f"assignments/{AID}/similarity/ada/%00",
]


def test_ids_not_in_the_course_and_path_tricks_are_404(course_file):
    with serving(course_file) as client:
        ina = client("ina")
        for path in BAD_PATHS:
            reply = ina.get(path)
            assert reply.status_code == 404, (path, reply.status_code)
            assert "acc = acc" not in reply.text
        assert ina.get(PAIR).status_code == 200  # and it goes on answering
        # a student refused before the ids are looked at: no 404 tells her who is enrolled
        for path in BAD_PATHS[:5]:
            assert client("ada").get(path).status_code == 403, path


CHROMIUM = "/usr/bin/chromium"


@pytest.mark.browser
@pytest.mark.e2e
@pytest.mark.slow
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_a_grader_opens_the_pair_from_the_assignment_page_in_the_browser(course_file):
    """In chromium: the grader follows the pair's link from the assignment page to the
    side-by-side view; the shared code is marked on both sides, the template's lines are grey,
    ada's markup is text on the page (no element, no alert)."""
    from playwright.sync_api import sync_playwright

    with serving(course_file) as client, sync_playwright() as pw:
        base = client("gus").base
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu"])
        try:
            context = browser.new_context(viewport={"width": 1366, "height": 768},
                                          extra_http_headers={"Authorization": "token gus"})
            page = context.new_page()
            page.set_default_timeout(60_000)
            dialogs = []
            page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
            for _ in range(120):  # until the list is computed (the page says when it is not)
                page.goto(f"{base}assignments/{AID}")
                if "being computed" not in page.locator("#similar-h").inner_text():
                    break
            row = page.locator("#similar table tbody tr")
            assert row.count() == 1
            assert row.locator("td").all_text_contents()[:4] == ["ada and ben", "numpy-basics.ipynb",
                                                                 "100%", "100%"]
            row.get_by_role("link", name="side by side").click()
            page.wait_for_url(f"**/{PAIR}")
            sides = page.locator("figure.code-side")
            assert sides.count() == 2
            ada, ben = sides.nth(0), sides.nth(1)
            assert ada.locator("figcaption").inner_text() == "ada"
            assert "total = total + A[row, k] * B[k, col]" in " ".join(
                ada.locator("mark").all_text_contents())
            assert "acc = acc + A[r, k] * B[k, c]" in " ".join(
                ben.locator("mark").all_text_contents())
            grey = ada.locator(".template").all_text_contents()
            assert "import numpy as np" in grey and "def matmul_loops(A, B):" in grey
            assert "<script>alert('xss')</script>" in ada.locator("pre").inner_text()
            assert page.locator("pre script, pre img").count() == 0 and dialogs == []
            # the two sides stand next to each other on a laptop screen
            first, second = ada.bounding_box(), ben.bounding_box()
            assert first["x"] + first["width"] <= second["x"] and first["y"] == second["y"]
            context.close()
        finally:
            browser.close()


def test_before_the_release_the_page_says_nothing_is_compared(course_file):
    ws = open_workspace(course_file)
    for notebook in (ws.root / "exchange" / ws.course.id / "outbound" / AID).glob("*.ipynb"):
        notebook.unlink()  # no template to take out
    with serving(course_file) as client:
        page = client("ina").get(f"assignments/{AID}")
    assert page.status_code == 200
    assert "Alike code (0)" in page.text and "Not released yet" in page.text
