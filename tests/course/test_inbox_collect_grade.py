"""Submissions in, the one that counts collected, graded by real nbgrader; a broken notebook in
the batch gets a clear error and never stops the others."""

import datetime as dt
import json

import nbformat
import pytest
import sqlalchemy as sa

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from course.collect import collect
from course.errors import UserError
from course.gradebook import GradingRun, Receipt
from course.inbox import MAX_SUBMISSION_BYTES, receive
from course.workspace import open_workspace

HOUR = dt.timedelta(hours=1)


@pytest.fixture
def ws(make_course, db_url):
    return open_workspace(make_course(assignments=("01-numpy",), db_url=db_url))


def notebook_bytes(ws, answers=None) -> tuple[str, bytes]:
    (source,) = (ws.source / "01-numpy").glob("*.ipynb")
    nb = nbformat.read(source, as_version=4)
    if answers is None:
        answers = solution_cells(nb)
    return source.name, nbformat.writes(answer_notebook(nb, answers)).encode()


def test_every_submission_is_kept_and_hashed(ws):
    name, content = notebook_bytes(ws)
    due = ws.course.due("01-numpy")
    with ws.gradebook() as gb:
        first = receive(ws, gb, "ada", "01-numpy", {name: content,
                                                     "timestamp.txt": b"2001-01-01 00:00:00"},
                        received_at=due - HOUR)
        second = receive(ws, gb, "ada", "01-numpy", {name: content + b" "},
                         received_at=due + HOUR)
        rows = gb.session.scalars(sa.select(Receipt).order_by(Receipt.id)).all()
    assert [r.id for r in rows] == [first.id, second.id]
    assert rows[0].client_timestamp == "2001-01-01 00:00:00"  # kept, never used as the time
    assert rows[0].received_at == due - HOUR
    assert rows[0].sha256 != rows[1].sha256 and rows[0].size_bytes == len(content)
    folders = sorted((ws.root / "inbox" / "01-numpy" / "ada").iterdir())
    assert len(folders) == 2 and not [f for f in folders if f.name.startswith(".")]
    assert (ws.root / rows[0].storage_path / name).read_bytes() == content
    assert not (ws.root / rows[0].storage_path / "timestamp.txt").exists()


@pytest.mark.parametrize(
    "student, files, message",
    [
        ("zed", {"a.ipynb": b"{}"}, "unknown student"),
        ("ada", {"../../escape.ipynb": b"{}"}, "refusing file name"),
        ("ada", {"/etc/passwd.ipynb": b"{}"}, "refusing file name"),
        ("ada", {"notes.txt": b"hi"}, "must contain a notebook"),
        ("ada", {"big.ipynb": b"x" * (MAX_SUBMISSION_BYTES + 1)}, "exceeds the limit"),
    ],
)
def test_bad_submissions_are_refused_and_leave_nothing(ws, student, files, message):
    with ws.gradebook() as gb:
        with pytest.raises((UserError, LookupError), match=message):
            receive(ws, gb, student, "01-numpy", files)
        assert gb.session.scalars(sa.select(Receipt)).all() == []
    assert not list((ws.root / "inbox").rglob("*.ipynb")) if (ws.root / "inbox").exists() else True


@pytest.mark.parametrize("files, message", [
    ({"numpy-basics (1).ipynb": b"{}"}, (r"numpy-basics \(1\).ipynb: not a notebook of 01-numpy; "
                                         r"hand in numpy-basics.ipynb under exactly that name")),
    ({"numpy-basics.ipynb": b'{"cells": [ oops'}, "numpy-basics.ipynb is not valid JSON"),
    ({"numpy-basics.ipynb": b"\x89PNG\r\n\x1a\n"}, "numpy-basics.ipynb is not valid JSON"),
    ({"numpy-basics.ipynb": b'{"nbformat": 4}'}, "numpy-basics.ipynb is not a valid notebook"),
])
def test_a_notebook_the_grader_cannot_read_is_refused_at_submit(ws, files, message):
    """Said while the student can still fix it, naming the file expected; nothing is stored."""
    with ws.gradebook() as gb:
        with pytest.raises(UserError, match=message):
            receive(ws, gb, "ada", "01-numpy", files)
        assert gb.session.scalars(sa.select(Receipt)).all() == []


