"""Late rules (the course file's ``policy: {late: NAME}``), by name.

Each rule is a subclass of ``LateRule`` (``base``) in a module of its own, registered as an entry
point in the group ``dl_course.late_rules``; the built-in ones (``missed``, ``accepted``) are
declared in this project's ``pyproject.toml`` exactly as a plug-in declares its own. The course
file is checked against this registry (an unknown name is an error at its line).
"""

from ..registry import Registry, one_of
from .base import LateRule

__all__ = ["GROUP", "LATE_RULES", "LateRule", "known_late_rule", "late_rule"]

GROUP = "dl_course.late_rules"
LATE_RULES: Registry[LateRule] = Registry(GROUP, LateRule, "late rule",
                                        first=("missed", "accepted"))


def late_rule(name: str) -> LateRule:
    """The rule named ``name`` (a course's ``policy.late``)."""
    return LATE_RULES[name]()


def known_late_rule(name: str) -> str:
    """``name`` if a late rule has it; else ``ValueError`` naming the rules installed (the course
    file's check of ``policy.late``)."""
    if name not in LATE_RULES:
        raise ValueError(f"should be {one_of(list(LATE_RULES))} (the late rules installed)")
    return name
