"""Small course files for tests that need a roster and one assignment and nothing more (the
hub's settings, the exchange's routing, the fleet's jobs)."""

from __future__ import annotations

__all__ = ["course_text"]


def course_text(course_id: str = "dl-test", *, title: str = "Deep Learning (test)",
                instructors: tuple[str, ...] = ("ina",), graders: tuple[str, ...] = (),
                students: tuple[str, ...] = ("ada", "ben"),
                due: str = "2027-01-10 18:00") -> str:
    def people(ids):
        return "[" + ", ".join(f"{{id: {person}}}" for person in ids) + "]"

    staff = f"  instructors: {people(instructors)}\n"
    if graders:
        staff += f"  graders: {people(graders)}\n"
    return (f"id: {course_id}\ntitle: {title}\ntimezone: Europe/Berlin\n"
            f"withdrawal_deadline: 2027-03-01\nassignments:\n  - {{id: 01-numpy, due: {due}}}\n"
            f"roster:\n{staff}  students: {people(students)}\n")
