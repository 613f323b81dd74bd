"""The four time limits of a grading job are tied: a call's (``call_timeout``), the notebook's
(``notebook_timeout``), the whole run's backstop (derived from the notebook's) and the broker's
``consumer_timeout`` (above the longest job). No clock: the limits the engine is given are
compared, nothing is waited for."""

import re

from small_courses import REPO

from autograder.client import Timeouts
from autograder.engine import GradingOptions
from autograder.nbgrader_bridge import SandboxedGrading
from autograder.settings import DEFAULTS, GRADERS_MARGIN, job_limit, run_limit
from course.coursefile import parse_course
from course.settings import resolve_grading
from course.time_limits import (
    BROKER_CONSUMER_TIMEOUT,
    assignment_job_limit,
    jobs_over_broker_timeout,
)

COURSE = """\
id: c
title: C
timezone: Europe/Berlin
withdrawal_deadline: 2030-02-01
grading: {backend: celery}
assignments:
  - {id: long, due: 2030-01-06 18:00, grading: {notebook_timeout: 1200}}
  - {id: plain, due: 2030-01-13 18:00}
  - {id: huge, due: 2030-01-20 18:00, grading: {notebook_timeout: 30000}}
  - {id: huge-here, due: 2030-01-20 18:00, grading: {notebook_timeout: 30000, backend: local}}
"""


def test_a_notebook_timeout_of_1200_s_is_not_cut_by_the_backstop():
    course = parse_course(COURSE)
    resolved = resolve_grading(course, "long")
    options = resolved.options()
    assert options.timeouts.notebook == 1200
    assert options.total_seconds > 1200  # was a fixed 900 s: the notebook was cut at 900
    assert options.total_seconds == 1200 + GRADERS_MARGIN
    assert options.limits.cpu_seconds >= 1200  # the sandbox's CPU cap was a fixed 600 s
    # nbgrader's step (course grade, the formgrader) gives the engine the same
    step = SandboxedGrading(assignment_settings={"long": {"notebook_timeout": 1200}})
    assert step.options("long").total_seconds == options.total_seconds
    # any options that name the notebook's limit get a backstop behind it
    assert GradingOptions(timeouts=Timeouts(notebook=1200)).total_seconds > 1200


def test_the_default_backstop_stays_900_s_and_an_explicit_one_is_kept():
    assert GradingOptions().total_seconds == run_limit(DEFAULTS.notebook_timeout) == 900
    assert resolve_grading(parse_course(COURSE), "plain").options().total_seconds == 900
    assert GradingOptions(timeouts=Timeouts(notebook=1200), total_seconds=60).total_seconds == 60


def test_a_job_is_its_notebooks_one_after_another():
    assert job_limit(300, 3) - job_limit(300, 2) == run_limit(300)
    assert job_limit(1200, 2) > 2 * 1200
    assert job_limit(300, 0) == job_limit(300, 1)  # a folder without notebooks yet: one


def _consumer_timeout_ms(text: str) -> int:
    found = re.findall(r"^consumer_timeout\s*=\s*(\d+)\s*$", text, flags=re.MULTILINE)
    assert len(found) == 1, "the broker's config sets consumer_timeout once"
    return int(found[0])


def test_the_deployed_broker_waits_for_the_longest_job_of_the_shipped_assignments():
    entrypoint = (REPO / "deploy" / "images" / "rabbitmq-entrypoint.sh").read_text()
    assert _consumer_timeout_ms(entrypoint) == BROKER_CONSUMER_TIMEOUT * 1000
    notebooks = max(len(list(folder.glob("*.ipynb")))
                    for folder in (REPO / "assignments").iterdir() if folder.is_dir())
    assert notebooks >= 1
    assert BROKER_CONSUMER_TIMEOUT > job_limit(DEFAULTS.notebook_timeout, notebooks)


def test_assignments_whose_jobs_outlast_the_broker_are_named(tmp_path):
    course = parse_course(COURSE)
    for assignment_id, count in (("long", 2), ("huge", 1), ("huge-here", 1)):
        (tmp_path / assignment_id).mkdir()
        for number in range(count):
            (tmp_path / assignment_id / f"nb{number}.ipynb").write_text("{}")
    assert assignment_job_limit(course, "long", tmp_path) == job_limit(1200, 2)
    assert assignment_job_limit(course, "plain", tmp_path) == job_limit(300, 1)  # no folder
    flagged = list(jobs_over_broker_timeout(course, tmp_path))
    assert [index for index, _ in flagged] == [2]  # huge-here is graded here, not on the fleet
    assert "'huge'" in flagged[0][1] and "consumer_timeout" in flagged[0][1]
    # a broker that waits less than two 1200 s notebooks names that assignment too
    shorter = list(jobs_over_broker_timeout(course, tmp_path, broker_timeout=job_limit(1200, 2) - 1))
    assert [index for index, _ in shorter] == [0, 2]


def test_course_validate_warns_about_a_fleet_job_longer_than_the_broker_waits(make_course,
                                                                             capsys):
    from commands.main import main

    root = make_course(COURSE.replace("timezone: Europe/Berlin",
                                      "timezone: Europe/Berlin\nsessions: []\nroster: {}"))
    for assignment_id in ("long", "plain", "huge", "huge-here"):
        (root / "assignments" / assignment_id).mkdir(parents=True)
        (root / "assignments" / assignment_id / "a.ipynb").write_text("{}")
    code = main(["validate", "--course", str(root / "course.yml")])
    said = capsys.readouterr()
    out = " ".join((said.out + said.err).split())  # the warning is wrapped to the terminal
    assert "'huge' may take" in out and "consumer_timeout" in out
    assert "'huge-here'" not in out and "'long' may" not in out  # local, and short enough
    assert code == 0  # a warning does not fail the run
