"""``--help`` works for ``course`` and for every command and sub-command under it.

The commands are discovered by walking the parser ``commands.main.build_parser()`` returns, so a
command added later (in cli.py or life_cli.py) is covered without editing this file.
"""

from __future__ import annotations

import argparse

import pytest

from commands.main import build_parser, main


def _command_paths(parser: argparse.ArgumentParser, prefix: tuple[str, ...] = ()):
    """``prefix`` and the word paths of every (nested) subcommand below ``parser``."""
    yield prefix
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _command_paths(child, (*prefix, name))


PATHS = list(_command_paths(build_parser()))


def test_the_walk_finds_nested_commands_from_both_modules():
    for expected in [(), ("init",), ("check-graders",), ("roster", "import"),
                     ("exchange", "serve"), ("draw",), ("summaries", "add"),
                     ("wiki", "export")]:
        assert expected in PATHS, f"{expected} not found among {PATHS}"


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(("course", *path)))
def test_help_prints_usage_and_exits_0(path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([*path, "--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: {' '.join(('course', *path))}")
    # help strings are %-formatted by argparse, descriptions are not: an escaped "%%" in a text
    # used as both would show doubled in one of them
    assert "%%" not in out


def test_top_level_help_lists_every_command(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert description.rstrip().endswith("."), f"description cut off: {description!r}"
    for path in PATHS:
        if len(path) == 1:
            assert f"    {path[0]} " in out or f"    {path[0]}\n" in out, path
