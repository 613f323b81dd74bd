"""Presenter draw: fair, reproducible, recorded; absentees replaced; history in `course status`."""

import datetime as dt
import json
import random
from collections import Counter
from itertools import pairwise

import pytest
from small_courses import BASE_COURSE

from commands.main import main
from course.gradebook.records import add_receipt
from course.presenters import draw, drawn_for, pick_presenters, replace_absentees
from course.workspace import open_workspace

STUDENTS = [f"s{n:02d}" for n in range(11)]


def simulate(students, count, draws, seed="x"):
    presented, previous, picks = Counter(), set(), []
    for n in range(draws):
        picked = pick_presenters(students, presented, previous, count, f"{seed}-{n}")
        presented.update(picked)
        previous = set(picked)
        picks.append(picked)
    return presented, picks


@pytest.mark.parametrize("count", [1, 2, 3, 5])
def test_over_many_draws_counts_differ_by_at_most_one(count):
    for draws in range(1, 40):
        presented, picks = simulate(STUDENTS, count, draws)
        counts = [presented[s] for s in STUDENTS]
        assert max(counts) - min(counts) <= 1, (draws, counts)
        assert all(len(set(p)) == len(p) == count for p in picks)


def test_nobody_twice_in_a_row_unless_unavoidable():
    _, picks = simulate(STUDENTS, 3, 30)
    assert all(not set(a) & set(b) for a, b in pairwise(picks))
    # 3 students, 2 a week: one of last week's two must present again, and only one
    _, picks = simulate(["a", "b", "c"], 2, 12)
    assert all(len(set(a) & set(b)) == 1 for a, b in pairwise(picks))


def test_previous_presenters_yield_to_others_even_with_fewer_presentations():
    picked = pick_presenters(["a", "b", "c"], {"a": 0, "b": 3, "c": 3}, {"a"}, 2, "s")
    assert sorted(picked) == ["b", "c"]


def test_least_presented_first():
    history = {s: 2 for s in STUDENTS} | {"s03": 1, "s07": 1}
    for seed in range(20):
        assert sorted(pick_presenters(STUDENTS, history, set(), 2, str(seed))) == ["s03", "s07"]


def test_same_seed_and_history_same_draw_other_seed_can_differ():
    history, previous = {"s01": 1, "s02": 1}, {"s02"}
    first = pick_presenters(STUDENTS, history, previous, 3, "seed-42")
    shuffled = random.Random(1).sample(STUDENTS, len(STUDENTS))  # the input order is irrelevant
    assert pick_presenters(shuffled, dict(history), set(previous), 3, "seed-42") == first
    others = {tuple(pick_presenters(STUDENTS, history, previous, 3, f"seed-{n}"))
              for n in range(10)}
    assert len(others) > 1


def test_fewer_eligible_than_requested_draws_everyone():
    assert sorted(pick_presenters(["a", "b"], {}, set(), 5, "s")) == ["a", "b"]


# ---- in the gradebook, on SQLite and PostgreSQL ----

COURSE = BASE_COURSE.replace(
    "    - {id: cleo, first_name: Cleo}",
    "    - {id: cleo, first_name: Cleo}\n"
    "    - {id: dora, first_name: Dora, unavailable: [2]}\n"
    "    - {id: emil, first_name: Emil}\n"
    "    - {id: fay, first_name: Fay}",
)
AFTER = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)


def hand_in(ws, student_times):
    with ws.gradebook() as gb:
        for student, assignment, when in student_times:
            add_receipt(gb, student_id=student, assignment_id=assignment, received_at=when,
                        sha256="0" * 64, size_bytes=1, storage_path="x")
        gb.commit()


@pytest.fixture
def ws(make_course, db_url):
    ws = open_workspace(make_course(COURSE, db_url=db_url))
    due1, due2 = ws.course.due("01-numpy"), ws.course.due("02-linreg")
    hour = dt.timedelta(hours=1)
    hand_in(ws, [(s, "01-numpy", due1 - hour) for s in ("ada", "ben", "dora", "emil", "fay")]
            + [("cleo", "01-numpy", due1 + hour)]  # late: never drawn
            + [(s, "02-linreg", due2 - hour) for s in ("ada", "ben", "cleo", "emil", "fay")])
    return ws


def test_only_on_time_and_available_students_are_drawn(ws):
    # 01-numpy is presented in session 2, which dora declared she cannot attend
    with ws.gradebook() as gb:
        result = draw(ws.course, gb, "01-numpy", count=10, seed="s")
    assert sorted(result.picked) == ["ada", "ben", "emil", "fay"]


def test_the_drawer_is_recorded_by_name_or_as_the_current_user(ws):
    # the dashboard names the instructor; the command line is $COURSE_USER (ina, conftest)
    with ws.gradebook() as gb:
        first = draw(ws.course, gb, "01-numpy", seed="s", by="ivo")
        replace_absentees(ws.course, gb, "01-numpy", first.picked[:1], by="gus")
        draw(ws.course, gb, "02-linreg", seed="t")
        rows = [*drawn_for(gb, "01-numpy"), *drawn_for(gb, "02-linreg")]
    assert {(row.assignment_id, row.draw_round, row.drawn_by) for row in rows} == {
        ("01-numpy", 0, "ivo"), ("01-numpy", 1, "gus"), ("02-linreg", 0, "ina")}


