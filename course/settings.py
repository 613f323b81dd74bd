"""Grading settings resolved once: the assignment's ``grading:`` block, else the course file's,
else the platform defaults (``autograder.settings.DEFAULTS``), each value with where it came
from. ``course grade``, ``grade-file``, ``check-graders`` and ``config`` all read them here.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit, urlunsplit

from autograder.settings import DEFAULTS, GradingSettings

if TYPE_CHECKING:
    from autograder.engine import GradingOptions

__all__ = ["COURSE", "DEFAULT", "DISPATCH_SETTINGS", "GradedCourse", "ResolvedSettings",
           "Setting", "resolve_grading", "shown_broker"]

COURSE = "course grading"
DEFAULT = "default"
# where and how many at once a submission is graded, not how: not nbgrader's settings
DISPATCH_SETTINGS = tuple(f.name for f in fields(GradingSettings) if f.metadata["dispatch"])


class GradedCourse(Protocol):
    """What resolving needs of a course: ``course.coursefile.Course``, which asks this module
    (``Course.grading_for``), so this module does not import it."""

    grading: Any  # the course file's grading: block (course.grading_keys)
    assignments: Sequence[Any]

    def assignment(self, assignment_id: str) -> Any: ...


def shown_broker(url: str | None) -> str | None:
    """The broker URL with its password masked, for tables, logs and JSON."""
    if not url:
        return url
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


@dataclass(frozen=True)
class Setting:
    name: str
    value: float | int | str | None
    source: str  # "assignments[2].grading" | "course grading" | "default"


@dataclass(frozen=True)
class ResolvedSettings:
    assignment_id: str | None  # None: the course's own (what an assignment without one gets)
    values: GradingSettings
    sources: dict[str, str]  # setting name -> where its value came from

    def __iter__(self):
        for f in fields(GradingSettings):
            value = getattr(self.values, f.name)
            yield Setting(f.name, shown_broker(value) if f.name == "broker" else value,
                          self.sources[f.name])

    def options(self) -> GradingOptions:
        """The engine's ``GradingOptions`` for these settings."""
        from autograder.engine import GradingOptions  # numpy and the client: when grading

        return GradingOptions.of(self.values)

    def to_json(self) -> dict:
        return {"assignment": self.assignment_id,
                "settings": {s.name: {"value": s.value, "source": s.source} for s in self}}


def resolve_grading(course: GradedCourse, assignment_id: str | None) -> ResolvedSettings:
    """The effective grading settings of one assignment, in order: the assignment's own
    ``grading:``, the course file's ``grading:``, the platform defaults. ``None``: the course's
    settings, without an assignment's."""
    layers = [(course.grading.model_dump(exclude_none=True), COURSE)]
    if assignment_id is not None:
        course.assignment(assignment_id)  # LookupError naming the known ones
        index = next(i for i, a in enumerate(course.assignments) if a.id == assignment_id)
        layers.insert(0, (course.assignments[index].grading.model_dump(exclude_none=True),
                          f"assignments[{index}].grading"))
    values, sources = {}, {}
    for f in fields(GradingSettings):
        sources[f.name] = DEFAULT
        for given, source in layers:
            if f.name in given:
                values[f.name], sources[f.name] = given[f.name], source
                break
    return ResolvedSettings(assignment_id, replace(DEFAULTS, **values), sources)
