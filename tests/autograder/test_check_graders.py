"""`course check-graders`: the shipped assignments' graders tell right from wrong."""

import json
import shutil

import nbformat
import pytest
from assignment_parts import SHIPPED
from small_courses import REPO

from autograder.check_graders import check_assignment


@pytest.mark.slow
@pytest.mark.e2e
def test_check_graders_on_the_shipped_assignments(shipped_check):
    assert shipped_check["returncode"] == 0, (
        json.dumps({"first run": shipped_check["first_not_ok"],
                    "checked again": shipped_check["not_ok"]}, indent=1)
        if shipped_check["not_ok"] else shipped_check["output"])
    report = shipped_check["report"]["assignments"]
    assert [a["id"] for a in report] == SHIPPED and len(SHIPPED) >= 2
    assert sum(len(a["alternatives"]) for a in report) >= 5  # 13's three, 14's two at least
    for a in report:
        assert a["reference_score"] == a["max_score"] > 0
        assert a["release_score"] == 0 and a["deterministic"]
        assert len(a["mutants"]) >= 3 and all(m["caught"] for m in a["mutants"])
        assert all(m["score"] < a["max_score"] for m in a["mutants"])
        # the report says what a student with each mistake reads
        assert all(m["failed"] and all(m["failed"].values()) for m in a["mutants"]), a["id"]
        assert all(alt["full_marks"] for alt in a["alternatives"]), a["alternatives"]
        assert a["seconds"] < 60


def test_a_mutant_the_graders_miss_fails_the_check(tmp_path):
    folder = tmp_path / "01-numpy"
    shutil.copytree(REPO / "assignments" / "01-numpy", folder)
    shutil.rmtree(folder / "mutants")
    (folder / "mutants").mkdir()
    # "mistake": a correct alternative implementation; no grader can catch it
    (folder / "mutants" / "not_a_bug.json").write_text(json.dumps({
        "description": "np.dot instead of @", "must_fail": ["test_matmul"],
        "cells": {"matmul": "def matmul(A, B):\n    return np.dot(A, B)"}}))
    check = check_assignment(folder)
    assert check.reference_score == 10 and check.release_score == 0
    (mutant,) = check.mutants
    assert not mutant.caught and mutant.missed == ["test_matmul"] and mutant.score == 10
    assert not check.ok


def test_a_correct_alternative_that_loses_points_fails_the_check(tmp_path):
    folder = tmp_path / "01-numpy"
    shutil.copytree(REPO / "assignments" / "01-numpy", folder)
    (folder / "alternatives").mkdir()
    (folder / "alternatives" / "np_dot.json").write_text(json.dumps({
        "description": "np.dot instead of @", "cells": {
            "matmul": "def matmul(A, B):\n    return np.dot(A, B)"}}))
    # offered as correct, but it transposes: the check must say the graders took points
    (folder / "alternatives" / "not_correct.json").write_text(json.dumps({
        "description": "a wrong answer filed as correct", "cells": {
            "matmul": "def matmul(A, B):\n    return (A @ B).T"}}))
    check = check_assignment(folder)
    wrong, right = check.alternatives  # in name order
    assert (right.name, right.full_marks, right.lost) == ("np_dot", True, [])
    assert right.score == check.max_score == 10
    assert wrong.name == "not_correct" and not wrong.full_marks and "test_matmul" in wrong.lost
    assert not check.ok
    assert check.to_json()["alternatives"][0] == {
        "name": "not_correct", "score": wrong.score, "full_marks": False, "lost": wrong.lost}



def tiny_assignment(folder, mutants: dict, grader_points=(1, 1)):
    """An assignment of one function, ``double``: a visible test of one case (2 points), two
    hidden graders of other cases, and the given mutants (name -> the cell's source)."""
    cells = [nbformat.v4.new_code_cell("import numpy as np"),
             nbformat.v4.new_code_cell(
                 "def double(x):\n    ### BEGIN SOLUTION\n    return 2 * x\n    ### END SOLUTION",
                 metadata={"nbgrader": {"grade_id": "double", "solution": True, "grade": False,
                                        "locked": False, "schema_version": 3}}),
             nbformat.v4.new_code_cell(
                 "assert double(1) == 2, 'double(1)'",
                 metadata={"nbgrader": {"grade_id": "test_double", "solution": False,
                                        "grade": True, "points": 2, "locked": True,
                                        "schema_version": 3}})]
    folder.mkdir()
    nbformat.write(nbformat.v4.new_notebook(cells=cells), folder / "tiny.ipynb")
    (folder / "graders").mkdir()
    first, second = grader_points
    (folder / "graders" / "test_tiny.py").write_text(
        "import pytest\n\n\n"
        f"@pytest.mark.cell('test_double')\n@pytest.mark.points({first})\n"
        "def test_three(submission):\n    assert submission.double(3) == 6\n\n\n"
        f"@pytest.mark.cell('test_double')\n@pytest.mark.points({second})\n"
        "def test_zero(submission):\n    assert submission.double(0) == 0\n")
    (folder / "mutants").mkdir()
    for name, (source, extra) in mutants.items():
        (folder / "mutants" / f"{name}.json").write_text(json.dumps({
            "description": name, "must_fail": ["test_double"],
            "cells": {"double": f"def double(x):\n    return {source}"}, **extra}))
    return folder


