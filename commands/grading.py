"""Graders and grading settings: ``course grade-file``, ``check-graders``, ``config`` and
``doctor`` (registered by ``commands.main`` through ``add_grading_commands``)."""

from __future__ import annotations

import json
from pathlib import Path

from rich.markup import escape

from commands.console import counted_progress, err, wide_console
from commands.console import workspace as _workspace
from course.errors import UserError

__all__ = ["add_grading_commands"]


def cmd_grade_file(args) -> int:
    from autograder.single import NotebookError, grade_file
    from course.settings import resolve_grading

    ws = _workspace(args)
    options = resolve_grading(ws.course, args.assignment).options()
    try:
        result = grade_file(ws.source / args.assignment, Path(args.notebook), options)
    except NotebookError as exc:
        raise UserError(str(exc)) from None
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for test in result["tests"]:
        mark = "[green]PASSED[/]" if test["outcome"] == "passed" else "[red]FAILED[/]"
        wide_console().print(f"{mark} {test['name']} ({test['points']:g}/{test['max_points']:g})"
                             + (f": {test['message']}" if test["message"] else ""),
                             highlight=False)
    for problem in result["problems"]:
        err.print(f"[yellow]warning:[/] {problem}", highlight=False)
    print(f"score: {result['score']:g} / {result['max_score']:g}")
    return 0


def cmd_check_graders(args) -> int:
    from rich.table import Table

    from autograder.check_graders import check_assignments
    from course.grade import default_workers
    from course.settings import resolve_grading

    ws = _workspace(args)
    ids = args.assignments or [a.id for a in ws.course.assignments
                               if (ws.source / a.id).is_dir()]
    for assignment_id in ids:
        ws.course.assignment(assignment_id)
        if not (ws.source / assignment_id).is_dir():
            raise UserError(f"{ws.source / assignment_id}: no such assignment folder")
    options = [resolve_grading(ws.course, i).options() for i in ids]  # each its own
    what = f"{len(ids)} assignment{'s' * (len(ids) != 1)} (submissions graded)"
    with counted_progress(what, "checking graders of", err) as progress:
        checks = check_assignments([ws.source / i for i in ids], options,
                                   workers=args.workers or default_workers(), progress=progress)
    if args.json:
        print(json.dumps({"assignments": [c.to_json() for c in checks]}, indent=2))
    else:
        table = Table(title="hidden graders")
        for column in ("assignment", "reference", "release", "mutants caught",
                       "seen by visible tests", "alternatives at full marks", "deterministic", "s / submission", "ok"):
            table.add_column(column)
        for c in checks:
            caught = sum(m.caught for m in c.mutants)
            table.add_row(c.id, f"{c.reference_score:g}/{c.max_score:g}", f"{c.release_score:g}",
                          f"{caught}/{len(c.mutants)}",
                          f"{len(c.mutants) - len(c.visible_misses)}/{len(c.mutants)}",
                          f"{sum(a.full_marks for a in c.alternatives)}/{len(c.alternatives)}",
                          "yes" if c.deterministic else "[red]no[/]",
                          f"{c.seconds:.1f}", "[green]yes[/]" if c.ok else "[bold red]NO[/]")
        wide_console().print(table)
        for c in checks:
            for problem in [*c.problems,
                            *(f"mutant {m.name} not caught in {', '.join(m.missed) or 'any cell'}"
                              for m in c.mutants if not m.caught),
                            *(f"correct alternative {a.name} lost points in {', '.join(a.lost)}"
                              for a in c.alternatives if not a.full_marks)]:
                err.print(f"[red]{c.id}:[/] {problem}", highlight=False)
    for c in checks:
        for warning in c.warnings:
            err.print(f"[yellow]warning:[/] {c.id}: {warning}", highlight=False)
    return 0 if all(c.ok for c in checks) else 1


def cmd_config(args) -> int:
    from rich.table import Table

    from course.grade import default_workers
    from course.settings import resolve_grading

    ws = _workspace(args)
    resolved = resolve_grading(ws.course, args.assignment)
    if args.format == "json":
        print(json.dumps(resolved.to_json(), indent=2))
        return 0
    title = f"grading settings of {args.assignment or 'the course'}"
    table = Table(title=title)
    for column in ("setting", "value", "from"):
        table.add_column(column)
    for setting in resolved:
        value = setting.value
        if setting.name == "workers" and value is None:
            value = f"the machine's cores ({default_workers()})"
        table.add_row(setting.name, escape(f"{value:g}" if isinstance(value, float) else
                                           str(value)), escape(setting.source))
    wide_console().print(table)
    return 0


def cmd_doctor(args) -> int:
    from rich.table import Table

    from autograder.sandbox import SandboxLimits, choose_isolation, isolation_report

    table = Table(title="grading sandbox: isolation layers on this machine")
    for column in ("layer", "active", "detail"):
        table.add_column(column)
    for layer, active, detail in isolation_report(SandboxLimits()):
        table.add_row(layer, "[green]yes[/]" if active else "[bold red]NO[/]", detail)
    wide_console().print(table)
    mode = choose_isolation()
    if mode == "none":  # autograder.sandbox.require_isolation refuses to grade
        err.print("[bold red]error:[/] no isolation runs here: grading refuses unless the "
                  "course sets `grading: {isolation: none}`; see the NO rows", highlight=False)
    elif mode != "bwrap":
        err.print(f"[bold red]warning:[/] grading runs with isolation '{mode}': see the NO rows",
                  highlight=False)
    from commands.fleet import doctor_fleet  # where grading runs: here, or the fleet's broker

    doctor_fleet(args)
    return 0


def add_grading_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    p = add("grade-file", cmd_grade_file,
            "grade one notebook without touching the gradebook")
    p.add_argument("assignment")
    p.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p = add("check-graders", cmd_check_graders,
            "check hidden graders: reference full marks, release 0, every mutant caught")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.add_argument("--json", action="store_true")
    p.add_argument("--workers", type=int, metavar="N", help="assignments checked at once")
    p = add("config", cmd_config, "show each grading setting in force and where it comes from")
    p.add_argument("assignment", nargs="?", metavar="ASSIGNMENT",
                   help="an assignment's settings (default: the course's)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    add("doctor", cmd_doctor, "show which isolation layers grading runs behind here")
