"""``--help`` works for ``course`` and for every command and sub-command under it.

The commands are discovered by walking the parser ``commands.main.build_parser()`` returns, so a
command added later (in any of the modules under commands/) is covered without editing this file.
"""

from __future__ import annotations

import argparse

import pytest

from commands.main import GROUPS, build_parser, command_groups, main


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


def test_top_level_help_lists_every_command_under_its_group(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    description = out.split("\n\n")[1]
    assert description.rstrip().endswith("."), f"description cut off: {description!r}"
    sections = {block.split(":\n", 1)[0]: block for block in out.split("\n\n")}
    for title, names in command_groups(build_parser()).items():
        assert title in sections, f"no section {title!r} in:\n{out}"
        for name in names:
            assert f"\n  {name} " in sections[title] or f"\n  {name}\n" in sections[title], \
                (title, name)
    assert "options" in sections and "--version" in sections["options"]


def test_every_command_is_in_exactly_one_group():
    parser = build_parser()
    commands = [name for path in PATHS if len(path) == 1 for name in path]
    grouped = [name for names in command_groups(parser).values() for name in names]
    assert sorted(grouped) == sorted(commands)  # none left out, none twice
    assert len(grouped) == len(set(grouped))
    assert [title for title, _ in GROUPS] == list(command_groups(parser))
    assert {"set up a course", "the weekly workflow", "the grading fleet", "deployment",
            "try it"} <= set(command_groups(parser))
    assert "worker" in command_groups(parser)["the grading fleet"]
    assert "demo" in command_groups(parser)["try it"]


def test_the_command_modules_stay_small():
    from small_courses import REPO

    sizes = {path.name: len(path.read_text().splitlines())
             for path in (REPO / "commands").glob("*.py")}
    assert sizes and max(sizes.values()) <= 600, sizes
