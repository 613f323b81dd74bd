"""The courses one exchange serves: each course's store (``course.store.CourseExchange``) on a
thread of its own, and its roster as last read, from which a user's role is looked up.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from course.coursefile import Course
from course.fresh_course import course_file_stamp
from course.roles import Role, roles_by_user
from course.store import CourseExchange
from course.workspace import open_workspace

from .threads import named_pool

__all__ = ["Roster", "ServedCourse"]


class Roster(NamedTuple):
    """A course file as last parsed: its stamp, the course, each user's role in it."""

    stamp: tuple
    course: Course
    roles: dict[str, Role]

    @classmethod
    def parsed(cls, stamp: tuple, course: Course) -> Roster:
        return cls(stamp, course, roles_by_user(course))


class ServedCourse:
    """One course on this exchange: its store, on a thread of its own (one course's collection
    never queues behind another's uploads), and its roster with the ``course_file_stamp`` it
    was read at (read again before each role check if the file changed)."""

    def __init__(self, course_file: Path, **limits):
        self.pool = named_pool(1, "exch-store")
        self.exchange = self.pool.submit(CourseExchange, course_file, **limits).result()
        self.course_id = self.exchange.course_id
        self.roster = Roster.parsed(self.exchange._stamp, self.exchange.ws.course)

    def roster_file(self) -> Path:
        path = self.exchange.course_file
        return path if path.is_file() else path / "course.yml"

    def roster_role(self, user: str) -> Role | None:
        """``user``'s role in the course file as it is now (parsed again whenever its
        ``course_file_stamp`` changed). Blocking: the service runs it on its roster thread."""
        stamp = course_file_stamp(self.roster_file())
        if stamp != self.roster.stamp:  # the stamp first: what is parsed is never older
            self.roster = Roster.parsed(stamp, open_workspace(self.roster_file()).course)
        return self.roster.roles.get(user)

    def close(self) -> None:
        self.pool.submit(self.exchange.close).result()
        self.pool.shutdown(wait=True)
