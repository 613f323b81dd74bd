"""The shipped assignments checked once a session by ``course check-graders --json`` (every
mutant, alternative and reference graded once): its report is what the tests of the graders'
classes of wrong answers read, rather than grading the same mutants again."""

import json
import shutil
import subprocess
import sys
import warnings

import pytest
from assignment_parts import SHIPPED
from small_courses import REPO


@pytest.fixture(scope="session")
def shipped_check(tmp_path_factory) -> dict:
    """``course check-graders --json`` on every shipped assignment, run once (20-25 minutes
    on two cores: the Keras assignments' mutants): ``{"report": the whole JSON, "returncode",
    "output": the end of its stdout and stderr, "by_id": {assignment: its part}, "not_ok":
    {assignment: why it failed}, "first_not_ok": the same of the first run}``.

    An assignment that fails is checked once more on its own and that second report kept: one
    CI run in about six failed the check on a machine where every other run passed, and the
    report then lost why. The first run's reasons go to a warning and ``first_not_ok``; an
    assignment that fails twice fails the tests."""
    course = tmp_path_factory.mktemp("shipped") / "course"
    shutil.copytree(REPO / "assignments", course / "assignments")
    listed = "\n".join(f"  - {{id: {a}, due: 2030-01-06 18:00}}" for a in SHIPPED)
    (course / "course.yml").write_text("id: c\ntitle: C\ntimezone: Europe/Berlin\n"
                                       f"withdrawal_deadline: 2030-02-01\nassignments:\n{listed}\n")
    check = _check_graders(course)
    first_not_ok = check["not_ok"]
    if first_not_ok:
        warnings.warn(f"check-graders failed on the first run:\n{json.dumps(first_not_ok, indent=1)}",
                      stacklevel=1)
        again = _check_graders(course, list(first_not_ok))
        by_id = {**check["by_id"], **again["by_id"]}
        check = {**again, "by_id": by_id, "report": {"assignments": [by_id[a] for a in SHIPPED]}}
    return {**check, "first_not_ok": first_not_ok}


def _check_graders(course, assignments=()) -> dict:
    done = subprocess.run([sys.executable, "-m", "commands.main", "check-graders", "--json",
                           "--course", str(course), *assignments], capture_output=True,
                          text=True, timeout=2400, check=False)
    output = done.stdout[-3000:] + done.stderr[-3000:]
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        pytest.fail(f"check-graders printed no JSON (exit {done.returncode}):\n{output}")
    return {"report": report, "returncode": done.returncode, "output": output,
            "by_id": {a["id"]: a for a in report["assignments"]},
            "not_ok": {a["id"]: _why_not_ok(a) for a in report["assignments"] if not a["ok"]}}


def _why_not_ok(check: dict) -> dict:
    """The parts of one assignment's report that made it fail (the whole report is ~100 kB:
    a failure message that shows its end hides the assignment at fault)."""
    return {"problems": check["problems"], "deterministic": check["deterministic"],
            "reference_score": check["reference_score"], "max_score": check["max_score"],
            "release_score": check["release_score"], "seconds": check["seconds"],
            "mutants_not_caught": {m["name"]: {k: m[k] for k in (
                "score", "missed", "failed", "notebook_error")}
                for m in check["mutants"] if not m["caught"]},
            "alternatives_losing_points": {a["name"]: a["lost"] for a in check["alternatives"]
                                           if not a["full_marks"]}}

