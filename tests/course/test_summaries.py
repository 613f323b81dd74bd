"""Session-summary rotation, Friday-noon deadlines across DST, and handing summaries in."""

import datetime as dt
import json
import textwrap
from collections import Counter

import pytest
from small_courses import BASE_COURSE, utc

from commands.main import main
from course import calendar
from course.coursefile import CourseFileError, parse_course
from course.errors import UserError
from course.summaries import receive_summary
from course.summary_rota import latest_summaries, rotation, summary_deadline
from course.workspace import open_workspace

ROSTER = [f"s{n}" for n in range(7)]


@pytest.mark.parametrize("per_session", [1, 2, 3])
def test_nobody_gets_a_second_turn_before_everyone_had_one(per_session):
    plan = rotation(ROSTER, 20, per_session, {})
    turns = Counter()
    for number in range(1, 21):
        authors = plan[number]
        assert len(authors) == len(set(authors)) == per_session
        for author in authors:
            # before anyone's (k+1)-th turn, everyone has had k turns
            assert turns[author] == min(turns[s] for s in ROSTER)
            turns[author] += 1
        assert max(turns.values()) - min(turns[s] for s in ROSTER) <= 1


def test_rotation_is_deterministic_and_a_pure_function():
    unavailable = {"s1": {1, 2}, "s4": {3}}
    assert rotation(ROSTER, 12, 2, unavailable) == rotation(list(ROSTER), 12, 2, dict(unavailable))


def test_unavailability_is_respected_and_made_up_later():
    unavailable = {"s0": {1, 2, 3}, "s3": {4}}
    plan = rotation(ROSTER, 14, 2, unavailable)
    for student, sessions in unavailable.items():
        assert all(student not in plan[number] for number in sessions)
    turns = Counter(author for authors in plan.values() for author in authors)
    assert set(turns.values()) == {4}  # 14 sessions x 2 = 28 turns for 7 students
    assert "s0" in plan[4]  # first free session: the one who missed out comes first


def test_pinned_sessions_keep_their_authors_and_count_as_turns():
    plan = rotation(ROSTER, 7, 1, {}, pinned={1: ["s5"]})
    assert plan[1] == ["s5"] and sorted(a for authors in plan.values() for a in authors) == ROSTER


def course_with_sessions(*dates, zone="Europe/Berlin", rule=""):
    sessions = "\n".join(f'  - {{date: {d}, start: "10:15"}}' for d in dates)
    return parse_course(textwrap.dedent(f"""\
        id: c
        title: T
        timezone: {zone}
        withdrawal_deadline: 2027-12-01
        sessions:
        {sessions}
        {rule}
        """))


@pytest.mark.parametrize(
    "session, deadline_utc",
    [
        ("2026-10-20", utc(2026, 10, 23, 10)),  # Tue -> Fri, summer time (UTC+2)
        ("2026-10-23", utc(2026, 10, 30, 11)),  # Fri -> next Fri, after the change on Oct 25
        ("2026-10-27", utc(2026, 10, 30, 11)),  # Tue after the change -> winter time (UTC+1)
        ("2027-03-23", utc(2027, 3, 26, 11)),  # week before the last Sunday of March
        ("2027-03-26", utc(2027, 4, 2, 10)),  # Fri -> Fri across the change on Mar 28
    ],
)
def test_friday_noon_is_exact_in_utc_across_dst(session, deadline_utc):
    course = course_with_sessions(session)
    deadline = summary_deadline(course, 1)
    assert deadline == deadline_utc
    assert deadline.astimezone(course.zone).strftime("%a %H:%M") == "Fri 12:00"


def test_deadline_rule_from_the_course_file_and_another_zone():
    course = course_with_sessions(
        "2026-10-29", zone="America/New_York",
        rule='summaries: {per_session: 3, deadline: {weekday: monday, time: "09:00"}}')
    assert course.summaries.per_session == 3
    assert summary_deadline(course, 1) == utc(2026, 11, 2, 14)  # EST after Nov 1


# ---- handing in, on SQLite and PostgreSQL ----

