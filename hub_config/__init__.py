"""JupyterHub configuration for a course: groups and roles from the roster, the exchange,
formgrader and idle-culler services, authenticator and spawner by name, GPU placement."""

from .settings import CourseHub, apply

__all__ = ["CourseHub", "apply"]
