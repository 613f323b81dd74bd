"""Setting a course up: ``course init``, ``validate``, ``upgrade`` and ``roster import | list |
drop`` (registered by commands.main through ``add_setup_commands``)."""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from commands.console import err, report_roster_change, wide_console
from commands.console import workspace as _workspace
from commands.life import nested_commands
from commands.lti import add_roster_pull
from course import calendar
from course.errors import UserError

__all__ = ["add_setup_commands"]


def cmd_init(args) -> int:
    from course.templates import skeleton_course_file

    root = Path(args.dir)
    course_file = root / "course.yml"
    if course_file.exists():
        raise UserError(f"{course_file} already exists; not overwriting it")
    course_id = _init_course_id(args.id, root)
    backend, broker = _init_backend(args.backend, args.broker)
    (root / "assignments").mkdir(parents=True, exist_ok=True)
    course_file.write_text(skeleton_course_file(course_id, dt.date.today(), backend=backend,
                                                broker=broker), encoding="utf-8")
    if args.no_gradebook:  # a stack's: its migration (`course upgrade`) makes it at `up`
        print(f"created {course_file}; put assignment sources in {root / 'assignments'}/<id>/")
        print("no gradebook made (--no-gradebook): `course upgrade` makes it")
        return 0
    try:  # the one command besides `course upgrade` that creates a gradebook
        from course.workspace import open_workspace

        ws = open_workspace(course_file)
        before, after = _upgrade_gradebook(ws.db_url)
    except BaseException:
        course_file.unlink()  # nothing half-made: `course init` again once the URL is fixed
        raise
    print(f"created {course_file}; put assignment sources in {root / 'assignments'}/<id>/")
    print(_gradebook_line(ws.db_url, before, after))
    return 0


def _init_backend(given: str | None, broker: str | None,
                  environ: dict[str, str] | None = None) -> tuple[str, str | None]:
    """The grading backend ``course init`` writes: ``--backend`` as given; else ``celery``
    where a broker is known (``--broker``, or ``$COURSE_BROKER_URL``, which a stack's hub has:
    its container cannot run the sandbox), said when it was chosen so; else ``local``."""
    import os

    environ = os.environ if environ is None else environ
    if given is not None:
        if given == "local" and broker:
            raise UserError("--broker is the celery backend's: leave it out with --backend local")
        return given, broker
    if broker:
        return "celery", broker
    if environ.get("COURSE_BROKER_URL"):
        print("grading: {backend: celery} ($COURSE_BROKER_URL is set: the fleet's workers "
              "grade; --backend local grades on this machine)")
        return "celery", None
    return "local", None


def _init_course_id(given: str | None, root: Path) -> str:
    """``--id`` as given, refused when it is not an id; else one made from the folder's name
    (said when it had to change: "Intro DL 2026" becomes intro-dl-2026)."""
    import re

    from course.coursefile import ID_PATTERN

    name = given or root.resolve().name
    if re.fullmatch(ID_PATTERN, name):
        return name
    derived = re.sub(r"[^a-z0-9_-]+", "-", name.lower()).strip("-_")
    rule = "letters, digits, '-' and '_', starting with a letter or digit"
    if given is not None:
        hint = f"; e.g. --id {derived}" if derived else ""
        raise UserError(f"--id: {given!r} is not a course id ({rule}: it names nbgrader's "
                        f"folders){hint}")
    if not derived:
        raise UserError(f"the folder's name {name!r} makes no course id ({rule}): give --id")
    print(f"course id {derived!r} (from the folder's name {name!r}; --id sets another)")
    return derived


def _upgrade_gradebook(url: str) -> tuple[str | None, str]:
    from course.gradebook.database import upgrade_database  # SQLAlchemy: not for every command

    return upgrade_database(url)


def _gradebook_line(url: str, before: str | None, after: str) -> str:
    from course.gradebook.failures import shown_url

    done = ("created" if before is None else "already current" if before == after
            else f"migrated from {before}")
    return f"gradebook {shown_url(url)}: schema {after} ({done})"


def cmd_validate(args) -> int:
    from rich.markup import escape

    from course.validate import ERROR, validate_course

    ws, problems = validate_course(args.course, now=calendar.utcnow())
    for problem in problems:  # errors first, then warnings
        style = "bold red" if problem.severity == ERROR else "bold yellow"
        err.print(f"[{style}]{problem.severity}:[/] {escape(str(problem))}", highlight=False,
                  soft_wrap=True)
    errors = sum(problem.severity == ERROR for problem in problems)
    warnings = f"{len(problems) - errors} warning(s)"
    if ws is None or errors:  # warnings alone do not fail the check
        err.print(f"{errors} error(s), {warnings}", highlight=False)
        return 2
    course = ws.course
    print(f"{ws.course_file}: ok ({len(course.assignments)} assignments, "
          f"{len(course.sessions)} sessions, {len(course.roster.students)} students)"
          + (f", {warnings}" if problems else ""))
    return 0


