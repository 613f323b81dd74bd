"""Who someone is in a course: the course file's roster decides, on every request."""

from __future__ import annotations

from dataclasses import dataclass

from .coursefile import Course

__all__ = ["Role", "role_in"]


@dataclass(frozen=True)
class Role:
    name: str  # student | instructor | grader

    @property
    def staff(self) -> bool:
        return self.name in ("instructor", "grader")


def role_in(course: Course, user: str) -> Role | None:
    """The user's role in the course file's roster; None: not in it."""
    roster = course.roster
    for name, people in (("student", roster.students), ("instructor", roster.instructors),
                         ("grader", roster.graders)):
        if any(person.id == user for person in people):
            return Role(name)
    return None
