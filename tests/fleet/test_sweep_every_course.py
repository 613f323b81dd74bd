"""``course sweep``: one deadline sweep over every course the fleet serves. Each course is swept
from its own file into its own gradebook; a course whose sweep fails (its gradebook gone, its
file broken, a second file of one id) is reported on its own line, the others are swept all the
same, and the command exits 1. ``grade`` is replaced (the sweep's seam): what matters here is
what is sent for which course, not the grading."""

from __future__ import annotations

import shutil

import nbformat
import pytest
from small_courses import REPO, course_text, create_gradebook, utc

from commands.main import main

AID = "01-numpy"
SOURCE = REPO / "assignments" / AID


def make_course(root, course_id: str, students: tuple[str, ...], handed_in: tuple[str, ...]):
    from course.inbox import receive
    from course.workspace import open_workspace

    root.mkdir(parents=True)
    shutil.copytree(SOURCE, root / "assignments" / AID,
                    ignore=shutil.ignore_patterns("__pycache__"))
    (root / "course.yml").write_text(course_text(course_id, students=students,
                                                 due="2027-01-10 18:00"))
    create_gradebook(root)
    ws = open_workspace(root)
    notebook = nbformat.writes(nbformat.read(SOURCE / "numpy-basics.ipynb", as_version=4))
    with ws.gradebook() as gb:
        for student in handed_in:
            receive(ws, gb, student, AID, {"numpy-basics.ipynb": notebook.encode()},
                    received_at=utc(2027, 1, 10, 12))
    return ws


@pytest.fixture
def sent(monkeypatch):
    """What the sweep hands to ``grade``: (course id, assignment, students)."""
    import course.grade

    calls = []
    monkeypatch.setattr(course.grade, "grade", lambda ws, aid, students=None, wait=True: calls.append(
        (ws.course.id, aid, list(students))))
    monkeypatch.delenv("COURSE_DB_URL", raising=False)  # each course its own gradebook
    monkeypatch.delenv("COURSE_WORKER_COURSES", raising=False)
    return calls


def test_one_sweep_covers_every_course_each_from_its_own_gradebook(tmp_path, sent, capsys):
    make_course(tmp_path / "dl", "dl", ("ada", "ben"), ("ada",))
    make_course(tmp_path / "ml", "ml", ("ada", "cleo"), ("ada", "cleo"))
    args = ["sweep", "--course", str(tmp_path / "dl"), "--course", str(tmp_path / "ml")]
    assert main([*args, "--as-of", "2027-01-10 17:59"]) == 0  # before the deadline
    assert sent == []
    assert capsys.readouterr().out.splitlines() == ["dl: nothing due", "ml: nothing due"]
    assert main([*args, "--as-of", "2027-01-10 18:01"]) == 0
    assert sent == [("dl", AID, ["ada"]), ("ml", AID, ["ada", "cleo"])]
    assert capsys.readouterr().out.splitlines() == [f"dl: sent {AID}: ada",
                                                    f"ml: sent {AID}: ada, cleo"]


def test_the_course_list_of_a_container_is_swept(tmp_path, sent, monkeypatch, capsys):
    """No --course: $COURSE_WORKER_COURSES, the list the workers of the stack are given."""
    make_course(tmp_path / "dl", "dl", ("ada",), ("ada",))
    make_course(tmp_path / "ml", "ml", ("ben",), ("ben",))
    monkeypatch.setenv("COURSE_WORKER_COURSES",
                       f"{tmp_path / 'dl' / 'course.yml'}:{tmp_path / 'ml' / 'course.yml'}")
    assert main(["sweep", "--as-of", "2027-01-11 09:00"]) == 0
    assert sent == [("dl", AID, ["ada"]), ("ml", AID, ["ben"])]


def test_a_failing_course_is_reported_and_the_others_are_swept(tmp_path, sent, capsys):
    make_course(tmp_path / "dl", "dl", ("ada",), ("ada",))
    broken = make_course(tmp_path / "ml", "ml", ("ben",), ("ben",))
    (broken.root / "gradebook.db").unlink()  # its gradebook lost: this course fails alone
    make_course(tmp_path / "cv", "cv", ("cleo",), ("cleo",))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "course.yml").write_text("id: [not, an, id]\n")
    twin = tmp_path / "copy" / "cv"
    shutil.copytree(tmp_path / "cv", twin)  # a second file of course cv, in a folder cv
    files = [tmp_path / "dl", tmp_path / "ml", tmp_path / "bad", tmp_path / "cv", twin]
    code = main(["sweep", *(a for f in files for a in ("--course", str(f))),
                 "--as-of", "2027-01-11 09:00"])
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"dl: sent {AID}: ada"
    assert lines[1].startswith("ml: sweep FAILED: ") and "gradebook" in lines[1], lines[1]
    assert lines[2].startswith(f"{tmp_path / 'bad'}: sweep FAILED: "), lines[2]
    assert lines[3] == f"cv: sent {AID}: cleo"
    assert lines[4].startswith("cv: sweep FAILED: ") and "declares id 'cv'" in lines[4], lines[4]
    assert len(lines) == 5
    assert sent == [("dl", AID, ["ada"]), ("cv", AID, ["cleo"])]  # nothing of ml, bad, twin


def test_a_file_may_not_take_the_id_of_another_course_s_folder(tmp_path, sent, capsys):
    """One folder per course id (the stack's /srv/course/<id>): staff of dl write `id: ml` in
    dl's file. That file is refused, alone, before anything of it is swept, and ml (listed after
    it) is swept all the same, from its own gradebook."""
    make_course(tmp_path / "dl", "dl", ("ada",), ("ada",))
    make_course(tmp_path / "ml", "ml", ("cleo",), ("cleo",))
    text = (tmp_path / "dl" / "course.yml").read_text()
    (tmp_path / "dl" / "course.yml").write_text(text.replace("id: dl", "id: ml", 1))
    code = main(["sweep", "--course", str(tmp_path / "dl"), "--course", str(tmp_path / "ml"),
                 "--as-of", "2027-01-11 09:00"])
    assert code == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{tmp_path / 'dl' / 'course.yml'}: sweep FAILED: "), lines
    assert "id 'ml'" in lines[0] and "folder's name 'dl'" in lines[0], lines[0]
    assert lines[1:] == [f"ml: sent {AID}: cleo"]
    assert sent == [("ml", AID, ["cleo"])]  # ml's own student, nothing of dl's folder


def test_folders_not_named_by_id_are_swept_as_before(tmp_path, sent, capsys):
    """No course in a folder of its id: not the stack's layout, and each file is swept."""
    make_course(tmp_path / "course-a", "dl", ("ada",), ("ada",))
    make_course(tmp_path / "course-b", "ml", ("cleo",), ("cleo",))
    assert main(["sweep", "--course", str(tmp_path / "course-a"), "--course",
                 str(tmp_path / "course-b"), "--as-of", "2027-01-11 09:00"]) == 0
    assert sent == [("dl", AID, ["ada"]), ("ml", AID, ["cleo"])]


def test_no_course_at_all_is_an_error(tmp_path, sent, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("COURSE_FILE", raising=False)
    assert main(["sweep"]) == 2
    assert sent == []