def cmd_upgrade(args) -> int:
    ws = _workspace(args)
    before, after = _upgrade_gradebook(ws.db_url)
    written = ws.sync_gradebook(force=True)
    print(_gradebook_line(ws.db_url, before, after))
    print(f"nbgrader's students and deadlines match {ws.course_file} "
          f"({written} rows written)")
    return 0


def cmd_roster_import(args) -> int:
    from course.locate import find_course_file
    from course.roster import import_roster
    from course.roster_csv import column_options

    change = import_roster(find_course_file(args.course), Path(args.csv),
                           columns=column_options(args.column), dry_run=args.dry_run)
    if change.ignored:
        print(f"ignored columns: {', '.join(change.ignored)} (map one with --column OURS=THEIRS)")
    return report_roster_change(change, dry_run=args.dry_run)


def cmd_roster_list(args) -> int:
    from course.coursefile import load_course
    from course.roster_list import roster_csv, roster_json, roster_table

    course, _ = load_course(args.course)  # the course file is all it reads: no gradebook
    if args.format == "json":
        print(roster_json(course))
    elif args.format == "csv":
        sys.stdout.write(roster_csv(course))
    else:
        wide_console().print(roster_table(course))
    return 0


def cmd_roster_drop(args) -> int:
    from course.gradebook.records import record_roster_drop
    from course.roster import drop_student
    from course.summary_rota import notice, record_rota
    from course.workspace import open_workspace

    ws = _workspace(args)
    now = calendar.utcnow()
    with ws.gradebook() as gb:
        record_roster_drop(gb, args.student, args.reason, now=now)  # flushed, not committed
        removed = drop_student(ws.course_file, args.student)  # refuses an unknown student
        # an announced summary rota refills the slots the student leaves, and says so
        rota = record_rota(open_workspace(ws.course_file).course, gb, now=now, announce=False)
        gb.commit()
    details = ", ".join(
        f"{key}: {'[' + ', '.join(map(str, value)) + ']' if isinstance(value, list) else value}"
        for key, value in removed.items() if key != "id")
    print(f"dropped {args.student} from the roster of {ws.course_file}"
          + (f" ({details})" if details else ""))
    print(f"their receipts and grades stay in the gradebook; reason recorded: {args.reason}")
    for vacancy in rota.vacancies:
        print(f"summary rota: {notice(ws.course, vacancy)}")
    return 0


def add_setup_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    p = add("init", cmd_init, "create a new course skeleton (course.yml, assignments/)")
    p.add_argument("dir", nargs="?", default=".")
    p.add_argument("--id", help="course id (default: the folder's name)")
    p.add_argument("--no-gradebook", action="store_true",
                   help="write the course file only; `course upgrade` makes the gradebook (a "
                   "compose stack's migration does, in its PostgreSQL)")
    p.add_argument("--backend", help="grading.backend to write: local (this machine) or celery "
                   "(a stack's grading fleet; default where --broker or $COURSE_BROKER_URL is "
                   "given, else local)")
    p.add_argument("--broker", metavar="URL", help="grading.broker to write (amqp://...); "
                   "else $COURSE_BROKER_URL names it when grading")
    add("validate", cmd_validate, "check the course file and report what it holds")
    add("upgrade", cmd_upgrade, "create or migrate the gradebook and write the roster and "
        "deadlines into nbgrader's tables")

    roster = nested_commands(add("roster", None, "manage the roster"), "roster_command", required=True)
    text = ("merge people from a CSV file (comma or semicolon separated; LMS exports' headers "
            "such as 'Username' or 'Email address' are recognized)")
    p = roster("import", cmd_roster_import, text)
    p.add_argument("csv", metavar="FILE.csv")
    p.add_argument("--column", action="append", metavar="OURS=THEIRS",
                   help="read our column OURS (id, first_name, last_name, email, sis_id, role) "
                   "from the CSV's column THEIRS; may be repeated")
    p.add_argument("--dry-run", action="store_true",
                   help="show who would be added or updated and any conflicts; write nothing")
    text = ("list everyone in the roster: id, name, email, sis_id, role (csv: the columns "
            "roster import reads)")
    p = roster("list", cmd_roster_list, text)
    p.add_argument("--format", choices=["table", "json", "csv"], default="table")
    text = ("remove a student from the roster (the gradebook keeps their work); recorded with "
            "who, when and why")
    p = roster("drop", cmd_roster_drop, text)
    p.add_argument("student")
    p.add_argument("--reason", required=True)
    add_roster_pull(roster)
