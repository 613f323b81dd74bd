"""Hand-ins at the edges of time: the deadline judged to the whole second every receipt is shown
with, nothing handed in before the release (the exchange's rule), and `course submit` saying
whether a hand-in is late and which submission counts. Every time is injected."""

import datetime as dt

import nbformat
import pytest
import sqlalchemy as sa
from exchange_requests import hand_in
from small_courses import BASE_COURSE

import course.calendar
import course.gradebook.records
from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from commands.main import main
from course.calendar import readable_local
from course.gradebook import Receipt
from course.gradebook.records import grant_extension, record_release
from course.inbox import receive
from course.release import folder_checksum
from course.standing import standing_data
from course.workspace import open_workspace

AID = "01-numpy"
SECOND = dt.timedelta(seconds=1)
HOUR = dt.timedelta(hours=1)


@pytest.fixture
def ws(make_course, db_url):
    return open_workspace(make_course(assignments=(AID,), db_url=db_url))


@pytest.fixture
def clock(monkeypatch):
    """Set the platform's clock (what `course submit` stamps); returns the setter."""
    def set_to(moment: dt.datetime) -> None:
        monkeypatch.setattr(course.calendar, "utcnow", lambda: moment)
        monkeypatch.setattr(course.gradebook.records, "utcnow", lambda: moment)

    return set_to


def notebook(ws) -> tuple[str, bytes]:
    (source,) = (ws.source / AID).glob("*.ipynb")
    nb = nbformat.read(source, as_version=4)
    return source.name, nbformat.writes(answer_notebook(nb, solution_cells(nb))).encode()


def release(ws, at: dt.datetime) -> None:
    """What `course release` (or a release through the exchange) leaves: the student version in
    the exchange's outbound folder and a release row."""
    outbound = ws.root / "exchange" / ws.course.id / "outbound" / AID
    outbound.mkdir(parents=True)
    name, _content = notebook(ws)
    student_version = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# NumPy")])
    (outbound / name).write_text(nbformat.writes(student_version))
    with ws.gradebook() as gb:
        record_release(gb, AID, folder_checksum(outbound), now=at, by="ina")
        gb.commit()


def submit(ws, tmp_path, student="ada") -> int:
    name, content = notebook(ws)
    work = tmp_path / f"work-{student}"
    work.mkdir(exist_ok=True)
    (work / name).write_bytes(content)
    return main(["submit", AID, str(work), "--student", student, "--course", str(ws.course_file)])


def entry(ws, as_of, student="ada") -> dict:
    students = {s["id"]: s for s in standing_data(ws, as_of)["students"]}
    return students[student]["assignments"][AID]


def receipts(ws) -> list[Receipt]:
    with ws.gradebook() as gb:
        return gb.session.scalars(sa.select(Receipt).order_by(Receipt.id)).all()


# -- item 3: the deadline is judged to the whole second shown --------------------------------

EDGE = [  # after an 18:00 deadline: received, shown as, judged
    (dt.timedelta(0), "18:00:00", "on_time"),
    (dt.timedelta(milliseconds=400), "18:00:00", "on_time"),
    (dt.timedelta(milliseconds=999), "18:00:00", "on_time"),
    (dt.timedelta(seconds=1), "18:00:01", "late"),
]


@pytest.mark.parametrize("after, shown, state", EDGE)
def test_the_deadline_is_judged_to_the_second_the_receipt_shows(ws, after, shown, state):
    """A receipt shown as 18:00:00 is on time for an 18:00 deadline (inclusive), whatever its
    fraction; 18:00:01 is late: what a student and an instructor see is what was judged."""
    due = ws.course.due(AID)
    assert f"{due.astimezone(ws.course.zone):%H:%M:%S}" == "18:00:00"
    release(ws, due - 10 * 24 * HOUR)
    name, content = notebook(ws)
    with ws.gradebook() as gb:
        receive(ws, gb, "ada", AID, {name: content}, received_at=due - HOUR)
        receive(ws, gb, "ada", AID, {name: content + b" "}, received_at=due + after)
    result = entry(ws, due + HOUR)
    assert result["state"] == "on_time"  # the earlier one is on time in any case
    # the one that counts: the edge hand-in when it is in time, else the earlier one
    counting = due + after if state == "on_time" else due - HOUR
    assert result["received_utc"] == f"{counting:%Y-%m-%dT%H:%M:%S}Z"
    assert f"{(due + after).astimezone(ws.course.zone):%H:%M:%S}" == shown


