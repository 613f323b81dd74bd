"""LMS export formats (``course export --format NAME``), by name.

Each format is a subclass of ``LmsFormat`` (``base``) in a module of its own, registered as an
entry point in the group ``dl_course.lms_formats``; the built-in ones (``canvas``, ``moodle``,
``csv``) are declared in this project's ``pyproject.toml`` exactly as a plug-in declares its own.
"""

from ..registry import Registry
from .base import ASSIGNMENTS, LmsFormat

__all__ = ["ASSIGNMENTS", "GROUP", "LMS_FORMATS", "LmsFormat"]

GROUP = "dl_course.lms_formats"
LMS_FORMATS: Registry[LmsFormat] = Registry(GROUP, LmsFormat, "export format",
                                           first=("canvas", "moodle", "csv"))
