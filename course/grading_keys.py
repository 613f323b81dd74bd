"""The course file's ``grading:`` block, built from the one declaration of the grading settings
(``autograder.settings.GradingSettings``): a key per setting, each optional (a key left out is
not set, and ``course.settings.resolve_grading`` falls back to the course's block, then to the
platform default), with the setting's rule (bounds, pattern or choices) and help.
"""

from __future__ import annotations

from dataclasses import MISSING, Field, fields
from importlib.metadata import entry_points
from typing import Literal

from pydantic import BaseModel, create_model, field_validator
from pydantic import Field as Key

from autograder.settings import BACKENDS, GradingSettings, setting_type

from .registry import one_of

__all__ = ["BACKENDS_GROUP", "grading_model", "installed_backends"]

BACKENDS_GROUP = "dl_course.grading_backends"  # entry points of course.backends.GradingBackend


def installed_backends() -> list[str]:
    """The grading backends' names, the built-in ones first; no class is imported."""
    found = {point.name for point in entry_points(group=BACKENDS_GROUP)}
    return [*[name for name in BACKENDS if name in found], *sorted(found - set(BACKENDS))]


def _known_backend(cls, value: str | None) -> str | None:
    if value is not None and value not in installed_backends():
        raise ValueError(f"should be {one_of(installed_backends())} (the grading backends "
                         "installed)")
    return value


def _described(setting: Field) -> str:
    default = setting.default if setting.default is not MISSING else None
    shown = "none" if default is None else f"{default:g}" if isinstance(default, float) else (
        str(default).lower() if isinstance(default, bool) else default)
    return f"{setting.metadata['help']} (default {shown})"


def _key(setting: Field) -> tuple:
    choices = setting.metadata["choices"]
    kind = Literal[choices] if choices else setting_type(setting)  # type: ignore[valid-type]
    return (kind | None, Key(None, description=_described(setting), **setting.metadata["rule"]))


def grading_model(base: type[BaseModel]) -> type[BaseModel]:
    """The ``grading:`` model on ``base`` (the course file's strict model: unknown keys are
    errors), its keys in the settings' order."""
    return create_model("Grading", __base__=base, __module__="course.coursefile",
                        __doc__="Limits for grading one submission; an assignment's own "
                                "``grading:`` overrides the course's.",
                        __validators__={"known_backend": field_validator("backend")(
                            classmethod(_known_backend))},
                        **{setting.name: _key(setting) for setting in fields(GradingSettings)})
