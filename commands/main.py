"""The ``course`` command: a thin shell over the stage modules; each command reads the course from
./course.yml or ``--course PATH``. User errors print one message and exit with status 2."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from rich.markup import escape

from commands.console import err, grade_with_progress, judged_at, wide_console
from commands.console import workspace as _workspace
from course import calendar
from course.errors import UserError
from course.standing import standing_data

__all__ = ["build_parser", "main"]

PACKAGE = "dl-course-platform"


def package_version() -> str:
    """The installed package's version (pyproject.toml), as ``course --version`` prints it."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(PACKAGE)
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def cmd_deadlines(args) -> int:
    from course.reports import deadlines_data, deadlines_table

    ws = _workspace(args)
    if args.format == "json":
        print(json.dumps(deadlines_data(ws.course), indent=2))
    else:
        wide_console().print(deadlines_table(ws.course))
    return 0


def cmd_generate(args) -> int:
    from course.release import generate

    folder = generate(_workspace(args), args.assignment, out=Path(args.out) if args.out else None)
    print(f"student version of {args.assignment}: {folder}")
    return 0


def cmd_release(args) -> int:
    from course.release import release, release_notice

    ws = _workspace(args)
    now = calendar.utcnow()
    release(ws, args.assignment, now=now)
    print(f"released {args.assignment} to students (exchange: {ws.root / 'exchange'})")
    for line in release_notice(ws.course, args.assignment, now):
        if line.startswith("warning: "):
            err.print(f"[yellow]warning:[/] {line.removeprefix('warning: ')}", highlight=False)
        else:
            print(line)
    return 0


def cmd_submit(args) -> int:
    from course.blank_work import blank_notebooks, released_notebooks
    from course.gradebook.records import current_user
    from course.inbox import check_released, read_submission_folder, receipt_notice, receive

    ws = _workspace(args)
    now = calendar.utcnow()  # the receipt time: this machine's clock, read once
    student = args.student or current_user()
    ws.course.student(student)
    check_released(ws, args.assignment, now)  # the exchange's rule: nothing before the release
    files = {}
    for path in map(Path, args.paths):
        if path.is_dir():
            files.update(read_submission_folder(path))
        elif path.is_file():
            files[path.name] = path.read_bytes()
        else:
            raise UserError(f"{path}: no such file or folder")
    with ws.gradebook() as gb:
        receipt = receive(ws, gb, student, args.assignment, files, received_at=now)
        notice = receipt_notice(ws, gb, receipt)
    print(f"received {args.assignment} from {student} at "
          f"{calendar.local_seconds(receipt.received_at, ws.course.zone)} "
          f"(sha256 {receipt.sha256[:12]})")
    print(notice)
    for problem in blank_notebooks(files, released_notebooks(ws, args.assignment)):
        err.print(f"[yellow]warning:[/] {escape(problem)}; hand in your work", highlight=False,
                  soft_wrap=True)
    return 0


def cmd_collect(args) -> int:
    from rich.markup import escape

    from course.collect import collect
    from course.inbox import check_handed_out
    from course.similarity import identical_submissions

    ws = _workspace(args)
    check_handed_out(ws, args.assignment, calendar.utcnow())
    collected = collect(ws, args.assignment)
    print(f"collected {len(collected)} submissions of {args.assignment}")
    for group in identical_submissions(ws, args.assignment):
        text = f"identical notebooks from {', '.join(group.student_ids)} ({group.notebook})"
        err.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)
    for failure in collected.failed:  # the others were collected; these need a look
        err.print(f"[red]not collected:[/] {escape(str(failure))}", highlight=False,
                  soft_wrap=True)
    return 2 if collected.failed else 0


def cmd_grade(args) -> int:
    ws = _workspace(args)
    if args.no_wait:
        from course.grade import grade

        if ws.course.grading_for(args.assignment)["backend"] != "celery":
            raise UserError("--no-wait is for grading.backend: celery (the local backend grades "
                            "here, while you wait)")
        grade(ws, args.assignment, students=[args.student] if args.student else None, wait=False)
        print(f"sent {args.assignment} to the grading fleet: follow it with course queue")
        return 0
    from course.grade import problem_submissions

    outcomes = grade_with_progress(ws, args.assignment, [args.student] if args.student else None,
                                   workers=args.workers)
    for outcome in outcomes:
        if outcome.collected:
            print(f"  {outcome.student_id}: collected the submission that counts "
                  f"(received {outcome.collected}) before grading")
    # the summary ends the output: who needs a look and why (not graded, did not run to the
    # end, earned nothing); exit status 1 when a submission could not be graded at all
    problems = problem_submissions(ws, args.assignment, outcomes)
    not_graded = [p for p in problems if not p.graded]
    print(f"graded {len(outcomes) - len(not_graded)} of {len(outcomes)} submissions of "
          f"{args.assignment}" + (f"; {len(problems)} need a look:" if problems else ""))
    for problem in problems:
        kept = " (the last good result is kept)" if problem.kind == "error" else ""
        print(f"  {problem.student_id}: {problem.kind}: {problem.reason}{kept}")
    return 1 if not_graded else 0


