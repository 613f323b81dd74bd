"""`course check-graders`: the shipped assignments' graders tell right from wrong."""

import json
import shutil
import subprocess
import sys

import pytest
from small_courses import REPO

from autograder.check_graders import check_assignment

ASSIGNMENTS = sorted(p.name for p in (REPO / "assignments").iterdir() if (p / "graders").is_dir())


@pytest.mark.slow
@pytest.mark.e2e
def test_check_graders_on_the_shipped_assignments(tmp_path):
    course = tmp_path / "course"
    shutil.copytree(REPO / "assignments", course / "assignments")
    listed = "\n".join(f"  - {{id: {a}, due: 2030-01-06 18:00}}" for a in ASSIGNMENTS)
    (course / "course.yml").write_text("id: c\ntitle: C\ntimezone: Europe/Berlin\n"
                                       f"withdrawal_deadline: 2030-02-01\nassignments:\n{listed}\n")
    done = subprocess.run([sys.executable, "-m", "commands.main", "check-graders", "--json",
                           "--course", str(course)], capture_output=True, text=True,
                          timeout=2400, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    report = json.loads(done.stdout)["assignments"]
    assert [a["id"] for a in report] == ASSIGNMENTS and len(ASSIGNMENTS) >= 2
    assert sum(len(a["alternatives"]) for a in report) >= 5  # 13's three, 14's two at least
    for a in report:
        assert a["reference_score"] == a["max_score"] > 0
        assert a["release_score"] == 0 and a["deterministic"]
        assert len(a["mutants"]) >= 3 and all(m["caught"] for m in a["mutants"])
        assert all(m["score"] < a["max_score"] for m in a["mutants"])
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
