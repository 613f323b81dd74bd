"""Grading settings resolved once: the assignment's ``grading:``, else the course file's, else
the platform defaults (``autograder.settings.DEFAULTS``), each with where it came from; every
consumer (nbgrader's traits, the engine's options, check-graders, ``course config``) agrees."""

import dataclasses
import json

import pytest

from autograder.client import Timeouts
from autograder.engine import GradingOptions
from autograder.nbgrader_bridge import SandboxedGrading
from autograder.sandbox import SandboxLimits
from autograder.settings import DEFAULTS, GradingSettings, setting_help
from commands.main import main
from course.settings import resolve_grading
from course.workspace import open_workspace

COURSE = """\
id: c
title: C
timezone: Europe/Berlin
withdrawal_deadline: 2030-02-01
grading: {call_timeout: 45, memory_mb: 1024}
assignments:
  - {id: a1, due: 2030-01-06 18:00}
  - {id: a2, due: 2030-01-13 18:00}
  - {id: a3, due: 2030-01-20 18:00, grading: {notebook_timeout: 500, memory_mb: 2048, isolation: none}}
"""


@pytest.fixture
def ws(make_course):
    root = make_course(COURSE)
    for assignment_id in ("a1", "a2", "a3"):
        (root / "assignments" / assignment_id).mkdir(parents=True)
    return open_workspace(root)


def test_assignment_then_course_then_default_each_with_its_source(ws):
    own = resolve_grading(ws.course, "a3")
    assert own.values == GradingSettings(notebook_timeout=500, call_timeout=45, memory_mb=2048,
                                         isolation="none", workers=None)
    assert own.sources == {"notebook_timeout": "assignments[2].grading",
                           "call_timeout": "course grading",
                           "memory_mb": "assignments[2].grading",
                           "isolation": "assignments[2].grading",
                           "workers": "default", "backend": "default", "broker": "default",
                           "queue": "default"}
    plain = resolve_grading(ws.course, "a1")
    assert plain.values == dataclasses.replace(DEFAULTS, call_timeout=45, memory_mb=1024)
    assert {s.name: s.source for s in plain} == {
        "notebook_timeout": "default", "call_timeout": "course grading",
        "memory_mb": "course grading", "isolation": "default", "workers": "default",
        "backend": "default", "broker": "default", "queue": "default"}
    options = own.options()
    assert options.timeouts == Timeouts(notebook=500, call=45)
    assert options.limits.memory_bytes == 2048 * 2**20 and options.limits.isolation == "none"
    with pytest.raises(LookupError, match="unknown assignment 'zz'"):
        resolve_grading(ws.course, "zz")


def test_nbgrader_grades_each_assignment_under_its_own_settings(ws):
    """One nbgrader config for every assignment (what the formgrader's autograde runs with):
    each notebook is graded under its assignment's resolved limits."""
    step = SandboxedGrading(config=ws.nbgrader_config())
    for assignment_id in ("a1", "a2", "a3"):
        assert step.options(assignment_id) == resolve_grading(ws.course, assignment_id).options()
    assert step.options("a3").limits.memory_bytes == 2048 * 2**20
    assert step.options("a1").limits.memory_bytes == 1024 * 2**20
    assert step.options("a3").timeouts == Timeouts(notebook=500, call=45)
    assert step.options("zz") == GradingOptions.of(DEFAULTS)  # not in the course: the platform's


def test_the_defaults_are_the_same_everywhere():
    traits = SandboxedGrading()
    assert (traits.notebook_timeout, traits.call_timeout, traits.memory_mb, traits.isolation) == (
        DEFAULTS.notebook_timeout, DEFAULTS.call_timeout, DEFAULTS.memory_mb, DEFAULTS.isolation)
    assert Timeouts() == Timeouts(notebook=DEFAULTS.notebook_timeout, call=DEFAULTS.call_timeout)
    assert SandboxLimits().memory_bytes == DEFAULTS.memory_mb * 2**20
    assert SandboxLimits().isolation == DEFAULTS.isolation
    assert traits.options() == GradingOptions.of(DEFAULTS) == GradingOptions()


def test_nbgrader_traits_are_built_from_the_settings_and_configurable():
    from dataclasses import fields

    from traitlets.config import Config

    from autograder.settings import sandbox_settings

    traits = SandboxedGrading.class_traits(config=True)
    for setting in fields(GradingSettings):
        assert (setting.name in traits) == (setting in sandbox_settings())
    assert {s.name for s in sandbox_settings()} == {
        "notebook_timeout", "call_timeout", "memory_mb", "isolation"}
    assert traits["memory_mb"].help == setting_help("memory_mb")
    step = SandboxedGrading(config=Config({"SandboxedGrading": {"memory_mb": 1024,
                                                                 "notebook_timeout": 1200}}))
    options = step.options()
    assert options.limits.memory_bytes == 1024 * 2**20 and options.timeouts.notebook == 1200