def cmd_feedback(args) -> int:
    from course.feedback import NOTHING_HANDED_IN, return_feedback
    from course.inbox import check_handed_out

    ws = _workspace(args)
    check_handed_out(ws, args.assignment, calendar.utcnow())
    result = return_feedback(ws, args.assignment,
                             students=[args.student] if args.student else None)
    for item in result.returned:
        state = "already returned, unchanged" if item.unchanged else "returned"
        print(f"  {item.student_id}: {state}: {', '.join(item.files)} "
              f"(submission {item.receipt_id})")
    for student_id, reason in result.not_generated.items():
        print(f"  {student_id}: no feedback: {reason}")
    nothing = [sid for sid, reason in result.not_graded.items() if reason == NOTHING_HANDED_IN]
    for student_id, reason in result.not_graded.items():
        if reason != NOTHING_HANDED_IN:
            print(f"  {student_id}: not graded: {reason}")
    if nothing:  # one line for them all: a big course has dozens (course status lists them)
        shown = ", ".join(nothing[:8]) + (f" and {len(nothing) - 8} more" if len(nothing) > 8
                                          else "")
        print(f"  nothing handed in by {len(nothing)} student{'s' if len(nothing) != 1 else ''}: "
              f"{shown}")
    new = sum(not item.unchanged for item in result.returned)
    print(f"feedback on {args.assignment}: {new} returned, "
          f"{len(result.returned) - new} unchanged, {len(result.not_generated)} not generated, "
          f"{len(result.not_graded)} not graded")
    return 0


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
    with err.status(f"checking graders of {len(ids)} assignments"):
        checks = check_assignments([ws.source / i for i in ids], options,
                                   workers=args.workers or default_workers())
    if args.json:
        print(json.dumps({"assignments": [c.to_json() for c in checks]}, indent=2))
    else:
        table = Table(title="hidden graders")
        for column in ("assignment", "reference", "release", "mutants caught", "deterministic",
                       "s / submission", "ok"):
            table.add_column(column)
        for c in checks:
            caught = sum(m.caught for m in c.mutants)
            table.add_row(c.id, f"{c.reference_score:g}/{c.max_score:g}", f"{c.release_score:g}",
                          f"{caught}/{len(c.mutants)}", "yes" if c.deterministic else "[red]no[/]",
                          f"{c.seconds:.1f}", "[green]yes[/]" if c.ok else "[bold red]NO[/]")
        wide_console().print(table)
        for c in checks:
            for problem in c.problems + [f"mutant {m.name} not caught in {', '.join(m.missed)}"
                                         for m in c.mutants if not m.caught]:
                err.print(f"[red]{c.id}:[/] {problem}", highlight=False)
    for c in checks:
        for warning in c.warnings:
            err.print(f"[yellow]warning:[/] {c.id}: {warning}", highlight=False)
    return 0 if all(c.ok for c in checks) else 1


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
        due = still.until if still is not None else ws.course.due(args.assignment)
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
    from course.reports import status_csv, status_json, status_table

    ws = _workspace(args)
    if args.student:
        ws.course.student(args.student)
    data = standing_data(ws, judged_at(args, ws.course))
    for warning in data["warnings"]:
        err.print(f"[yellow]warning:[/] {escape(warning)}", highlight=False, soft_wrap=True)
    if args.student:
        data["students"] = [s for s in data["students"] if s["id"] == args.student]
    if args.format == "json":
        print(status_json(data))
    elif args.format == "csv":
        sys.stdout.write(status_csv(data))
    else:
        wide_console().print(status_table(data))
    return 0


def cmd_report(args) -> int:
    from course.reports import write_report

    ws = _workspace(args)
    out = Path(args.out) if args.out else ws.root / "reports"
    html_path, csv_path = write_report(standing_data(ws, judged_at(args, ws.course)), out)
    print(f"report: {html_path}\n        {csv_path}")
    return 0


def cmd_demo(args) -> int:
    from devhub.demo import ZONE as DEMO_ZONE
    from devhub.demo import run_demo

    now = calendar.utcnow()
    if args.now:
        now = calendar.parse_local(args.now, calendar.get_zone(DEMO_ZONE))
    return run_demo(Path(args.dir), now=now, force=args.force, console=wide_console(),
                    grade_step=grade_with_progress)


def cmd_exchange_serve(args) -> int:
    from course.coursefile import find_course_file
    from exchange.service import main as serve

    limit = int(args.max_mb * 1e6) if args.max_mb else None
    quota = int(args.quota_mb * 1e6) if args.quota_mb else None
    courses = [find_course_file(path).resolve() for path in args.course or [None]]
    return serve(courses, ip=args.ip, port=args.port, max_submission_bytes=limit,
                 max_stored_bytes=quota)


def cmd_hub(args) -> int:
    from devhub.hubcourse import run_hub

    return run_hub(Path(args.dir), port=args.port, password=args.password)


