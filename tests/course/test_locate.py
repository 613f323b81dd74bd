"""Every command finds the course file by one rule (course.locate.find_course_file):
``--course PATH``, else ``$COURSE_FILE``, else course.yml here or in the nearest parent folder."""

from __future__ import annotations

import textwrap

import pytest
from small_courses import BASE_COURSE

from commands.main import main
from course.locate import NONE_FOUND, CourseFileNotFound, find_course_file


@pytest.fixture
def no_env(monkeypatch):
    monkeypatch.delenv("COURSE_FILE", raising=False)


def write_course(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.yml").write_text(textwrap.dedent(BASE_COURSE))
    return folder / "course.yml"


def no_course_above(path) -> bool:
    return not any((folder / "course.yml").exists() for folder in (path, *path.parents))


def test_the_nearest_folder_upward_wins(tmp_path, no_env):
    outer = write_course(tmp_path / "outer")
    inner = write_course(tmp_path / "outer" / "inner")
    deep = tmp_path / "outer" / "inner" / "a" / "b"
    deep.mkdir(parents=True)
    assert find_course_file(start=deep) == inner
    assert find_course_file(start=tmp_path / "outer" / "inner") == inner
    (tmp_path / "outer" / "side").mkdir()
    assert find_course_file(start=tmp_path / "outer" / "side") == outer


def test_a_folder_named_course_yml_is_not_a_course_file(tmp_path, no_env):
    outer = write_course(tmp_path / "outer")
    (tmp_path / "outer" / "x" / "course.yml").mkdir(parents=True)
    assert find_course_file(start=tmp_path / "outer" / "x") == outer


def test_env_then_argument_win_over_the_folders(tmp_path, no_env):
    here = write_course(tmp_path / "here")
    env = write_course(tmp_path / "env")
    given = write_course(tmp_path / "given")
    assert find_course_file(start=here.parent, environ={}) == here
    assert find_course_file(start=here.parent, environ={"COURSE_FILE": str(env)}) == env
    assert find_course_file(start=here.parent, environ={"COURSE_FILE": str(env.parent)}) == env
    assert find_course_file(given.parent, start=here.parent,
                            environ={"COURSE_FILE": str(env)}) == given
    assert find_course_file(start=here.parent, environ={"COURSE_FILE": ""}) == here  # unset


def test_a_given_path_that_is_missing_is_an_error_not_a_reason_to_look_on(tmp_path, no_env):
    here = write_course(tmp_path / "here")
    with pytest.raises(CourseFileNotFound, match="no course file here"):
        find_course_file(tmp_path / "nothing", start=here.parent)
    with pytest.raises(CourseFileNotFound, match=r"nothing \(from \$COURSE_FILE\)"):
        find_course_file(start=here.parent, environ={"COURSE_FILE": str(tmp_path / "nothing")})


def test_none_found_up_to_the_root(tmp_path, no_env):
    if not no_course_above(tmp_path):
        pytest.skip("a course.yml above the test's temporary folder")
    with pytest.raises(CourseFileNotFound) as caught:
        find_course_file(start=tmp_path / "a" / "b")
    assert str(caught.value) == NONE_FOUND
    assert NONE_FOUND == ("no course.yml here or in any parent folder; give --course PATH or "
                          "set COURSE_FILE")


# through the command line: main() in a changed working folder


def test_a_command_finds_the_course_from_a_subfolder(make_course, monkeypatch, capsys, no_env):
    root = make_course()
    (root / "notes" / "week1").mkdir(parents=True)
    monkeypatch.chdir(root / "notes" / "week1")
    assert main(["deadlines", "--format", "json"]) == 0
    assert '"assignment": "01-numpy"' in capsys.readouterr().out
    assert main(["status", "--format", "json", "--as-of", "2026-11-20 12:00"]) == 0
    assert '"students"' in capsys.readouterr().out
    assert main(["validate"]) == 0
    assert capsys.readouterr().out.startswith(f"{root / 'course.yml'}: ok")


def test_course_file_env_wins_over_the_folder_and_course_over_both(tmp_path, monkeypatch,
                                                                   capsys, no_env):
    here, env, given = (write_course(tmp_path / name) for name in ("here", "env", "given"))
    monkeypatch.chdir(here.parent)

    def validated(*argv):
        code = main(["validate", *argv])
        out = capsys.readouterr().out
        assert code == 0, out
        return out.split(": ok")[0]

    assert validated() == str(here)
    monkeypatch.setenv("COURSE_FILE", str(env))
    assert validated() == str(env)
    assert validated("--course", str(given)) == str(given)
    assert validated("--course", str(given.parent)) == str(given)


def test_no_course_anywhere_exits_2_with_the_rule(tmp_path, monkeypatch, capsys, no_env):
    if not no_course_above(tmp_path):
        pytest.skip("a course.yml above the test's temporary folder")
    monkeypatch.chdir(tmp_path)
    for argv in (["deadlines"], ["status"], ["validate"], ["roster", "list"]):
        assert main(argv) == 2, argv
        err = " ".join(capsys.readouterr().err.split())
        assert NONE_FOUND in err, (argv, err)
