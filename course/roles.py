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


def _listed(course: Course):
    """(role, people) in the order that decides for someone listed twice (the course file
    refuses that; a Course built otherwise may have it): the first wins."""
    roster = course.roster
    return ((Role("student"), roster.students), (Role("instructor"), roster.instructors),
            (Role("grader"), roster.graders))


def role_in(course: Course, user: str) -> Role | None:
    """The user's role in the course file's roster; None: not in it. A scan that stops at the
    user: for one lookup per parse (the dashboard, the formgrader's gate)."""
    for role, people in _listed(course):
        if any(person.id == user for person in people):
            return role
    return None


def roles_by_user(course: Course) -> dict[str, Role]:
    """Every user's role in the roster, as ``role_in`` says it: for services that look roles
    up on every request in a roster of a thousand students (built once per parse, not a scan
    per request)."""
    roles: dict[str, Role] = {}
    for role, people in _listed(course):
        for person in people:
            roles.setdefault(person.id, role)
    return roles
