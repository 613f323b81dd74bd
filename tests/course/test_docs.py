"""Docs move with the code: every command and every course-file key is in the README."""

import argparse

from pydantic import BaseModel
from small_courses import REPO

from commands.main import build_parser
from course.coursefile import Course

README = (REPO / "README.md").read_text()


def _commands(parser, prefix=""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, f"{prefix}{name} ")
            return
    yield prefix.strip()


def _keys(model: type[BaseModel]):
    for name, field in model.model_fields.items():
        yield name
        for inner in (field.annotation, *getattr(field.annotation, "__args__", ())):
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                yield from _keys(inner)


def test_every_command_is_documented():
    commands = list(_commands(build_parser()))
    assert "roster import" in commands and "status" in commands
    missing = [c for c in commands if f"course {c}" not in README]
    assert missing == []


def test_every_course_file_key_is_documented():
    missing = sorted({key for key in _keys(Course) if f"{key}:" not in README})
    assert missing == []