SUMMARY = "# Key topics\n\n- perceptron\n\n![board](board.png)\n"


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_add_summary_stores_it_and_summaries_shows_states(make_course, db_url, capsys, tmp_path):
    root = make_course(db_url=db_url)
    (tmp_path / "summary.md").write_text(SUMMARY)
    (tmp_path / "board.png").write_bytes(b"\x89PNG\r\n")
    code, out, _ = run(capsys, "summaries", "add", "1", str(tmp_path / "summary.md"),
                       str(tmp_path / "board.png"), "--course", str(root))
    assert code == 0 and "session 1 by ada, ben" in out
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        row = latest_summaries(gb)[1]
    stored = root / row.storage_path
    assert (stored / "summary.md").read_text() == SUMMARY and (stored / "board.png").is_file()
    assert not list(stored.parent.glob(".*partial"))

    # the instructor hands in session 2's on time, by date and with other authors
    with ws.gradebook() as gb:
        receive_summary(ws, gb, dt.date(2026, 10, 27), {"s.md": b"# Done\n"}, submitted_by="ina",
                        authors=["cleo", "ada"], received_at=utc(2026, 10, 29, 9))
    code, out, _ = run(capsys, "summaries", "--format", "json", "--as-of", "2026-11-05 12:00",
                       "--course", str(root))
    duties = {d["session"]: d for d in json.loads(out)}
    assert code == 0
    assert duties[1]["state"] == "overdue"  # received only "now", after --as-of
    assert duties[2]["state"] == "handed_in" and duties[2]["authors"] == ["cleo", "ada"]
    assert duties[3]["state"] == "pending"
    assert duties[3]["deadline_local"] == "2026-11-06T12:00:00+01:00"
    assert duties[3]["deadline_utc"] == "2026-11-06T11:00:00Z"
    code, out, _ = run(capsys, "summaries", "--course", str(root))
    assert code == 0 and "late" in out and "handed_in" in out  # session 1 handed in late


def test_a_student_hands_in_only_their_own_summary(make_course, db_url):
    ws = open_workspace(make_course(db_url=db_url))
    with ws.gradebook() as gb:
        row = receive_summary(ws, gb, 1, {"s.md": b"ok\n"}, submitted_by="ben")
        assert row.authors == "ada ben" and row.submitted_by == "ben"
        with pytest.raises(UserError, match="cleo is not an author of the summary of session 1"):
            receive_summary(ws, gb, 1, {"s.md": b"ok\n"}, submitted_by="cleo")


@pytest.mark.parametrize(
    "files, extra, message",
    [
        ({"s.md": SUMMARY}, [], "line 5: image 'board.png' is missing"),
        ({"s.md": "# T\n\n```python\nx = 1\n"}, [], "line 3: a code block opened here is never"),
        ({"s.md": "   \n"}, [], "the summary is empty"),
        ({"s.md": b"\xff\xfe broken"}, [], "s.md: not UTF-8 text"),
        ({"s.md": "![x](http://example.org/x.png)\n"}, [], "remote images"),
        ({"s.md": "# ok\n", "notes.pdf": b"%PDF"}, [], "notes.pdf: only images"),
        ({"s.md": "# ok\n"}, ["--author", "zed"], "unknown student 'zed'"),
    ],
)
def test_bad_summaries_are_refused_with_a_clear_message(make_course, capsys, tmp_path, files,
                                                        extra, message):
    root = make_course()
    paths = []
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        paths.append(str(path))
    code, out, err = run(capsys, "summaries", "add", "1", *paths, *extra, "--course", str(root))
    assert code == 2 and message in err and out == ""
    assert not (root / "summaries").exists() or not any((root / "summaries").rglob("*.md"))


@pytest.mark.parametrize("session, message", [("9", "unknown session 9: the course has 3"),
                                              ("2026-10-21", "no session on 2026-10-21"),
                                              ("soon", "expected a session number or a date")])
def test_unknown_session_is_refused(make_course, capsys, tmp_path, session, message):
    root = make_course()
    (tmp_path / "s.md").write_text("# ok\n")
    code, _, err = run(capsys, "summaries", "add", session, str(tmp_path / "s.md"),
                       "--course", str(root))
    assert code == 2 and message in err


def test_unavailable_sessions_are_checked_in_the_course_file():
    text = BASE_COURSE.replace("{id: ben, first_name: Ben}",
                               "{id: ben, first_name: Ben, unavailable: [2, 2026-10-21]}")
    with pytest.raises(CourseFileError,
                       match=r"course.yml:\d+: roster.students\[1\].unavailable\[1\]: "
                             r"unknown session: no session on 2026-10-21"):
        parse_course(text)
    course = parse_course(text.replace("2026-10-21", "2026-11-03"))
    assert course.unavailable_sessions("ben") == {2, 3}


def test_summary_deadline_uses_calendar():
    course = course_with_sessions("2026-10-20")
    assert calendar.weekday_after(dt.date(2026, 10, 23), "friday", dt.time(12), course.zone) \
        == utc(2026, 10, 30, 11)  # a Friday session: the following Friday