def test_submit_cli_names_the_expected_notebook(ws, tmp_path, capsys):
    from commands.main import main

    _name, content = notebook_bytes(ws)
    renamed = tmp_path / "numpy-basics (1).ipynb"
    renamed.write_bytes(content)
    (ws.root / "exchange" / ws.course.id / "outbound" / "01-numpy").mkdir(parents=True)  # released
    code = main(["submit", "01-numpy", str(renamed), "--student", "ada",
                 "--course", str(ws.course_file)])
    assert code == 2 and "hand in numpy-basics.ipynb" in capsys.readouterr().err


def corrupt_stored(ws, student: str) -> None:
    """A stored notebook damaged after it was received (disk, a hand-copied file): it still
    reaches grading."""
    with ws.gradebook() as gb:
        rows = gb.session.scalars(sa.select(Receipt).filter_by(student_id=student)).all()
    for path in (ws.root / rows[-1].storage_path).glob("*.ipynb"):
        path.write_bytes(b'{"cells": [ oops')


@pytest.mark.slow
def test_batch_with_a_malformed_notebook(ws):
    due = ws.course.due("01-numpy")
    name, perfect = notebook_bytes(ws)
    partial_cells = json.loads((ws.source / "01-numpy" / "mutants" / "partial.json").read_text())
    (source,) = (ws.source / "01-numpy").glob("*.ipynb")
    answers = {**solution_cells(nbformat.read(source, as_version=4)), **partial_cells["cells"]}
    _, partial = notebook_bytes(ws, answers)
    with ws.gradebook() as gb:
        receive(ws, gb, "ada", "01-numpy", {name: perfect}, received_at=due - HOUR)
        receive(ws, gb, "ada", "01-numpy", {name: partial}, received_at=due + HOUR)  # late
        receive(ws, gb, "ben", "01-numpy", {name: perfect}, received_at=due - HOUR)
        receive(ws, gb, "cleo", "01-numpy", {name: partial}, received_at=due - HOUR)
    corrupt_stored(ws, "ben")
    collected = {c.student_id: c for c in collect(ws, "01-numpy")}
    assert set(collected) == {"ada", "ben", "cleo"}
    # ada's on-time submission is the one collected, not the later one
    ada_copy = ws.root / "submitted" / "ada" / "01-numpy" / name
    assert ada_copy.read_bytes() == perfect
    assert (ada_copy.parent / "timestamp.txt").read_text().startswith(
        (due - HOUR).strftime("%Y-%m-%d %H:%M:%S"))

    from course.grade import grade

    outcomes = {o.student_id: o for o in grade(ws, "01-numpy")}
    assert outcomes["ben"].outcome == "unreadable"
    assert "is not valid JSON" in outcomes["ben"].message
    assert outcomes["ada"].outcome == "success"
    assert outcomes["ada"].score == outcomes["ada"].max_score > 0
    assert outcomes["cleo"].outcome == "success"
    assert 0 < outcomes["cleo"].score < outcomes["cleo"].max_score

    with ws.gradebook() as gb:
        runs = gb.session.scalars(sa.select(GradingRun)).all()
    assert sorted((r.student_id, r.outcome) for r in runs) == [
        ("ada", "success"), ("ben", "unreadable"), ("cleo", "success")]
    assert all(r.receipt_id and r.finished_at and r.grader_version for r in runs)

    from course.standing import standing_data

    data = standing_data(ws, due + 48 * HOUR)
    entries = {s["id"]: s["assignments"]["01-numpy"] for s in data["students"]}
    assert entries["ben"]["state"] == "on_time" and entries["ben"]["score"] is None
    assert "is not valid JSON" in entries["ben"]["grading_error"]
    assert not entries["ben"]["counts_as_miss"]  # pass_threshold 0: handed in on time is enough
    assert entries["ada"]["score"] == outcomes["ada"].score
    # nbgrader's own gradebook holds the same scores (formgrader shows them)
    with ws.gradebook() as gb:
        assert gb.nb.find_submission("01-numpy", "cleo").score == outcomes["cleo"].score