def test_a_mutant_no_visible_test_sees_fails_the_check_unless_it_says_why(tmp_path):
    # x + 1 agrees with 2 * x at the visible case (1) and nowhere the graders look
    check = check_assignment(tiny_assignment(tmp_path / "a", {"plus_one": ("x + 1", {})}))
    assert check.reference_score == check.max_score == 2 and check.release_score == 0
    (mutant,) = check.mutants
    assert mutant.caught and not mutant.seen_by_visible_tests
    assert check.visible_misses == ["plus_one"] and not check.ok
    assert any("plus_one passes every visible test" in p for p in check.problems)
    said = tiny_assignment(tmp_path / "b", {"plus_one": ("x + 1", {"hidden_only": "a reason"})})
    check = check_assignment(said)
    assert check.ok and check.visible_misses == ["plus_one"], check.problems
    assert check.to_json()["mutants"][0]["hidden_only"] == "a reason"


def test_a_mutant_a_visible_test_sees_counts_as_seen(tmp_path):
    check = check_assignment(tiny_assignment(tmp_path / "a", {"triple": ("3 * x", {})}))
    (mutant,) = check.mutants
    assert mutant.caught and mutant.seen_by_visible_tests and check.visible_misses == []
    assert check.ok, check.problems
    # what a student with this mistake reads: 3 * 3 is not 6; 3 * 0 is 0 all the same
    assert list(mutant.failed) == ["test_three"] and mutant.failed["test_three"]
    assert mutant.passed == ["test_zero"] and mutant.notebook_error is None
    assert check.to_json()["mutants"][0]["failed"] == mutant.failed


def test_graders_carrying_other_points_than_their_cell_fail_the_check(tmp_path):
    check = check_assignment(tiny_assignment(tmp_path / "a", {"triple": ("3 * x", {})},
                                             grader_points=(2, 2)))
    assert not check.ok
    assert "test_double: the graders carry 4 points, the notebook's cell 2" in check.problems


def test_a_pool_grades_submissions_of_any_assignment_and_reports_as_one_process_does(tmp_path):
    """``check_assignments`` with workers hands single submissions to the pool (one long
    assignment no longer keeps the other workers idle); each assignment's check is what
    ``check_assignment`` says of it alone, in the folders' order, and progress counts every
    submission once, from 0 to the total."""
    from autograder.check_graders import check_assignments

    folder = tmp_path / "01-numpy"
    shutil.copytree(REPO / "assignments" / "01-numpy", folder)
    for extra in sorted((folder / "mutants").glob("*.json"))[2:]:
        extra.unlink()
    (folder / "alternatives").mkdir()
    (folder / "alternatives" / "np_dot.json").write_text(json.dumps({
        "description": "np.dot instead of @", "cells": {
            "matmul": "def matmul(A, B):\n    return np.dot(A, B)"}}))
    empty = tmp_path / "02-empty"
    empty.mkdir()
    seen = []
    pooled = check_assignments([folder, empty], workers=2,
                               progress=lambda done, total: seen.append((done, total)))
    alone = [check_assignment(folder), check_assignment(empty)]

    def comparable(check):
        data = check.to_json()
        data.pop("seconds")
        return data

    assert [comparable(c) for c in pooled] == [comparable(c) for c in alone]
    assert pooled[0].ok and [m.name for m in pooled[0].mutants] == [
        p.stem for p in sorted((folder / "mutants").glob("*.json"))]
    assert pooled[1].problems == [f"expected one notebook in {empty}, found 0"]
    total = 3 + 2 + 1  # the reference twice, the release, two mutants, one alternative
    assert seen == [(done, total) for done in range(total + 1)]


def test_check_graders_says_how_far_it_is(tmp_path, capsys):
    """It runs for many minutes: without a terminal (a CI log) it prints a line as each tenth
    of the submissions is graded."""
    from commands.main import main

    course = tmp_path / "course"
    shutil.copytree(REPO / "assignments" / "01-numpy", course / "assignments" / "01-numpy")
    for extra in sorted((course / "assignments" / "01-numpy" / "mutants").glob("*.json"))[1:]:
        extra.unlink()
    (course / "course.yml").write_text(
        "id: c\ntitle: C\ntimezone: Europe/Berlin\nwithdrawal_deadline: 2030-02-01\n"
        "assignments:\n  - {id: 01-numpy, due: 2030-01-06 18:00}\n")
    assert main(["check-graders", "--course", str(course), "--workers", "2"]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "done" in line]
    assert [line.split(": ")[1].split(",")[0] for line in lines] == [
        "0/4 done", "1/4 done", "2/4 done", "3/4 done", "4/4 done"]
    assert lines[0].startswith("checking graders of 1 assignment (submissions graded): ")