def test_draw_records_and_redraw_replaces_absentees(ws, capsys):
    root = str(ws.course_file)
    assert main(["draw", "01-numpy", "--seed", "abc", "--course", root]) == 0
    out = capsys.readouterr().out
    with ws.gradebook() as gb:
        first = [row.student_id for row in drawn_for(gb, "01-numpy")]
    assert len(first) == 2 and "seed abc" in out and all(s in out for s in first)
    # running it again shows the recorded draw; asking for a new one is refused
    assert main(["draw", "01-numpy", "--course", root]) == 0
    assert "were drawn at" in capsys.readouterr().out
    assert main(["draw", "01-numpy", "--seed", "new", "--course", root]) == 2
    assert "already drawn" in capsys.readouterr().err

    assert main(["draw", "01-numpy", "--absent", first[0], "--course", root]) == 0
    with ws.gradebook() as gb:
        rows = drawn_for(gb, "01-numpy")
    absent = [row.student_id for row in rows if row.absent]
    replacement = [row.student_id for row in rows if row.draw_round == 1]
    assert absent == [first[0]] and len(replacement) == 1 and replacement[0] not in first
    assert main(["draw", "01-numpy", "--absent", "cleo", "--course", root]) == 2
    assert "cleo is not among the presenters drawn" in capsys.readouterr().err

    # the history is visible in `course status`
    assert main(["status", "--format", "json", "--course", root]) == 0
    students = {s["id"]: s for s in json.loads(capsys.readouterr().out)["students"]}
    assert students[first[0]]["presented"][0]["absent"] is True
    assert students[replacement[0]]["presented"][0]["assignment"] == "01-numpy"
    assert students["cleo"]["presented"] == []
    assert {"id", "status", "misses", "excused", "assignments"} <= set(students["ada"])
    assert main(["status", "--course", root]) == 0
    assert "presented" in capsys.readouterr().out


def test_same_seed_and_history_reproduce_the_draw(ws):
    with ws.gradebook() as gb:
        first = draw(ws.course, gb, "01-numpy", seed="s1")
        second = draw(ws.course, gb, "02-linreg", seed="s2")
    assert not set(first.picked) & set(second.picked)  # nobody twice in a row
    with ws.gradebook() as gb:  # forget the second draw, replay it with the same seed
        for row in drawn_for(gb, "02-linreg"):
            gb.session.delete(row)
        gb.commit()
        again = draw(ws.course, gb, "02-linreg", seed="s2")
    assert again.picked == second.picked


def test_replacements_are_reproducible(ws):
    with ws.gradebook() as gb:
        result = draw(ws.course, gb, "02-linreg", seed="r")
        replaced = replace_absentees(ws.course, gb, "02-linreg", result.picked[:1])
    assert replaced.seed == "r/1" and len(replaced.picked) == 1


@pytest.mark.parametrize(
    "argv, message",
    [
        (["draw", "99-nope"], "unknown assignment '99-nope'"),
        (["draw", "02-linreg", "--absent", "ada"], "no presenters drawn for 02-linreg yet"),
        (["draw", "01-numpy", "--absent", "zed"], "unknown student 'zed'"),
    ],
)
def test_bad_input_exits_2(make_course, capsys, argv, message):
    root = make_course(COURSE)
    if "zed" in argv:
        ws = open_workspace(root)
        hand_in(ws, [("ada", "01-numpy", ws.course.due("01-numpy") - dt.timedelta(hours=1))])
        assert main(["draw", "01-numpy", "--course", str(root)]) == 0
        capsys.readouterr()
    code = main([*argv, "--course", str(root)])
    assert code == 2 and message in capsys.readouterr().err


def test_nobody_on_time_is_a_clear_message(make_course, capsys):
    root = make_course(COURSE)
    assert main(["draw", "01-numpy", "--course", str(root)]) == 2
    assert "nobody handed in 01-numpy on time" in capsys.readouterr().err


def test_the_draw_names_students_beside_their_ids(ws, capsys):
    """Issue 23: `course draw` prints the roster's first and last name beside each id, in the
    notice of a draw, in the table of the recorded draw, and when absentees or the draw go."""
    root = str(ws.course_file)
    assert main(["draw", "01-numpy", "--count", "10", "--seed", "s", "--course", root]) == 0
    out = capsys.readouterr().out
    assert "drew 4 of 4 students" in out
    assert all(f"{label}" in out for label in ("ada (Ada Lovelace)", "ben (Ben)", "emil (Emil)",
                                                "fay (Fay)"))
    assert main(["draw", "01-numpy", "--course", root]) == 0
    table = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()
             if line and not line.startswith(("presenters", "replace", "student"))}
    assert table["ada"] == ["Ada", "Lovelace", "0"] and table["fay"] == ["Fay", "0"]
    assert main(["draw", "01-numpy", "--absent", "ada", "--course", root]) == 0
    assert "marked absent: ada (Ada Lovelace)" in capsys.readouterr().out
    assert main(["draw", "01-numpy", "--course", root]) == 0
    table = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()
             if line and not line.startswith(("presenters", "replace", "student"))}
    assert table["ada"] == ["Ada", "Lovelace", "0", "absent"]
    assert main(["draw", "01-numpy", "--undo", "--reason", "wrong list", "--course", root]) == 0
    out = capsys.readouterr().out
    assert "ada (Ada Lovelace) (absent)" in out and "ben (Ben)" in out