@pytest.mark.slow
def test_grading_follows_a_resubmission_and_status_never_mixes_receipts(ws, capsys):
    """ada is graded, hands in again before the deadline, and `course grade --student ada`
    grades the new submission (collecting it first); status never pairs a time with another
    submission's score."""
    from commands.main import main
    from course.standing import standing_data

    due = ws.course.due("01-numpy")
    name, perfect = notebook_bytes(ws)
    partial_cells = json.loads((ws.source / "01-numpy" / "mutants" / "partial.json").read_text())
    (source,) = (ws.source / "01-numpy").glob("*.ipynb")
    _, partial = notebook_bytes(ws, {**solution_cells(nbformat.read(source, as_version=4)),
                                     **partial_cells["cells"]})
    course = ["--course", str(ws.course_file)]
    with ws.gradebook() as gb:
        receive(ws, gb, "ada", "01-numpy", {name: partial}, received_at=due - 5 * HOUR)
    assert main(["collect", "01-numpy", *course]) == 0
    assert main(["grade", "01-numpy", "--student", "ada", *course]) == 0
    first = standing_data(ws, due + HOUR)["students"][0]["assignments"]["01-numpy"]
    assert 0 < first["score"] < first["max_score"]

    with ws.gradebook() as gb:  # the better version, still on time; not collected yet
        receive(ws, gb, "ada", "01-numpy", {name: perfect}, received_at=due - HOUR)
    stale = standing_data(ws, due + HOUR)["students"][0]["assignments"]["01-numpy"]
    assert stale["received_utc"] == (due - HOUR).strftime("%Y-%m-%dT%H:%M:%SZ")
    assert stale["score"] is None and "not graded yet" in stale["note"]
    capsys.readouterr()
    assert main(["grade", "01-numpy", "--student", "ada", *course]) == 0
    out = capsys.readouterr().out
    assert "ada: collected the submission that counts" in out
    fresh = standing_data(ws, due + HOUR)["students"][0]["assignments"]["01-numpy"]
    assert fresh["score"] == fresh["max_score"] > first["score"]
    assert (ws.root / "submitted" / "ada" / "01-numpy" / name).read_bytes() == perfect


@pytest.mark.slow
def test_a_failed_grading_keeps_the_last_good_result(ws, capsys):
    """A grading that fails (here: the collected notebook renamed by hand) leaves the previous
    autograded notebooks in place and says why in plain words."""
    from commands.main import main

    due = ws.course.due("01-numpy")
    name, perfect = notebook_bytes(ws)
    course = ["--course", str(ws.course_file)]
    with ws.gradebook() as gb:
        receive(ws, gb, "ada", "01-numpy", {name: perfect}, received_at=due - HOUR)
    assert main(["collect", "01-numpy", *course]) == 0
    assert main(["grade", "01-numpy", *course]) == 0
    autograded = ws.root / "autograded" / "ada" / "01-numpy" / name
    good = autograded.read_bytes()
    folder = ws.root / "submitted" / "ada" / "01-numpy"
    (folder / name).rename(folder / "numpy-basics (1).ipynb")
    capsys.readouterr()
    assert main(["grade", "01-numpy", *course]) == 1  # a submission not graded: status 1
    out = capsys.readouterr().out
    assert ("ada: unreadable: numpy-basics (1).ipynb: not a notebook of this assignment "
            "(expected numpy-basics.ipynb): not graded") in out
    assert "Please see the above traceback" not in out
    assert autograded.read_bytes() == good

    # nbgrader itself fails (metadata of an old nbgrader schema): it has already removed the
    # autograded folder by then; ours is put back
    (folder / "numpy-basics (1).ipynb").rename(folder / name)
    nb = nbformat.read(folder / name, as_version=4)
    for cell in nb.cells:
        if "nbgrader" in cell.metadata:
            cell.metadata["nbgrader"]["schema_version"] = 1
    nbformat.write(nb, folder / name)
    assert main(["grade", "01-numpy", *course]) == 1
    out = capsys.readouterr().out
    assert "graded 0 of 1" in out and "(the last good result is kept)" in out
    assert "ada: error: One or more notebooks in the assignment use an old version" in out
    assert "Please see the above traceback" not in out
    assert autograded.read_bytes() == good


def test_nothing_handed_in_is_said_plainly(ws):
    from course.grade import grade

    with pytest.raises(UserError, match="ada has handed in nothing for 01-numpy"):
        grade(ws, "01-numpy", students=["ada"])