class _Version(argparse.Action):
    """``--version``: the package metadata is read only when asked (every command builds the
    parser)."""

    def __init__(self, option_strings, dest, help=None):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(f"course {package_version()}")
        parser.exit()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="course", description=" ".join(__doc__.split()))
    parser.add_argument("--version", action=_Version, help="print the platform's version and exit")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course", metavar="PATH",
                        help="course file or its folder (default: ./course.yml)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name, func, help_text, *, own_course=False, **kwargs):
        # own_course: the command defines --course itself (course worker: one per course)
        command = sub.add_parser(name, parents=[] if own_course else [common], help=help_text,
                                 description=help_text, **kwargs)
        command.set_defaults(func=func)
        return command

    from commands.setup import add_setup_commands  # init, validate, upgrade, roster

    add_setup_commands(add)

    p = add("deadlines", cmd_deadlines, "list release and due times, local and UTC")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = add("generate", cmd_generate, "make the student version of an assignment (nbgrader)")
    p.add_argument("assignment")
    p.add_argument("--out", metavar="DIR", help="also copy the student version here")
    p = add("release", cmd_release, "generate and publish an assignment to students")
    p.add_argument("assignment")
    p = add("submit", cmd_submit, "hand in files or a folder (stamped with this machine's clock)")
    p.add_argument("assignment")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--student", help="student id (default: $COURSE_USER or the login name)")
    p = add("collect", cmd_collect, "gather the submission that counts from each student")
    p.add_argument("assignment")
    p = add("grade", cmd_grade, "autograde collected submissions into the gradebook")
    p.add_argument("assignment")
    p.add_argument("--student", help="grade only this student")
    p.add_argument("--workers", type=int, metavar="N",
                   help="submissions graded at once (default: grading.workers, else the cores)")
    p.add_argument("--no-wait", action="store_true",
                   help="grading.backend celery: return once the jobs are sent (see course queue)")
    p = add("feedback", cmd_feedback,
            "generate feedback on graded submissions (hidden tests left out) and return it")
    p.add_argument("assignment")
    p.add_argument("--student", help="only this student")
    p = add("grade-file", cmd_grade_file,
            "grade one notebook without touching the gradebook")
    p.add_argument("assignment")
    p.add_argument("notebook", metavar="NOTEBOOK.ipynb")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    add("doctor", cmd_doctor, "show which isolation layers grading runs behind here")
    p = add("config", cmd_config, "show each grading setting in force and where it comes from")
    p.add_argument("assignment", nargs="?", metavar="ASSIGNMENT",
                   help="an assignment's settings (default: the course's)")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = add("check-graders", cmd_check_graders,
            "check hidden graders: reference full marks, release 0, every mutant caught")
    p.add_argument("assignments", nargs="*", metavar="ASSIGNMENT")
    p.add_argument("--json", action="store_true")
    p.add_argument("--workers", type=int, metavar="N", help="assignments checked at once")
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
        else:
            p.add_argument("--out", metavar="DIR", help="default: reports/ beside the course file")
    from commands.life import add_life_commands  # presenters, summaries, wiki: their own module

    add_life_commands(add)
    from commands.fleet import add_fleet_commands  # course worker, course queue

    add_fleet_commands(add)
    from commands.deploy_env import add_env_command  # course env: a deployment's secrets

    add_env_command(add)
    from commands.dashboard import add_dashboard_commands  # dashboard serve, export

    add_dashboard_commands(add)
    p = add("demo", cmd_demo, "build a demo course with scripted students and grade it")
    p.add_argument("--dir", default="demo-course", help="where to build it (default: demo-course)")
    p.add_argument("--force", action="store_true", help="replace the folder if it exists")
    p.add_argument("--now", metavar="DATETIME",
                   help="lay the term out as if the demo ran at this Berlin time (default: now)")
    exchange = add("exchange", None, "the course exchange, a JupyterHub service")
    exchange_sub = exchange.add_subparsers(dest="exchange_command", required=True,
                                           metavar="ACTION")
    p = exchange_sub.add_parser("serve", help="serve the exchange of one course or several "
                                "(the hub starts it as a service)")
    p.add_argument("--course", metavar="PATH", action="append",
                   help="a course file or folder; repeat it for every course on the hub "
                   "(default: ./course.yml)")
    p.add_argument("--ip", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    p.add_argument("--port", type=int, help="default: from $JUPYTERHUB_SERVICE_URL, else 8765")
    p.add_argument("--max-mb", type=float, metavar="MB", help="largest submission (default: 50)")
    p.add_argument("--quota-mb", type=float, metavar="MB",
                   help="per-student quota: all of a student's kept submissions (default: 1 GiB)")
    p.set_defaults(func=cmd_exchange_serve)
    p = add("hub", cmd_hub, "start a local JupyterHub with a demo course (make hub)")
    p.add_argument("--dir", default="hub-course", help="the course folder (default: hub-course)")
    p.add_argument("--port", type=int, default=8000, help="the hub's port (default: 8000)")
    p.add_argument("--password", help="the shared password (default: generated once)")
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
