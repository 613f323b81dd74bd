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
    roster = course.roster
    for name, people in (("student", roster.students), ("instructor", roster.instructors),
                         ("grader", roster.graders)):
        if any(person.id == user for person in people):
            return Role(name)
    return None


def roles_by_user(course: Course) -> dict[str, Role]:
    """Every user's role in the roster at once (``role_in`` for each, in one pass): for
    services that look roles up per request in a roster of a thousand students."""
    roles: dict[str, Role] = {}
    roster = course.roster
    for name, people in (("grader", roster.graders), ("instructor", roster.instructors),
                         ("student", roster.students)):  # role_in's order wins: set last
        role = Role(name)
        roles.update((person.id, role) for person in people)
    return roles
