"""The announced summary rota: it stays put; a drop, a new unavailability or a hand-in by other
authors only refills the vacated slots (with a notice); pin and swap change the slots named."""

import json

import pytest
from small_courses import utc

from commands.main import main
from course.summaries import receive_summary
from course.summary_rota import Vacancy, current_rota, settle
from course.workspace import open_workspace

STUDENTS = ["ada", "ben", "cleo", "dan", "eve", "fay"]
COURSE = """\
id: rota
title: Rota
timezone: Europe/Berlin
withdrawal_deadline: 2026-12-01
sessions:
  - {date: 2026-10-20, start: "10:15", topic: One}
  - {date: 2026-10-27, start: "10:15", topic: Two}
  - {date: 2026-11-03, start: "10:15", topic: Three}
  - {date: 2026-11-10, start: "10:15", topic: Four}
  - {date: 2026-11-17, start: "10:15", topic: Five}
  - {date: 2026-11-24, start: "10:15", topic: Six}
summaries: {per_session: 2}
roster:
  instructors:
    - {id: ina, first_name: Ina}
  students:
""" + "".join(f"    - {{id: {s}, first_name: {s.title()}}}\n" for s in STUDENTS)

AFTER_SESSION_3 = "2026-11-04 09:00"  # sessions 1-3 held, session 3's summary still due


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def shown(capsys, root, as_of=AFTER_SESSION_3):
    """The rota as `course summaries --format json` shows (and thereby announces) it."""
    code, out, err = run(capsys, "summaries", "--format", "json", "--as-of", as_of,
                         "--course", str(root))
    assert code == 0, err
    return {d["session"]: d["authors"] for d in json.loads(out)}, err


@pytest.fixture
def root(make_course):
    return make_course(COURSE)


def test_a_drop_refills_only_the_dropped_students_slots_and_says_so(root, capsys):
    before, _ = shown(capsys, root)
    dan = [n for n, authors in before.items() if "dan" in authors]
    assert dan == [2, 5]  # session 2 was held, its summary is still due
    code, out, err = run(capsys, "roster", "drop", "dan", "--reason", "left", "--course",
                         str(root))
    assert code == 0, err
    after, later = shown(capsys, root)
    for number in before:
        if number not in dan:
            assert after[number] == before[number]  # held or not: announced authors stay
        else:
            kept = [a for a in before[number] if a != "dan"]
            new = [a for a in after[number] if a not in kept]
            assert len(after[number]) == 2 and "dan" not in after[number] and len(new) == 1
            assert [a for a in after[number] if a in kept] == kept
            notice = f"session {number} ("
            line = next(line for line in (out + err).splitlines() if notice in line)
            assert "dan" in line and new[0] in line and "due" in line
    assert later == ""  # told once, at the drop; the refill is recorded


def test_a_summary_handed_in_by_other_authors_leaves_later_sessions_alone(root, capsys):
    before, _ = shown(capsys, root)
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        receive_summary(ws, gb, 1, {"s.md": b"# One\n"}, submitted_by="ina",
                        authors=["eve", "fay"], received_at=utc(2026, 10, 22, 9))
    after, _ = shown(capsys, root)
    assert after[1] == ["eve", "fay"]
    assert {n: a for n, a in after.items() if n != 1} == \
        {n: a for n, a in before.items() if n != 1}


def test_a_swap_changes_exactly_the_two_slots(root, capsys):
    before, _ = shown(capsys, root)
    assert before[2] == ["cleo", "dan"] and before[4] == ["ada", "ben"]
    code, out, err = run(capsys, "summaries", "swap", "2", "dan", "4", "ben",
                         "--reason", "dan is ill that week", "--course", str(root))
    assert code == 0, err
    assert "session 2" in out and "session 4" in out
    after, _ = shown(capsys, root)
    assert after[2] == ["cleo", "ben"] and after[4] == ["ada", "dan"]
    assert {n: a for n, a in after.items() if n not in (2, 4)} == \
        {n: a for n, a in before.items() if n not in (2, 4)}
    code, out, _ = run(capsys, "summaries", "history", "--course", str(root))
    assert code == 0 and "swap" in out and "dan is ill that week" in out and "ina" in out


@pytest.mark.parametrize("argv, message", [
    (["2", "ada", "4", "ben"], "ada does not write the summary of session 2"),
    (["2", "dan", "4", "cleo"], "cleo does not write the summary of session 4"),
    (["2", "dan", "2", "cleo"], "two different sessions"),
    (["1", "ada", "2", "ben"], "ben already writes the summary of session 1"),
    (["2", "dan", "4", "zed"], "unknown student 'zed'"),
])
def test_a_swap_that_makes_no_sense_is_refused(root, capsys, argv, message):
    shown(capsys, root)
    if message.startswith("ben already"):  # ben in both sessions: not a swap
        assert run(capsys, "summaries", "pin", "2", "cleo", "ben", "--reason", "x",
                   "--course", str(root))[0] == 0
    code, out, err = run(capsys, "summaries", "swap", *argv, "--reason", "r", "--course",
                         str(root))
    assert code == 2 and message in err and out == "", err