@pytest.mark.parametrize("after, shown, state", EDGE)
def test_the_edge_alone_through_submit_and_status(ws, tmp_path, clock, capsys, after, shown,
                                                   state):
    """`course submit` at the edge: its receipt line shows the second judged, its second line
    says on time or late, and status agrees."""
    due = ws.course.due(AID)
    release(ws, due - 10 * 24 * HOUR)
    clock(due + after)
    assert submit(ws, tmp_path) == 0
    out = capsys.readouterr().out
    assert f"received {AID} from ada at 2026-10-25 {shown} (Europe/Berlin)" in out
    if state == "on_time":
        assert "on time (deadline Sun 2026-10-25 18:00 +0100 (Europe/Berlin))" in out
        assert "late" not in out
    else:
        assert "late: 1 s after the deadline Sun 2026-10-25 18:00 +0100" in out
    result = entry(ws, due + HOUR)
    assert (result["state"], result["counts_as_miss"]) == (state, state == "late")
    assert result["received_utc"] == f"{due + after:%Y-%m-%dT%H:%M:%S}Z"


def test_a_receipt_is_shown_with_its_seconds(ws):
    """The dashboard shows receipts with ``readable_local``: a receipt at 18:00:59 is late and
    must not read "18:00"; a whole minute (every deadline) still reads "18:00"."""
    due = ws.course.due(AID)
    zone = ws.course.zone
    assert readable_local(due, zone) == "Sun 2026-10-25 18:00 +0100 (Europe/Berlin)"
    assert readable_local(due + 59.5 * SECOND, zone) == (
        "Sun 2026-10-25 18:00:59 +0100 (Europe/Berlin)")
    assert readable_local(due + 0.5 * SECOND, zone) == (
        "Sun 2026-10-25 18:00 +0100 (Europe/Berlin)")  # judged 18:00:00: on time


# -- item 5: nothing before the release; late hand-ins say so ---------------------------------

