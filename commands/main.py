"""The ``course`` command: a thin shell over the stage modules. Each group of commands lives in a
module of its own that registers them (``GROUPS``); this module builds the parser, lists the
commands by group in ``course --help`` and turns a user error into one line and exit status 2."""

from __future__ import annotations

import argparse
import os
import sys

from rich.markup import escape

from commands import (
    deploy_env,
    fleet,
    grading,
    late_days,
    life,
    lti,
    regrade,
    services,
    setup,
    standing,
    trial,
    weekly,
)
from commands.console import DISCOVERY, err
from course.errors import UserError

__all__ = ["GROUPS", "build_parser", "command_groups", "main"]

PACKAGE = "dl-course-platform"
DESCRIPTION = (
    "The course command line: set a course up, run its weeks, keep each student's standing, "
    "grade on a fleet and serve the hub's services. Every command reads the course file given "
    f"by --course PATH, else {DISCOVERY}. A user error prints one message and exits with "
    "status 2.")
EPILOG = "Each command explains itself: course COMMAND --help."


# (title in `course --help`, the functions that register its commands) in the order shown; each
# command is registered under exactly one group
GROUPS = (
    ("set up a course", (setup.add_setup_commands,)),
    ("the weekly workflow", (weekly.add_weekly_commands,)),
    ("standing (extensions, excuses, scores)", (standing.add_standing_commands,
                                                 regrade.add_regrade_commands,
                                                 late_days.add_late_day_commands)),
    ("graders and grading settings", (grading.add_grading_commands,)),
    ("the grading fleet", (fleet.add_fleet_commands,)),
    ("course life (presenters, summaries, wiki)", (life.add_life_commands,)),
    ("the LMS over LTI 1.3 (keys, grades)", (lti.add_lti_commands,)),
    ("deployment", (deploy_env.add_env_command, services.add_service_commands)),
    ("try it", (trial.add_trial_commands,)),
)


def package_version() -> str:
    """The installed package's version (pyproject.toml), as ``course --version`` prints it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


class _Version(argparse.Action):
    """``--version``: the package metadata is read only when asked (every command builds the
    parser)."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"course {package_version()}")
        parser.exit()


class _CommandEntry(argparse.Action):
    """One command's line in ``course --help`` (name and help), shown under its group's title;
    never parsed (it is in no parser's actions)."""

    def __init__(self, name: str, help_text: str):
        super().__init__(option_strings=[], dest=name, metavar=name, help=help_text)


class GroupedParser(argparse.ArgumentParser):
    """The top-level parser. argparse has no command groups: its help lists the commands in one
    flat block. This one shows a section per group (``command_groups``: title -> the commands'
    entries) in place of that block, then the options; parsing is argparse's own."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.command_groups: dict[str, list[_CommandEntry]] = {}

    def format_help(self) -> str:
        formatter = self._get_formatter()
        formatter.add_usage(self.usage, self._actions, self._mutually_exclusive_groups)
        formatter.add_text(self.description)
        for title, entries in self.command_groups.items():
            formatter.start_section(title)
            formatter.add_arguments(entries)
            formatter.end_section()
        formatter.start_section(self._optionals.title)
        formatter.add_arguments(self._optionals._group_actions)
        formatter.end_section()
        formatter.add_text(self.epilog)
        return formatter.format_help()


def command_groups(parser: GroupedParser) -> dict[str, list[str]]:
    """Group title -> the names of its commands, as ``course --help`` lists them."""
    return {title: [entry.dest for entry in entries]
            for title, entries in parser.command_groups.items()}


def build_parser() -> GroupedParser:
    parser = GroupedParser(prog="course", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action=_Version, help="print the platform's version and exit")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", metavar="PATH",
                        help=f"course file or its folder (default: {DISCOVERY})")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    for title, registers in GROUPS:
        entries = parser.command_groups.setdefault(title, [])

        def add(name, func, help_text, *, own_course=False, entries=entries, **kwargs):
            # own_course: the command defines --course itself (course worker: one per course)
            command = sub.add_parser(name, parents=[] if own_course else [common],
                                     help=help_text, description=help_text, **kwargs)
            command.set_defaults(func=func)
            entries.append(_CommandEntry(name, help_text))
            return command

        for register in registers:
            register(add)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except UserError as exc:  # an unknown id too (UnknownId); any other error is a bug: traceback
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        return 2
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except BrokenPipeError:  # the reader stopped early (`course status | head`): not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no error at exit either
        return 141
    except Exception as exc:  # the database failed midway (gone, locked, full): one line too
        from course.gradebook.failures import database_failure

        cause = database_failure(exc)
        if cause is None:  # our own SQL or anything else: a bug, with its traceback
            raise
        err.print(f"[bold red]error:[/] {escape(cause)}", highlight=False, soft_wrap=True)
        return 2


if __name__ == "__main__":
    sys.exit(main())
