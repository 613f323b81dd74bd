"""``course hub`` serves throwaway demo courses only (THREATS.md 28): every user's server there is
a process of the hub's own user, which can read the course folder, so a real course is refused
with the reason, before anything starts."""

from __future__ import annotations

from commands.main import main


def test_course_hub_refuses_a_course_it_did_not_build(make_course, capsys):
    root = make_course()  # a real course: its graders, gradebook and students' work
    assert main(["hub", "--dir", str(root)]) == 2
    err = capsys.readouterr().err
    assert "throwaway demo courses only" in err and "can read the course folder" in err
    assert "deploy/README.md" in err
    assert not (root / ".hub").exists()  # nothing started, nothing written


def test_the_courses_it_builds_carry_their_mark(tmp_path):
    from devhub.hubcourse import THROWAWAY, build_hub_course

    course_file = build_hub_course(tmp_path / "course", release="none")
    assert (course_file.parent / ".hub" / THROWAWAY).is_file()