def test_pin_sets_one_sessions_authors(root, capsys):
    before, _ = shown(capsys, root)
    code, out, err = run(capsys, "summaries", "pin", "3", "fay", "--reason",
                         "fay writes it alone", "--course", str(root))
    assert code == 0, err
    assert "session 3" in out and "fay" in out
    after, _ = shown(capsys, root)
    assert after[3] == ["fay"]
    assert {n: a for n, a in after.items() if n != 3} == \
        {n: a for n, a in before.items() if n != 3}


def test_pin_refuses_a_handed_in_session_and_an_unavailable_author(make_course, capsys):
    root = make_course(COURSE.replace("{id: fay, first_name: Fay}",
                                      "{id: fay, first_name: Fay, unavailable: [4]}"))
    shown(capsys, root)
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        receive_summary(ws, gb, 1, {"s.md": b"# One\n"}, submitted_by="ada",
                        received_at=utc(2026, 10, 22, 9))
    code, _, err = run(capsys, "summaries", "pin", "1", "fay", "--reason", "r", "--course",
                       str(root))
    assert code == 2 and "the summary of session 1 was handed in" in err
    code, _, err = run(capsys, "summaries", "pin", "4", "fay", "--reason", "r", "--course",
                       str(root))
    assert code == 2 and "fay is unavailable for session 4" in err


def test_a_new_unavailability_refills_that_slot_only(root, capsys):
    before, _ = shown(capsys, root)
    course_file = root / "course.yml"
    course_file.write_text(course_file.read_text().replace(
        "{id: eve, first_name: Eve}", "{id: eve, first_name: Eve, unavailable: [6]}"))
    after, err = shown(capsys, root)
    assert "eve" not in after[6] and "fay" in after[6]
    assert {n: a for n, a in after.items() if n != 6} == \
        {n: a for n, a in before.items() if n != 6}
    assert "session 6 (" in err and "eve is unavailable" in err


def test_a_session_added_later_is_planned_without_moving_the_others(root, capsys):
    before, _ = shown(capsys, root)
    course_file = root / "course.yml"
    course_file.write_text(course_file.read_text().replace(
        "topic: Six}", "topic: Six}\n  - {date: 2026-12-01, start: \"10:15\", topic: Seven}"))
    after, _ = shown(capsys, root)
    assert {n: after[n] for n in before} == before and len(after[7]) == 2


def test_before_it_is_shown_the_rota_follows_the_roster(root, capsys):
    """Nothing announced yet: a draft, recomputed from the roster (a drop moves everyone)."""
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        assert current_rota(ws.course, gb).plan[1] == ["ada", "ben"]
    run(capsys, "roster", "drop", "ada", "--reason", "r", "--course", str(root))
    after, err = shown(capsys, root)
    assert after[1] == ["ben", "cleo"] and "session" not in err


def test_readers_see_the_refill_before_it_is_recorded(root, capsys):
    shown(capsys, root)
    course_file = root / "course.yml"
    course_file.write_text(course_file.read_text().replace(
        "    - {id: dan, first_name: Dan}\n", ""))
    ws = open_workspace(root)
    with ws.gradebook() as gb:  # what the dashboard and the exchange read: nothing written
        first = current_rota(ws.course, gb)
        second = current_rota(ws.course, gb)
    assert first == second and [v.session for v in first.vacancies] == [2, 5]
    assert all("dan" not in first.plan[n] for n in first.plan)


def test_settle_prefers_the_fewest_turns_then_the_longest_gap():
    recorded = {1: ["ada", "ben"], 2: ["cleo", "dan"], 3: ["eve", "ada"]}
    plan, vacancies = settle(["ben", "cleo", "dan", "eve", "fay"], 3, 2, {}, recorded, {})
    assert plan == {1: ["fay", "ben"], 2: ["cleo", "dan"], 3: ["eve", "ben"]}
    assert vacancies == [Vacancy(1, "ada", "left", "fay"), Vacancy(3, "ada", "left", "ben")]
    plan, vacancies = settle(["ben"], 1, 2, {}, {1: ["ada", "ben"]}, {})
    assert plan == {1: ["ben"]} and vacancies == [Vacancy(1, "ada", "left", None)]
