"""The grading settings, declared once, and the time limits derived from them.

``GradingSettings`` names every key of a course file's ``grading:`` block with its default, its
help text and the rule a value must keep (``metadata``); everything else is built from its
fields: the course file's schema (``course.grading_keys.Grading``), nbgrader's
``SandboxedGrading`` traits (``sandbox_settings``), the engine's ``GradingOptions``
(``GradingOptions.of``), and the defaults of ``Timeouts`` and ``SandboxLimits`` (``DEFAULTS``).
This module imports nothing of ours: the client, the sandbox and the engine import it.

Time limits of one submission, from the inside out: ``call_timeout`` (one call from a grader),
``notebook_timeout`` (all of the notebook's cells), ``run_limit`` (one notebook's whole pytest
run: the engine's backstop) and ``job_limit`` (all of a submission's notebooks, one after
another), which the fleet's broker must wait for (``course.time_limits``).
"""

from __future__ import annotations

import math
import typing
from dataclasses import Field, dataclass, field, fields

__all__ = ["BACKENDS", "DEFAULTS", "GRADERS_MARGIN", "ISOLATION_MODES", "JOB_MARGIN", "QUEUE_NAME",
           "GradingSettings", "cpu_limit", "job_limit", "run_limit", "sandbox_settings", "setting_help",
           "setting_type"]

ISOLATION_MODES = ("auto", "bwrap", "unshare", "none")
BACKENDS = ("local", "celery")  # the built-in grading backends (course.backends: any installed)
QUEUE_NAME = r"^[a-z][a-z0-9_-]{0,39}$"  # grading.queue, course worker --queue


def _setting(default, help: str, *, rule: dict | None = None, choices: tuple | None = None,
             dispatch: bool = False):
    """One grading setting. ``rule``: pydantic's bounds or pattern for a value in the course
    file (``gt``, ``ge``, ``pattern``); ``choices``: its only allowed values; ``dispatch``:
    where and how many at once a submission is graded, not how (no nbgrader trait)."""
    return field(default=default, metadata={"help": help, "rule": rule or {}, "choices": choices,
                                            "dispatch": dispatch})


@dataclass(frozen=True)
class GradingSettings:
    """Limits for grading one submission (the keys of a course file's ``grading:`` block)."""

    notebook_timeout: float = _setting(
        300.0, "seconds to run all of the notebook's cells", rule={"gt": 0})
    call_timeout: float = _setting(60.0, "seconds for one call from a grader", rule={"gt": 0})
    memory_mb: int = _setting(
        4096, "memory cap of the student's process tree, in MiB", rule={"ge": 64})
    isolation: str = _setting("auto", " | ".join(ISOLATION_MODES), choices=ISOLATION_MODES)
    workers: int | None = _setting(
        None, "submissions graded at once (none: the machine's cores)", rule={"ge": 1},
        dispatch=True)
    backend: str = _setting(
        "local", "local (a process pool on this machine) | celery (one job per submission on "
        "the broker's workers) | an installed backend's name (course.backends)", dispatch=True)
    broker: str | None = _setting(
        None, "the celery backend's broker, amqp://user:pass@host/vhost",
        rule={"pattern": r"^amqps?://"}, dispatch=True)
    queue: str = _setting(
        "cpu", "the named queue its jobs go to: cpu, gpu (a GPU worker; the local backend: this "
        "machine's GPUs) or one the fleet's workers take (course worker --queue NAME)",
        rule={"pattern": QUEUE_NAME}, dispatch=True)


DEFAULTS = GradingSettings()


def setting_type(setting: Field) -> type:
    """The Python type of a setting's value, ``None`` left out (``int | None`` gives int)."""
    hint = typing.get_type_hints(GradingSettings)[setting.name]
    members = [m for m in typing.get_args(hint) if m is not type(None)] or [hint]
    return members[0]


def sandbox_settings() -> tuple[Field, ...]:
    """The settings that decide how a submission is graded (nbgrader's ``SandboxedGrading``
    traits), not where: every field but the dispatch ones."""
    return tuple(f for f in fields(GradingSettings) if not f.metadata["dispatch"])


def setting_help(name: str) -> str:
    """What the setting ``name`` measures, for help texts."""
    return {f.name: f.metadata["help"] for f in fields(GradingSettings)}[name]


# -- time limits --------------------------------------------------------------------------
GRADERS_MARGIN = 600.0  # s the graders' calls get in all beyond the notebook's own run
JOB_MARGIN = 300.0  # s per submission for collecting, nbgrader's steps and the gradebook


def run_limit(notebook_timeout: float) -> float:
    """Seconds one notebook's grading may take in all, the engine's backstop
    (``GradingOptions.total_seconds``): the notebook's run, then the graders'."""
    return notebook_timeout + GRADERS_MARGIN


def cpu_limit(notebook_timeout: float) -> int:
    """CPU seconds the student's process may use (RLIMIT_CPU, one process's threads added up):
    one busy thread for the whole run. A notebook allowed 1200 s of training is not stopped at
    a fixed CPU cap below that; one that trains on many threads at once meets it sooner."""
    return math.ceil(run_limit(notebook_timeout))


def job_limit(notebook_timeout: float, notebooks: int) -> float:
    """Seconds grading one submission of ``notebooks`` notebooks may take: nbgrader grades them
    one after another, each under its own backstop."""
    return max(notebooks, 1) * run_limit(notebook_timeout) + JOB_MARGIN
