"""Blank work under the default ``pass_threshold: 0`` (issue 23, item 4): named at submit, flagged
in status, never drawn to present, and explained in the course file ``course init`` writes."""

import datetime as dt
import json

import nbformat
import pytest
from small_courses import BASE_COURSE, utc

import course.calendar
from commands.main import main
from course.gradebook.records import add_receipt, finish_run, record_release, start_run
from course.presenters import draw
from course.workspace import open_workspace

NOW = utc(2026, 10, 22, 9)  # before 01-numpy's deadline (Sunday 2026-10-25 18:00)
AS_OF = "2026-11-20 12:00"
HOUR = dt.timedelta(hours=1)


def _notebook(*sources: str) -> bytes:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    return nbformat.writes(nb).encode()


@pytest.fixture
def released(make_course, monkeypatch):
    """01-numpy released: its student version (work.ipynb) in the exchange's outbound folder."""
    monkeypatch.setattr(course.calendar, "utcnow", lambda: NOW)
    root = make_course()
    ws = open_workspace(root)
    outbound = root / "exchange" / ws.course.id / "outbound" / "01-numpy"
    outbound.mkdir(parents=True)
    (outbound / "work.ipynb").write_bytes(_notebook("# YOUR CODE HERE\nraise NotImplementedError"))
    with ws.gradebook() as gb:
        record_release(gb, "01-numpy", "0" * 64, now=utc(2026, 10, 19, 12))
        gb.commit()
    return ws


def _submit(capsys, ws, folder, content: bytes, student="ada") -> str:
    folder.mkdir(exist_ok=True)
    (folder / "work.ipynb").write_bytes(content)
    assert main(["submit", "01-numpy", str(folder), "--student", student,
                 "--course", str(ws.course_file)]) == 0
    return capsys.readouterr().err


def test_submit_names_blank_work_while_it_can_be_fixed(released, tmp_path, capsys):
    release = (released.root / "exchange" / released.course.id / "outbound" / "01-numpy"
               / "work.ipynb").read_bytes()
    err = _submit(capsys, released, tmp_path / "same", release)
    assert "work.ipynb is the release, unchanged: it earns no points" in err
    nb = nbformat.reads(release.decode(), as_version=4)  # opened and saved again, untouched
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3"}
    resaved = nbformat.writes(nb).encode()
    assert resaved != release
    assert "the release, unchanged" in _submit(capsys, released, tmp_path / "resaved", resaved)
    assert "work.ipynb has no cells" in _submit(capsys, released, tmp_path / "empty", _notebook())
    assert _submit(capsys, released, tmp_path / "work", _notebook("x = 1")) == ""


def _hand_in(gb, student, when, outcome="success", score=None):
    receipt = add_receipt(gb, student_id=student, assignment_id="01-numpy", received_at=when,
                          sha256="0" * 64, size_bytes=1, storage_path="x")
    gb.commit()
    if outcome is not None:
        run = start_run(gb, student, "01-numpy", receipt.id, "test", "v1")
        finish_run(gb, run, outcome, "not JSON" if outcome == "unreadable" else "",
                   score=score, max_score=None if score is None else 10.0)


@pytest.fixture
def graded(released):
    """ada 6/10, ben 0/10, cleo an unreadable notebook: all on time."""
    due = released.course.due("01-numpy")
    with released.gradebook() as gb:
        _hand_in(gb, "ada", due - HOUR, score=6.0)
        _hand_in(gb, "ben", due - HOUR, score=0.0)
        _hand_in(gb, "cleo", due - HOUR, outcome="unreadable")
    return released


def test_status_flags_a_hand_in_that_earned_nothing(graded, capsys):
    root = str(graded.course_file)
    assert main(["status", "--format", "json", "--as-of", AS_OF, "--course", root]) == 0
    entries = {s["id"]: s["assignments"]["01-numpy"]
               for s in json.loads(capsys.readouterr().out)["students"]}
    assert [entries[s]["earned_nothing"] for s in ("ada", "ben", "cleo")] == [False, True, True]
    assert entries["ben"]["state"] == "on_time" and not entries["ben"]["counts_as_miss"]
    assert "earned 0 points, yet counts as handed in" in entries["ben"]["note"]
    assert main(["status", "--as-of", AS_OF, "--course", root]) == 0
    table = capsys.readouterr().out
    assert "0/10?" in table and "? ben, 01-numpy: earned 0 points" in table
    # a threshold makes it a miss instead, and no longer a flag
    graded.course_file.write_text(BASE_COURSE.replace(
        "policy: {excused_misses: 1}", "policy: {excused_misses: 1, pass_threshold: 0.1}"))
    assert main(["status", "--format", "json", "--as-of", AS_OF, "--course", root]) == 0
    ben = json.loads(capsys.readouterr().out)["students"][1]["assignments"]["01-numpy"]
    assert (ben["counts_as_miss"], ben["earned_nothing"]) == (True, False)


def test_the_draw_skips_work_that_earned_nothing(graded):
    with graded.gradebook() as gb:
        result = draw(graded.course, gb, "01-numpy", count=3, seed="s",
                      as_of=utc(2026, 10, 26, 9), by="ina")
    assert result.picked == ["ada"] and result.eligible == 1


def test_course_init_explains_the_pass_threshold(tmp_path, capsys):
    assert main(["init", str(tmp_path / "new"), "--id", "dl-2027"]) == 0
    text = (tmp_path / "new" / "course.yml").read_text()
    policy = text[text.index("policy:"):text.index("roster:")]
    assert "At 0 every hand-in in time counts, even blank work" in policy
    assert "the release" in policy and "never finishes" in policy
    assert main(["validate", "--course", str(tmp_path / "new")]) == 0
