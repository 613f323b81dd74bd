"""The course's JupyterHub groups and roles, from the course file's roster.

    group nbgrader-<course>     the students        role: access the exchange
    group formgrade-<course>    instructors, graders role: access the exchange and the formgrader

The exchange itself authorizes every action by the roster again (a group only lets a token reach
the service); nbgrader's JupyterHub documentation uses the same two group names.
"""

from __future__ import annotations

from course.coursefile import Course

__all__ = ["DASHBOARD", "course_groups", "course_roles", "dashboard_names", "formgrader_name",
           "staff_ids", "student_ids"]

DASHBOARD = "dashboard"  # the course dashboard's service name (dashboard/)


def dashboard_names(courses: list[Course]) -> dict[str, str]:
    """The dashboard service of each course: ``dashboard`` on a one-course hub (its URL stays
    /services/dashboard/), ``dashboard-<id>`` when the hub has several."""
    if len(courses) == 1:
        return {courses[0].id: DASHBOARD}
    return {course.id: f"{DASHBOARD}-{course.id}" for course in courses}


def formgrader_name(course: Course) -> str:
    return f"formgrader-{course.id}"


def student_ids(course: Course) -> list[str]:
    return [person.id for person in course.roster.students]


def staff_ids(course: Course) -> list[str]:
    return [person.id for person in (*course.roster.instructors, *course.roster.graders)]


def course_groups(course: Course) -> dict[str, dict]:
    """``c.JupyterHub.load_groups``: JupyterHub adds these members (it never removes any)."""
    return {f"nbgrader-{course.id}": {"users": student_ids(course)},
            f"formgrade-{course.id}": {"users": staff_ids(course)}}


def course_roles(course: Course, *, exchange: str, formgrader: bool = True,
                 dashboard: str | None = None) -> list[dict]:
    """``c.JupyterHub.load_roles`` entries for the two groups (and the formgrader service);
    ``dashboard``: the dashboard service both groups may open (it checks the roster itself)."""
    exchange_scope = f"access:services!service={exchange}"
    shared = [f"access:services!service={dashboard}"] if dashboard else []
    staff_scopes = [exchange_scope, *shared]
    roles = [{"name": f"nbgrader-{course.id}",
              "description": f"students of {course.id}: the exchange",
              "scopes": [exchange_scope, *shared], "groups": [f"nbgrader-{course.id}"]}]
    if formgrader:
        staff_scopes.append(f"access:services!service={formgrader_name(course)}")
        # the formgrader releases and collects through the exchange with its own token
        roles.append({"name": f"{formgrader_name(course)}-service",
                      "description": "the formgrader service may use the exchange",
                      "scopes": [exchange_scope], "services": [formgrader_name(course)]})
    roles.append({"name": f"formgrade-{course.id}",
                  "description": f"instructors and graders of {course.id}: exchange, formgrader",
                  "scopes": staff_scopes, "groups": [f"formgrade-{course.id}"]})
    return roles
