"""A student's standing and what changes it: ``course extend``, ``excuse`` and ``override``;
``status``, ``report`` and ``export`` show it (registered by ``commands.main`` through
``add_standing_commands``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rich.markup import escape

from commands.console import err, judged_at, wide_console
from commands.console import workspace as _workspace
from course import calendar
from course.errors import UserError
from course.lms import LMS_FORMATS
from course.standing import standing_data

__all__ = ["add_standing_commands"]


def _check_pair(ws, student: str, assignment: str) -> None:
    ws.course.student(student)
    ws.course.assignment(assignment)


def cmd_extend(args) -> int:
    from course.gradebook.records import current_extension, grant_extension, revoke_extension

    ws = _workspace(args)
    _check_pair(ws, args.student, args.assignment)
    if args.revoke:
        zone = ws.course.zone
        with ws.gradebook() as gb:
            row = revoke_extension(gb, args.student, args.assignment, args.reason,
                                   now=calendar.utcnow())
            still = current_extension(gb, args.student, args.assignment)
            gb.commit()
        print(f"revoked the extension of {args.assignment} for {args.student} until "
              f"{calendar.iso_local(row.until, zone)}")
        from course.policy import effective_deadline

        due = effective_deadline(ws.course.due(args.assignment),
                                 still.until if still is not None else None)
        print(f"deadline now: {calendar.iso_local(due, zone)}"
              + (" (an earlier extension)" if still is not None else ""))
        return 0
    until = calendar.typed_local_time(args.until, ws.course.zone)
    if until <= ws.course.due(args.assignment):
        raise UserError(f"--until {args.until} is not after the deadline "
                        f"{calendar.iso_local(ws.course.due(args.assignment), ws.course.zone)}")
    with ws.gradebook() as gb:
        grant_extension(gb, args.student, args.assignment, until, args.reason)
        gb.commit()
    print(f"extended {args.assignment} for {args.student} until "
          f"{calendar.iso_local(until, ws.course.zone)}")
    return 0


def cmd_excuse(args) -> int:
    from course.gradebook.records import current_excuse, grant_excuse, revoke_excuse

    ws = _workspace(args)
    _check_pair(ws, args.student, args.assignment)
    if args.revoke:
        with ws.gradebook() as gb:
            row = revoke_excuse(gb, args.student, args.assignment, args.reason,
                                now=calendar.utcnow())
            gb.commit()
        print(f"revoked the excuse of {args.student} from {args.assignment} ({row.reason})")
        return 0
    with ws.gradebook() as gb:
        held = current_excuse(gb, args.student, args.assignment)
        if held is None:
            grant_excuse(gb, args.student, args.assignment, args.reason)
            gb.commit()
    if held is not None:  # the state asked for holds already: not an error, and not recorded
        when = calendar.readable_local(held.granted_at, ws.course.zone)
        print(f"{args.student} is already excused from {args.assignment} ({held.reason}, by "
              f"{held.granted_by} on {when}); nothing recorded")
        return 0
    print(f"excused {args.student} from {args.assignment}")
    return 0


def _known_max_score(gb, ws, student: str, assignment: str) -> tuple[float | None, bool]:
    """The max score an override is out of when none is given, and whether it must be stored
    with the override: the pair's graded max_score (the policy finds it), else the
    assignment's points (``Facts.max_points``: nbgrader's, else others' scores; stored, so the
    override keeps them)."""
    from course.gradebook.records import gather_facts

    facts = gather_facts(gb, ws.course)
    graded = facts.scores.get((student, assignment))
    if graded is not None and graded.max_score:
        return graded.max_score, False
    points = facts.max_points.get(assignment)
    return (points, True) if points else (None, False)


def cmd_override(args) -> int:
    from course.gradebook.records import active_override, clear_override, set_override

    ws = _workspace(args)
    _check_pair(ws, args.student, args.assignment)
    now = calendar.utcnow()
    if args.clear:
        if args.max_score is not None:
            raise UserError("--clear takes no --max-score")
        with ws.gradebook() as gb:
            row = clear_override(gb, args.student, args.assignment, args.reason, now=now)
            gb.commit()
        print(f"cleared the score override of {args.student}'s {args.assignment} "
              f"(was {row.score:g}, set by {row.set_by}); the graded score counts again")
        return 0
    if args.score < 0:
        raise UserError(f"--score {args.score:g} is negative")
    if args.max_score is not None and args.max_score <= 0:
        raise UserError(f"--max-score {args.max_score:g} must be positive")
    with ws.gradebook() as gb:
        max_score, store = args.max_score, args.max_score is not None
        if max_score is None:
            max_score, store = _known_max_score(gb, ws, args.student, args.assignment)
        if max_score is None:
            raise UserError(f"{args.assignment} has no graded max score yet: give --max-score")
        if args.score > max_score:
            raise UserError(f"--score {args.score:g} is more than the max score {max_score:g}")
        replaced = active_override(gb, args.student, args.assignment)
        set_override(gb, args.student, args.assignment, args.score, args.reason, now=now,
                     max_score=max_score if store else None)
        gb.commit()
    print(f"score of {args.student}'s {args.assignment} set to {args.score:g}/{max_score:g}: "
          f"{args.reason}" + (f" (replaces {replaced.score:g})" if replaced else ""))
    return 0


def cmd_status(args) -> int:
    from course.reports import status_csv, status_json, status_table, status_tables_transposed

    ws = _workspace(args)
    if args.student:
        ws.course.student(args.student)
    if (args.assignment or args.transpose) and args.format != "table":
        raise UserError(f"--assignment and --transpose shape the table; --format {args.format} "
                        "always holds every assignment")
    for assignment_id in args.assignment or []:
        ws.course.assignment(assignment_id)  # an unknown id: exit 2, naming the known ones
    data = standing_data(ws, judged_at(args, ws.course))
    for warning in data["warnings"]:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if args.student:
        data["students"] = [s for s in data["students"] if s["id"] == args.student]
    if args.format == "json":
        print(status_json(data))
    elif args.format == "csv":
        sys.stdout.write(status_csv(data))
    elif args.transpose:
        console = wide_console()
        for table in status_tables_transposed(data, width=console.width,
                                              assignments=args.assignment):
            console.print(table)
    else:
        wide_console().print(status_table(data, assignments=args.assignment))
    return 0


def cmd_history(args) -> int:
    from rich.table import Table

    from course.history import history_json, student_history

    ws = _workspace(args)
    history = student_history(ws, args.student, assignment_ids=args.assignment)
    if args.format == "json":
        print(json.dumps(history_json(history, ws), indent=2))
        return 0
    who = history.student_id + (f" ({history.name})" if history.name != history.student_id
                                else "")
    if not history.events:
        print(f"nothing on record for {who}")
        return 0
    table = Table(title=escape(f"{ws.course.id}: history of {who}, times in {history.timezone}"),
                  caption="receipts are judged to the whole second; sha256 shown by its first "
                          "12 digits", caption_justify="left")
    for column in ("when", "assignment", "what", "detail"):
        table.add_column(column)
    for event in history.events:
        local = event.at.astimezone(ws.course.zone)
        style = "bold green" if event.counts else "dim" if event.counts is False else ""
        table.add_row(f"{local:%a %Y-%m-%d %H:%M:%S}", escape(event.assignment_id),
                      escape(event.kind), escape(event.detail), style=style or None)
    wide_console().print(table)
    return 0


def cmd_report(args) -> int:
    from course.reports import write_report

    ws = _workspace(args)
    out = Path(args.out) if args.out else ws.root / "reports"
    html_path, csv_path = write_report(standing_data(ws, judged_at(args, ws.course)), out)
    print(f"report: {html_path}\n        {csv_path}")
    return 0


def cmd_export(args) -> int:
    from course.export import export_grades

    ws = _workspace(args)
    text = export_grades(ws.course, standing_data(ws, judged_at(args, ws.course)), args.format)
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text, encoding="utf-8", newline="")
        tmp.replace(out)
        print(f"{args.format} grades of {len(ws.course.roster.students)} students: {out}")
    else:
        sys.stdout.write(text)
    return 0


def add_standing_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    p = add("extend", cmd_extend, "grant a student a later deadline for one assignment")
    p.add_argument("student")
    p.add_argument("assignment")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--until", metavar="DATETIME",
                        help="new deadline, local time, e.g. '2018-11-01 18:00'")
    action.add_argument("--revoke", action="store_true",
                        help="revoke the extension in force (kept on record)")
    p.add_argument("--reason", required=True)
    p = add("excuse", cmd_excuse, "excuse a student from one assignment (not counted as missed)")
    p.add_argument("student")
    p.add_argument("assignment")
    p.add_argument("--revoke", action="store_true",
                   help="revoke the excuse in force (kept on record)")
    p.add_argument("--reason", required=True)
    p = add("override", cmd_override,
            "set one student's score for one assignment by hand (or clear it)")
    p.add_argument("student")
    p.add_argument("assignment")
    action = p.add_mutually_exclusive_group(required=True)
    action.add_argument("--score", type=float, metavar="X", help="the score that counts")
    action.add_argument("--clear", action="store_true",
                        help="clear the override: the graded score counts again")
    p.add_argument("--max-score", type=float, metavar="M",
                   help="out of (default: the graded max score)")
    p.add_argument("--reason", required=True)
    for name, func, help_text in (
        ("status", cmd_status, "each student's standing under the excused-miss policy"),
        ("report", cmd_report, "write the standing as HTML and CSV"),
    ):
        p = add(name, func, help_text)
        p.add_argument("--as-of", metavar="DATETIME", help="judge at this local time (default: now)")
        if name == "status":
            p.add_argument("--student")
            p.add_argument("--format", choices=["table", "json", "csv"], default="table")
            p.add_argument("--assignment", action="append", metavar="A",
                           help="the table shows only this assignment's column (repeat for "
                                "more); JSON and CSV always hold every assignment")
            p.add_argument("--transpose", action="store_true",
                           help="the table turned: a row per assignment, a column per "
                                "student, split into tables that fit the width")
        else:
            p.add_argument("--out", metavar="DIR", help="default: reports/ beside the course file")
    p = add("history", cmd_history,
            "one student's record in time order: every receipt (and which one counts), "
            "extensions, excuses, overrides, gradings, presentations")
    p.add_argument("student")
    p.add_argument("--assignment", action="append", metavar="A",
                   help="only this assignment (repeat for more)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = add("export", cmd_export, "write the grades for an LMS: Canvas or Moodle import CSV, "
            "or plain CSV (one row per student, totals and policy status)")
    p.add_argument("--format", choices=LMS_FORMATS, required=True,
                   help="canvas | moodle | csv, or an installed plug-in's (course.lms)")
    p.add_argument("--out", metavar="FILE", help="write here (default: standard output)")
    p.add_argument("--as-of", metavar="DATETIME", help="judge at this local time (default: now)")
