"""Grading backends behind one interface (course.backends): the registry, and the local backend's
GPU rule: an assignment graded on a GPU is graded with this machine's GPUs or refused, never on
the CPU without a word."""

from __future__ import annotations

import sys
import textwrap

import nbformat
import pytest
from small_courses import BASE_COURSE, utc
from sqlalchemy import select

import course.backends
import course.local_pool
from autograder.notebooks import solution_cells, with_cells
from course.backends import GradingBackend, backend_class, backend_names
from course.errors import UserError
from course.gradebook import GradingRun
from course.inbox import receive
from course.local_pool import LocalBackend, local_gpus
from course.workspace import open_workspace

GPU_COURSE = BASE_COURSE.replace("  - {id: 01-numpy, title: NumPy, for_session: 2}",
                                 "  - {id: 01-numpy, title: NumPy, for_session: 2, "
                                 "grading: {queue: gpu}}")


def test_the_built_in_backends_are_found_by_name():
    assert {"local", "celery"} <= set(backend_names())
    assert backend_class("local") is LocalBackend
    assert backend_class("celery").name == "celery"
    with pytest.raises(UserError, match="unknown grading backend 'slurm': choose one of "
                                        "local, celery"):
        backend_class("slurm")


def test_a_new_backend_is_one_class_and_one_entry_point(tmp_path, monkeypatch):
    (tmp_path / "inline_backend.py").write_text(textwrap.dedent("""\
        from course.backends import GradingBackend

        class InlineBackend(GradingBackend):
            name = "inline"

            def grade(self, batch):
                return []
        """))
    info = tmp_path / "inline_backend-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: inline-backend\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        f"[{course.backends.ENTRY_POINTS}]\ninline = inline_backend:InlineBackend\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    course.backends.BACKENDS.refresh()
    try:
        found = backend_class("inline")
        assert issubclass(found, GradingBackend) and found.__module__ == "inline_backend"
        assert "inline" in backend_names()
    finally:
        sys.modules.pop("inline_backend", None)
        course.backends.BACKENDS.refresh()


def test_local_gpus_come_from_cuda_visible_devices_else_the_device_files(tmp_path):
    assert local_gpus({"CUDA_VISIBLE_DEVICES": "2, 3"}, tmp_path) == ("2", "3")
    assert local_gpus({"CUDA_VISIBLE_DEVICES": ""}, tmp_path) == ()
    assert local_gpus({"CUDA_VISIBLE_DEVICES": "-1"}, tmp_path) == ()
    assert local_gpus({}, tmp_path) == ()
    for name in ("nvidia10", "nvidia1", "nvidiactl", "nvidia-uvm", "nvidia0"):
        (tmp_path / name).touch()
    assert local_gpus({}, tmp_path) == ("0", "1", "10")


def hand_in(ws, student: str) -> None:
    (source,) = (ws.source / "01-numpy").glob("*.ipynb")
    nb = nbformat.read(source, as_version=4)
    with ws.gradebook() as gb:
        receive(ws, gb, student, "01-numpy",
                {source.name: nbformat.writes(with_cells(nb, solution_cells(nb))).encode()},
                received_at=utc(2026, 10, 20, 12))


@pytest.fixture
def gpu_course(make_course):
    ws = open_workspace(make_course(GPU_COURSE, assignments=("01-numpy",)))
    from course.release import release

    release(ws, "01-numpy", now=utc(2026, 10, 14, 12))
    hand_in(ws, "ada")
    return ws


def test_a_gpu_assignment_on_a_machine_without_gpus_is_refused_before_anything_runs(
        gpu_course, monkeypatch):
    from course.grade import grade

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")  # this machine lends no GPU
    graded = []
    monkeypatch.setattr(course.local_pool, "autograde_one",
                        lambda *args: graded.append(args) or ("success", "", []))
    with pytest.raises(UserError, match="01-numpy is graded on a GPU .* this machine has none"):
        grade(gpu_course, "01-numpy")
    assert graded == []
    assert not (gpu_course.root / "submitted").exists()  # nothing collected either
    with gpu_course.gradebook() as gb:
        assert gb.session.scalars(select(GradingRun)).all() == []


def test_a_gpu_assignment_is_graded_with_the_machine_s_gpus(gpu_course, monkeypatch):
    from course.grade import grade

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "1")
    given = []

    def autograde_one(course_file, assignment_id, student_id, expected, gpu_devices=()):
        given.append((student_id, gpu_devices))
        return "unreadable", "seen by the test", []

    monkeypatch.setattr(course.local_pool, "autograde_one", autograde_one)
    (outcome,) = grade(gpu_course, "01-numpy", workers=1)
    assert given == [("ada", ("1",))]
    assert (outcome.student_id, outcome.outcome, outcome.message) == (
        "ada", "unreadable", "seen by the test")
