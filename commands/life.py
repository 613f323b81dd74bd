"""Commands for course life around the exercises (presenter draw, summaries, wiki export)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from rich.console import Console
from rich.table import Table

from commands.console import DISCOVERY, judged_at
from commands.console import workspace as _workspace
from course import calendar
from course.errors import UserError

__all__ = ["add_life_commands", "nested_commands"]

DUTY_STYLE = {"handed_in": "green", "late": "yellow", "overdue": "red", "pending": "dim"}


def cmd_draw(args) -> int:
    from course.presenters import (
        draw,
        draw_notice,
        drawn_for,
        named,
        replace_absentees,
        withdraw_draw,
    )

    ws = _workspace(args)
    course = ws.course

    def listed(students) -> str:
        return ", ".join(named(course, student) for student in students)

    ws.course.assignment(args.assignment)
    now = calendar.utcnow()
    if args.undo:
        if args.absent or args.seed is not None or args.count is not None:
            raise UserError("--undo withdraws the whole draw: it takes no --absent, --seed or "
                            "--count")
        if not args.reason:
            raise UserError("--undo needs --reason: say why the draw is withdrawn")
        with ws.gradebook() as gb:
            rows = withdraw_draw(ws.course, gb, args.assignment, args.reason, now=now)
        names = ", ".join(named(course, row.student_id) + (" (absent)" if row.absent else "")
                          for row in rows)
        print(f"withdrew the draw of {args.assignment} (seed {rows[0].seed}): {names}")
        print(f"draw again with: course draw {args.assignment}")
        return 0
    if args.reason:
        raise UserError("--reason goes with --undo")

    def warn_if_early() -> None:
        for line in draw_notice(ws.course, args.assignment, now):
            Console(stderr=True).print(f"[yellow]warning:[/] {line.removeprefix('warning: ')}",
                                       highlight=False, soft_wrap=True)

    with ws.gradebook() as gb:
        earlier = drawn_for(gb, args.assignment)
        if args.absent:
            warn_if_early()
            result = replace_absentees(ws.course, gb, args.assignment, args.absent, as_of=now)
            print(f"marked absent: {listed(result.absent)}")
            drawn = listed(result.picked) or "nobody left"
            print(f"drawn instead (seed {result.seed}): {drawn}")
        elif earlier and args.seed is None and args.count is None:
            when = calendar.iso_local(earlier[0].drawn_at, ws.course.zone)
            print(f"presenters for {args.assignment} were drawn at {when} "
                  f"(seed {earlier[0].seed}):")
            _print_draw(course, earlier)
            print(f"replace an absentee with: course draw {args.assignment} --absent STUDENT")
        else:
            warn_if_early()
            result = draw(ws.course, gb, args.assignment, count=args.count, seed=args.seed,
                          as_of=now)
            print(f"drew {len(result.picked)} of {result.eligible} students who handed in "
                  f"{args.assignment} on time (seed {result.seed}): {listed(result.picked)}")
    return 0


def _print_draw(course, rows) -> None:
    """The recorded draw as a table: each presenter's id and name from the roster, the round
    (0: the draw; 1, 2, ...: replacements) and who was absent."""
    from course.presenters import full_name

    table = Table(box=None, pad_edge=False)
    for column in ("student", "name", "round", ""):
        table.add_column(column)
    for row in rows:
        table.add_row(row.student_id, full_name(course, row.student_id), str(row.draw_round),
                      "absent" if row.absent else "")
    Console(width=160).print(table)


def _session_ref(text: str) -> int | dt.date:
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise UserError(f"expected a session number or a date like 2026-11-03, got {text!r}") \
            from None


def _notify(course, vacancies) -> None:
    """A notice per summary slot refilled (stderr: JSON output stays clean)."""
    from rich.markup import escape

    from course.summary_rota import notice

    console = Console(stderr=True)
    for vacancy in vacancies:
        console.print(f"[yellow]notice:[/] {escape(notice(course, vacancy))}", highlight=False,
                      soft_wrap=True)


def cmd_summaries(args) -> int:
    from course.summaries import duties
    from course.summary_rota import record_rota

    ws = _workspace(args)
    course = ws.course
    as_of = judged_at(args, course)
    with ws.gradebook() as gb:
        rota = record_rota(course, gb, now=calendar.utcnow())  # shown: announced
        gb.commit()
        rows = duties(course, gb, as_of)
    _notify(course, rota.vacancies)
    if args.format == "json":
        print(json.dumps([{
            "session": d.session, "date": d.date.isoformat(), "topic": d.topic,
            "authors": d.authors, "deadline_local": calendar.iso_local(d.deadline, course.zone),
            "deadline_utc": calendar.iso_utc(d.deadline), "state": d.state,
            "received_utc": calendar.iso_utc(d.received_at) if d.received_at else None,
        } for d in rows], indent=2))
        return 0
    table = Table(title=f"{course.title}: session summaries as of "
                        f"{calendar.iso_local(as_of, course.zone)[:16].replace('T', ' ')}")
    for column in ("#", "date", "topic", "authors", "due", "state"):
        table.add_column(column)
    for d in rows:
        due = d.deadline.astimezone(course.zone)
        table.add_row(str(d.session), f"{d.date:%a %Y-%m-%d}", d.topic, ", ".join(d.authors),
                      f"{due:%a %Y-%m-%d %H:%M}", f"[{DUTY_STYLE[d.state]}]{d.state}[/]")
    Console(width=160).print(table)
    return 0


def cmd_summaries_add(args) -> int:
    from course.gradebook.records import current_user
    from course.summaries import receive_summary
    from course.summary_rota import record_rota

    ws = _workspace(args)
    files = {}
    for path in map(Path, [args.markdown, *args.images]):
        if not path.is_file():
            raise UserError(f"{path}: no such file")
        files[path.name] = path.read_bytes()
    with ws.gradebook() as gb:
        rota = record_rota(ws.course, gb, now=calendar.utcnow())  # committed with the summary
        row = receive_summary(ws, gb, _session_ref(args.session), files,
                              submitted_by=current_user(), authors=args.author or None)
    _notify(ws.course, rota.vacancies)
    print(f"summary of session {row.session} by {row.authors.replace(' ', ', ')} stored in "
          f"{row.storage_path}")
    return 0


def _slot_line(course, number: int, authors, before) -> str:
    date = course.sessions[number - 1].date
    return (f"session {number} ({date:%a %Y-%m-%d}): {', '.join(authors)} "
            f"(was {', '.join(before) or 'nobody'})")


def cmd_summaries_pin(args) -> int:
    from course.summary_rota import pin

    ws = _workspace(args)
    with ws.gradebook() as gb:
        rota, number, authors = pin(ws.course, gb, _session_ref(args.session), args.students,
                                    reason=args.reason, now=calendar.utcnow())
        gb.commit()
    _notify(ws.course, rota.vacancies)
    print(f"pinned {_slot_line(ws.course, number, authors, rota.plan[number])}; "
          f"reason recorded: {args.reason}")
    return 0


def cmd_summaries_swap(args) -> int:
    from course.summary_rota import swap

    ws = _workspace(args)
    with ws.gradebook() as gb:
        rota, changed = swap(ws.course, gb, (_session_ref(args.session), args.student),
                             (_session_ref(args.other_session), args.other_student),
                             reason=args.reason, now=calendar.utcnow())
        gb.commit()
    _notify(ws.course, rota.vacancies)
    print(f"swapped {args.student} and {args.other_student}:")
    for number, authors in changed.items():
        print(f"  {_slot_line(ws.course, number, authors, rota.plan[number])}")
    print(f"reason recorded: {args.reason}")
    return 0


def cmd_summaries_history(args) -> int:
    from course.summary_rota import history

    ws = _workspace(args)
    with ws.gradebook() as gb:
        rows = history(gb)
    if not rows:
        print("the summary rota has not been announced yet (course summaries shows and "
              "announces it)")
        return 0
    table = Table(title=f"{ws.course.title}: changes to the summary rota")
    for column in ("when", "session", "action", "authors", "by", "reason"):
        table.add_column(column)
    for row in rows:
        when = calendar.iso_local(row.changed_at, ws.course.zone)[:16].replace("T", " ")
        table.add_row(when, str(row.session), row.action, row.authors.replace(" ", ", "),
                      row.changed_by, row.reason)
    Console(width=160).print(table)
    return 0


def cmd_wiki_export(args) -> int:
    from course.wiki.export import export_wiki

    ws = _workspace(args)
    report = export_wiki(ws, args.format, Path(args.out), now=calendar.utcnow())
    _notify(ws.course, report.vacancies)
    print(f"wiki ({args.format}): {len(report.files)} files in {report.out}, "
          f"{len(report.written)} updated; start at {report.index}")
    if report.problems:
        raise UserError("some summaries were not published (their pages were left as they "
                        "were; every other page was written):\n  " + "\n  ".join(report.problems))
    return 0


def nested_commands(parent, dest: str, *, required: bool):
    """Subcommands under a command; their --course must not override one given before them."""
    sub = parent.add_subparsers(dest=dest, metavar="ACTION", required=required)

    def add(name, func, help_text):
        command = sub.add_parser(name, help=help_text, description=help_text)
        command.add_argument("--course", metavar="PATH", default=argparse.SUPPRESS,
                             help=f"course file or its folder (default: {DISCOVERY})")
        command.set_defaults(func=func)
        return command

    return add


def add_life_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    p = add("draw", cmd_draw, "draw students who handed in on time to present an assignment")
    p.add_argument("assignment")
    p.add_argument("--count", type=int, help="how many (default: presenters.count)")
    p.add_argument("--seed", help="reproduce a draw (default: a random seed, recorded)")
    p.add_argument("--absent", nargs="+", metavar="STUDENT",
                   help="mark drawn students absent and draw replacements")
    p.add_argument("--undo", action="store_true",
                   help="withdraw the recorded draw (all its rounds, kept on record) so it can "
                        "be drawn again; needs --reason")
    p.add_argument("--reason", help="why the draw is withdrawn (with --undo)")

    p = add("summaries", cmd_summaries, "who writes which session summary, and what is overdue")
    p.add_argument("--as-of", metavar="DATETIME", help="judge at this local time (default: now)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    summaries = nested_commands(p, "summaries_command", required=False)
    p = summaries("add", cmd_summaries_add,
                  "add a session summary (a Markdown file and its images)")
    p.add_argument("session", help="session number or date")
    p.add_argument("markdown", metavar="FILE.md")
    p.add_argument("images", nargs="*", metavar="IMAGE")
    p.add_argument("--author", action="append", metavar="STUDENT",
                   help="an author (repeat; default: the students on duty)")
    p = summaries("pin", cmd_summaries_pin,
                  "set the authors of one session's summary by hand (nothing else moves)")
    p.add_argument("session", help="session number or date")
    p.add_argument("students", nargs="+", metavar="STUDENT")
    p.add_argument("--reason", required=True, help="why (recorded with who and when)")
    p = summaries("swap", cmd_summaries_swap,
                  "two students trade their summary slots in two sessions (nothing else moves)")
    p.add_argument("session", help="session number or date of the first student's slot")
    p.add_argument("student")
    p.add_argument("other_session", metavar="OTHER_SESSION",
                   help="session number or date of the other student's slot")
    p.add_argument("other_student", metavar="OTHER_STUDENT")
    p.add_argument("--reason", required=True, help="why (recorded with who and when)")
    summaries("history", cmd_summaries_history,
              "every change to the summary rota: announced, refilled, pinned, swapped")

    p = add("wiki", None, "the course wiki: session pages, index and syllabus")
    p = nested_commands(p, "wiki_command", required=True)("export", cmd_wiki_export,
                                    "write the wiki as Markdown, MediaWiki markup or HTML")
    p.add_argument("--format", metavar="FORMAT", required=True,
                   help="markdown | mediawiki | html, or an installed plug-in's")
    p.add_argument("--out", metavar="DIR", required=True)