def test_check_graders_grades_each_assignment_under_its_own_options(ws, monkeypatch, capsys):
    from autograder import check_graders

    seen = {}

    def record(folders, options, workers=1, progress=None):
        seen.update({folder.name: opts for folder, opts in zip(folders, options, strict=True)})
        return []

    monkeypatch.setattr(check_graders, "check_assignments", record)
    assert main(["check-graders", "--json", "--course", str(ws.course_file)]) == 0
    assert seen == {a: resolve_grading(ws.course, a).options() for a in ("a1", "a2", "a3")}
    assert seen["a3"].timeouts.notebook == 500 and seen["a1"].timeouts.notebook == 300
    capsys.readouterr()


def test_check_assignments_takes_one_options_per_folder(tmp_path, monkeypatch):
    from autograder import check_graders

    calls = []

    def planned(folder, options):
        calls.append((folder.name, options))
        return check_graders.CheckPlan(folder, 0, [], [], [], broken=check_graders.AssignmentCheck(
            folder.name, 0, 0, 0, [], False, 0.0))

    monkeypatch.setattr(check_graders, "plan_check", planned)
    fast, slow = GradingOptions(total_seconds=10), GradingOptions(total_seconds=20)
    check_graders.check_assignments([tmp_path / "x", tmp_path / "y"], [fast, slow])
    assert calls == [("x", fast), ("y", slow)]
    calls.clear()
    check_graders.check_assignments([tmp_path / "x", tmp_path / "y"], fast)  # one for all
    assert calls == [("x", fast), ("y", fast)]
    with pytest.raises(ValueError, match="2 grading options for 1 assignments"):
        check_graders.check_assignments([tmp_path / "x"], [fast, slow])


def test_course_config_json_contract(ws, capsys):
    assert main(["config", "a3", "--format", "json", "--course", str(ws.course_file)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {"assignment": "a3", "settings": {
        "notebook_timeout": {"value": 500, "source": "assignments[2].grading"},
        "call_timeout": {"value": 45, "source": "course grading"},
        "memory_mb": {"value": 2048, "source": "assignments[2].grading"},
        "isolation": {"value": "none", "source": "assignments[2].grading"},
        "workers": {"value": None, "source": "default"},
        "backend": {"value": "local", "source": "default"},
        "broker": {"value": None, "source": "default"},
        "queue": {"value": "cpu", "source": "default"}}}
    assert main(["config", "--format", "json", "--course", str(ws.course_file)]) == 0
    course_level = json.loads(capsys.readouterr().out)
    assert course_level["assignment"] is None
    assert course_level["settings"]["notebook_timeout"] == {"value": 300, "source": "default"}
    assert course_level["settings"]["memory_mb"] == {"value": 1024, "source": "course grading"}
    assert main(["config", "a1", "--course", str(ws.course_file)]) == 0
    table = capsys.readouterr().out
    assert "call_timeout" in table and "course grading" in table
    assert main(["config", "zz", "--course", str(ws.course_file)]) == 2


def test_fleet_settings_resolve_like_the_others_and_the_broker_password_is_never_shown(
        make_course):
    root = make_course(COURSE.replace(
        "grading: {call_timeout: 45, memory_mb: 1024}",
        "grading: {call_timeout: 45, backend: celery, broker: 'amqp://course:s3cret@rabbit:5672/c'}"
    ).replace("- {id: a2, due: 2030-01-13 18:00}",
              "- {id: a2, due: 2030-01-13 18:00, grading: {queue: gpu}}"))
    ws = open_workspace(root)
    gpu = resolve_grading(ws.course, "a2")
    assert (gpu.values.backend, gpu.values.queue) == ("celery", "gpu")
    assert gpu.sources["queue"] == "assignments[1].grading"
    assert gpu.values.broker == "amqp://course:s3cret@rabbit:5672/c"  # what the fleet connects to
    shown = {s.name: s.value for s in gpu}
    assert shown["broker"] == "amqp://course:***@rabbit:5672/c"
    assert "s3cret" not in json.dumps(gpu.to_json())
    assert resolve_grading(ws.course, "a1").values.queue == "cpu"
    limits = ws.nbgrader_api().config.SandboxedGrading.assignment_settings  # nbgrader's: limits only
    assert set(limits["a2"]) == {"notebook_timeout", "call_timeout", "memory_mb", "isolation"}
    assert limits["a2"]["call_timeout"] == 45


def test_grading_gpu_was_replaced_by_a_named_queue_and_the_course_file_says_so(make_course,
                                                                               capsys):
    root = make_course(COURSE.replace("- {id: a2, due: 2030-01-13 18:00}",
                                      "- {id: a2, due: 2030-01-13 18:00, grading: {gpu: true}}"))
    assert main(["validate", "--course", str(root / "course.yml")]) == 2
    out = capsys.readouterr()
    assert "grading.gpu was replaced by named queues: write 'queue: gpu'" in out.out + out.err
    bad = make_course(COURSE.replace("- {id: a2, due: 2030-01-13 18:00}",
                                     "- {id: a2, due: 2030-01-13 18:00, grading: {queue: 'GPU!'}}"))
    assert main(["validate", "--course", str(bad / "course.yml")]) == 2
    out = capsys.readouterr()
    assert "queue" in out.out + out.err
