"""Late rules (the course file's ``policy: {late: NAME}``), by name.

Each rule is a subclass of ``LateRule`` (``base``) in a module of its own, registered as an entry
point in the group ``dl_course.late_rules``; the built-in ones (``missed``, ``accepted``,
``window``) are declared in this project's ``pyproject.toml`` exactly as a plug-in declares its
own. The course file is checked against this registry (an unknown name is an error at its line);
a rule with settings is written ``late: {rule: NAME, ...}`` and its settings checked against the
rule's ``settings_model``.
"""

from __future__ import annotations

from typing import Any

from ..registry import Registry, one_of
from .base import LateDecision, LateRule

__all__ = ["GROUP", "LATE_RULES", "LateDecision", "LateRule", "known_late_rule", "late_rule",
           "late_rule_name", "late_settings"]

GROUP = "dl_course.late_rules"
LATE_RULES: Registry[LateRule] = Registry(GROUP, LateRule, "late rule",
                                        first=("missed", "accepted", "window"))


def late_rule_name(choice: Any) -> str:
    """The rule's name of a course's ``policy.late``: a name, or a rule's settings."""
    return choice if isinstance(choice, str) else choice.rule


def late_rule(choice: Any) -> LateRule:
    """The rule a course's ``policy.late`` chooses: by name (made without arguments), or by its
    validated settings (a ``settings_model`` instance with its ``rule``)."""
    if isinstance(choice, str):
        return LATE_RULES[choice]()
    return LATE_RULES[choice.rule](choice)


def known_late_rule(name: str) -> str:
    """``name`` if a late rule has it; else ``ValueError`` naming the rules installed (the course
    file's check of ``policy.late``)."""
    if name not in LATE_RULES:
        raise ValueError(f"should be {one_of(list(LATE_RULES))} (the late rules installed)")
    if LATE_RULES[name].settings_model is not None:
        raise ValueError(f"the late rule {name!r} needs its settings: write "
                         f"late: {{rule: {name}, ...}} (see the README's policy section)")
    return name


def late_settings(value: Any) -> Any:
    """A course file's ``late: {rule: NAME, ...}`` checked against the rule's settings model
    (pydantic's ``ValidationError`` locates each mistake); ``ValueError`` for a rule without
    settings or an unknown one."""
    rule = value.get("rule")
    if not isinstance(rule, str):
        raise ValueError(  # noqa: TRY004 pydantic reports a ValueError at its line
            "needs 'rule': the late rule's name, as in {rule: window, ...}")
    if rule not in LATE_RULES:
        raise ValueError(f"rule should be {one_of(list(LATE_RULES))} (the late rules "
                         f"installed) (got {rule!r})")
    model = LATE_RULES[rule].settings_model
    if model is None:
        raise ValueError(f"the late rule {rule!r} takes no settings: write late: {rule}")
    return model.model_validate(value)
