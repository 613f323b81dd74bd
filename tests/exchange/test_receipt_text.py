"""What a student reads of a receipt in JupyterLab's Assignments panel, and the time zone nbgrader
shows times in (issue 28, item 11).

nbgrader's panel prints a submission's ``timestamp`` as it is, so the exchange client gives it
the receipt as the student reads it: the time in the course's zone to the second and "on time",
"on time (extension)" or "late by ..." (``course.store.CourseExchange.judged``, the policy's
judgement to the second), and "no feedback yet" until feedback has come; the receipt's own stamp
stays ``receipt_timestamp`` and names the feedback folder. The formgrader shows due dates and
submission times in the course's zone (nbgrader's ``NbGraderAPI.timezone``).
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import nbformat
import pytest
from exchange_requests import hand_in, publish, request
from small_courses import BASE_COURSE
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from course.gradebook.records import grant_extension
from course.store import CourseExchange
from exchange import wire
from exchange.client import ExchangeList, configure, receipt_text

AID = "01-numpy"
HUB_CONFIG = Path(__file__).resolve().parents[2] / "hub_config"


@pytest.fixture
def course_file(make_course):
    return publish(make_course(BASE_COURSE, assignments=(AID,)), AID)


def solved(course_file) -> dict[str, bytes]:
    (source,) = (course_file.parent / "assignments" / AID).glob("*.ipynb")
    nb = nbformat.read(source, as_version=4)
    return {source.name: nbformat.writes(answer_notebook(nb, solution_cells(nb))).encode()}


def test_receipts_read_in_the_course_zone_to_the_second_with_the_verdict(course_file):
    ex = CourseExchange(course_file)
    try:
        due = ex.ws.course.due(AID)  # Sunday 2026-10-25 18:00 in Berlin (CET, after DST ends)
        assert due.astimezone(ex.ws.course.zone).strftime("%H:%M") == "18:00"
        files = solved(course_file)
        in_time = hand_in(ex, "ada", AID, files, due - dt.timedelta(
            hours=2, microseconds=-172662))
        late = hand_in(ex, "ben", AID, files, due + dt.timedelta(
            minutes=3, seconds=5, microseconds=999))
        grant_extension(ex.gb, "cleo", AID, due + dt.timedelta(days=2), reason="ill", by="ina")
        ex.gb.commit()
        extended_view = hand_in(ex, "cleo", AID, files, due + dt.timedelta(days=1))
        notice = extended_view["notice"]
    finally:
        ex.close()

    assert in_time["timezone"] == "Europe/Berlin"
    assert in_time["received_local"] == "2026-10-25 16:00:00 (Europe/Berlin)"
    assert in_time["verdict"] == "on time"
    assert receipt_text(in_time) == "2026-10-25 16:00:00 (Europe/Berlin): on time"
    assert in_time["timestamp"].endswith(" UTC")  # the stamp itself is unchanged (UTC)
    assert receipt_text(late) == "2026-10-25 18:03:05 (Europe/Berlin): late by 3 min"
    assert extended_view["verdict"] == "on time (extension)"
    assert extended_view["deadline_local"].startswith("Tue 2026-10-27 18:00 +0100")
    assert "within your extension" in notice and "this submission counts" in notice
    # a service that sends no judgement: the stamp as it is
    assert receipt_text({"timestamp": "2026-10-25 15:00:00.000001 UTC"}) == \
        "2026-10-25 15:00:00.000001 UTC"


def test_the_service_replies_to_a_submission_with_the_judged_receipt(course_file):
    code, reply = request(course_file, "ada", "POST", f"submissions/{AID}",
                          {"files": wire.encode_files(solved(course_file))})
    assert code == 201, reply
    assert reply["timezone"] == "Europe/Berlin"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \(Europe/Berlin\)",
                        reply["received_local"])
    assert re.fullmatch(r"on time|late by .+", reply["verdict"])
    assert reply["deadline"] and reply["notice"]  # the whole sentence, as `course submit` says
    assert re.match(r"(on time|late)", reply["notice"])


def test_the_panel_row_says_no_feedback_yet_and_view_feedback_points_at_the_page(tmp_path):
    lister = ExchangeList(config=Config())
    lister.assignment_dir = str(tmp_path)
    row = {"course_id": "dl-test", "student_id": "ada", "assignment_id": AID, "receipt_id": 7,
           "timestamp": "2026-10-25 15:00:00.172662 UTC",
           "received_local": "2026-10-25 16:00:00 (Europe/Berlin)", "verdict": "on time",
           "notebooks": ["numpy-basics"], "feedback": {}}
    info = lister._submission(row)
    assert info["timestamp"] == "2026-10-25 16:00:00 (Europe/Berlin): on time, no feedback yet"
    assert info["receipt_timestamp"] == row["timestamp"]
    assert info["local_feedback_path"] is None

    page = tmp_path / AID / "feedback" / row["timestamp"] / "numpy-basics.html"
    page.parent.mkdir(parents=True)
    page.write_text("<html>feedback</html>")
    fetched = {**row, "feedback": {"numpy-basics.html": wire.md5(page.read_bytes())}}
    info = lister._submission(fetched)
    assert info["timestamp"] == "2026-10-25 16:00:00 (Europe/Berlin): on time"
    # nbgrader's "view feedback" goes to this path in the file browser: the page itself
    assert info["local_feedback_path"] == str(page)
    assert info["has_local_feedback"] and not info["feedback_updated"]


def test_the_formgrader_and_students_servers_show_times_in_the_courses_zone(
        course_file, monkeypatch):
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    monkeypatch.setenv("COURSE_FILE", str(course_file))
    monkeypatch.delenv("COURSE_EXCHANGE_URL", raising=False)
    loader = PyFileConfigLoader("nbgrader_config.py", path=str(HUB_CONFIG / "formgrader"))
    config = loader.load_config()
    assert config.NbGraderAPI.timezone == "Europe/Berlin"
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    assignment = api.get_assignment(AID)
    assert assignment["display_duedate"] == "2026-10-25 18:00:00 CET", assignment

    monkeypatch.setenv("COURSE_TIMEZONE", "Europe/Berlin")
    monkeypatch.setenv("COURSE_ID", "dl-test")
    student = PyFileConfigLoader("nbgrader_config.py",
                                 path=str(HUB_CONFIG / "singleuser")).load_config()
    assert student.NbGraderAPI.timezone == student.Exchange.timezone == "Europe/Berlin"
    assert student.CourseDirectory.course_id == "dl-test"

    c = Config()
    configure(c, course_id="dl-test")  # no zone given: nbgrader's own default stays
    assert "timezone" not in c.NbGraderAPI
