"""Who someone is in a course: the course file's roster decides, on every request."""

from __future__ import annotations

from dataclasses import dataclass

from .coursefile import Course

__all__ = ["Role", "role_in", "roles_by_user"]


@dataclass(frozen=True)
class Role:
    name: str  # student | instructor | grader

    @property
    def staff(self) -> bool:
        return self.name in ("instructor", "grader")


def role_in(course: Course, user: str) -> Role | None:
    """The user's role in the course file's roster; None: not in it."""
    return roles_by_user(course).get(user)


def roles_by_user(course: Course) -> dict[str, Role]:
    """Every user's role in the roster: for services that look roles up on every request in
    a roster of a thousand students (built once per parse, not a scan per request). Someone
    listed twice keeps the first of student, instructor, grader."""
    roles: dict[str, Role] = {}
    roster = course.roster
    for name, people in (("student", roster.students), ("instructor", roster.instructors),
                         ("grader", roster.graders)):
        role = Role(name)
        for person in people:
            roles.setdefault(person.id, role)
    return roles