def test_submit_refuses_an_assignment_never_released(ws, tmp_path, clock, capsys):
    due = ws.course.due(AID)
    clock(due - HOUR)
    assert submit(ws, tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err  # one line
    assert (f"{AID} is not released yet: it cannot be handed in until it is released "
            f"(course release {AID})") in err
    assert receipts(ws) == []
    assert entry(ws, due + HOUR)["state"] == "not_released"  # as for everyone else


def test_submit_refuses_before_the_release_time_as_the_exchange_does(make_course, db_url,
                                                                      tmp_path, clock, capsys):
    from course.inbox import NotReleased
    from course.store import CourseExchange

    text = BASE_COURSE.replace("{id: 01-numpy, title: NumPy, for_session: 2}",
                               "{id: 01-numpy, title: NumPy, for_session: 2, "
                               "release: 2026-10-19 12:00}")
    ws = open_workspace(make_course(text, assignments=(AID,), db_url=db_url))
    opens = ws.course.assignment(AID).release
    release(ws, opens - 24 * HOUR)  # released early; students see it from its release: time
    name, content = notebook(ws)

    clock(opens - SECOND)
    assert submit(ws, tmp_path) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0, err
    said = (f"{AID} is not released yet: it cannot be handed in until Mon 2026-10-19 12:00 "
            "+0200 (Europe/Berlin) (its release: time)")
    assert said in err
    exchange = CourseExchange(ws.course_file)
    try:  # the same rule, the same words (the exchange answers 404 with them)
        with pytest.raises(NotReleased) as refused:
            hand_in(exchange, "ada", AID, {name: content}, opens - SECOND)
        assert str(refused.value) == said
        assert receipts(ws) == []
        assert entry(ws, opens - SECOND)["state"] == "not_released"

        clock(opens)  # from the release time on, both accept
        assert submit(ws, tmp_path) == 0
        hand_in(exchange, "ben", AID, {name: content}, opens)
    finally:
        exchange.close()
    assert [r.student_id for r in receipts(ws)] == ["ada", "ben"]
    assert entry(ws, ws.course.due(AID))["state"] == "on_time"


def test_a_late_hand_in_says_it_is_late_and_counts_as_missed(ws, tmp_path, clock, capsys):
    due = ws.course.due(AID)
    release(ws, due - 10 * 24 * HOUR)
    clock(due + dt.timedelta(minutes=3, seconds=12, microseconds=500))
    assert submit(ws, tmp_path) == 0
    out = capsys.readouterr().out
    assert f"received {AID} from ada at 2026-10-25 18:03:12 (Europe/Berlin)" in out
    assert ("late: 3 min after the deadline Sun 2026-10-25 18:00 +0100 (Europe/Berlin); late "
            "work counts as missed under this course's policy, and no submission of yours is in "
            "time") in out
    assert entry(ws, due + HOUR)["state"] == "late"


def test_a_late_resubmission_says_the_on_time_one_still_counts(ws, tmp_path, clock, capsys):
    due = ws.course.due(AID)
    release(ws, due - 10 * 24 * HOUR)
    clock(due - dt.timedelta(minutes=20, seconds=5))
    assert submit(ws, tmp_path) == 0
    first = capsys.readouterr().out
    assert ("on time (deadline Sun 2026-10-25 18:00 +0100 (Europe/Berlin)): this submission "
            "counts") in first
    clock(due + 2 * HOUR + dt.timedelta(minutes=5))
    assert submit(ws, tmp_path) == 0
    out = capsys.readouterr().out
    assert ("late: 2 h 5 min after the deadline Sun 2026-10-25 18:00 +0100 (Europe/Berlin); late "
            "work counts as missed under this course's policy; your on-time submission of "
            "2026-10-25 17:39:55 (Europe/Berlin) still counts") in out
    result = entry(ws, due + 3 * HOUR)
    assert (result["state"], result["received_utc"]) == ("on_time", "2026-10-25T16:39:55Z")


def test_late_under_an_accepting_policy_and_within_an_extension(make_course, db_url, tmp_path,
                                                                 clock, capsys):
    text = BASE_COURSE.replace("policy: {excused_misses: 1}",
                               "policy: {excused_misses: 1, late: accepted}")
    ws = open_workspace(make_course(text, assignments=(AID,), db_url=db_url))
    due = ws.course.due(AID)
    release(ws, due - 10 * 24 * HOUR)
    clock(due + dt.timedelta(days=1, hours=2))
    assert submit(ws, tmp_path, "ada") == 0
    assert ("late: 1 day 2 h after the deadline Sun 2026-10-25 18:00 +0100 (Europe/Berlin); "
            "late work is accepted under this course's policy: this submission counts, marked "
            "late") in capsys.readouterr().out

    with ws.gradebook() as gb:
        grant_extension(gb, "ben", AID, due + 24 * HOUR, "ill", by="ina")
        gb.commit()
    clock(due + 5 * HOUR)
    assert submit(ws, tmp_path, "ben") == 0
    assert ("5 h 0 min after the deadline, within your extension until Mon 2026-10-26 18:00 "
            "+0100 (Europe/Berlin): this submission counts") in capsys.readouterr().out
    assert entry(ws, due + 2 * 24 * HOUR, "ben")["state"] == "extended"
