"""The weekly workflow: ``course deadlines``, ``generate``, ``release``, ``handout``, ``submit``,
``collect``, ``grade`` and ``feedback`` (registered by ``commands.main`` through
``add_weekly_commands``)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path, PurePosixPath

from rich.markup import escape

from commands.console import err, grade_with_progress, wide_console
from commands.console import workspace as _workspace
from commands.lti import push_after
from course import calendar
from course.errors import UserError

__all__ = ["add_weekly_commands"]


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


def _write_new_folder(target: Path, files: dict[str, bytes]) -> None:
    """Write ``files`` into ``target`` all at once: staged beside it, renamed into place, so a
    failure leaves nothing half-written. Refuses to replace a folder that has files in it."""
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise UserError(f"{target} already exists: move it away (a student's work may be in it) "
                        "or choose another --out")
    target.parent.mkdir(parents=True, exist_ok=True)
    staged = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        for name, content in files.items():
            relative = PurePosixPath(name)
            if relative.is_absolute() or ".." in relative.parts:  # never outside the folder
                raise UserError(f"refusing the file name {name!r}")
            path = staged.joinpath(*relative.parts)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        staged.chmod(0o755)
        if target.is_dir():
            target.rmdir()  # empty (checked above)
        os.rename(staged, target)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise


def cmd_handout(args) -> int:
    """The student version as the exchange gives it to a student (its release rule, its
    files), written to a folder: for a student without a hub or with their server down."""
    from course.inbox import read_submission_folder, released_to_students

    ws = _workspace(args)
    now = calendar.utcnow()  # read once: the release rule is judged at this instant
    ws.course.student(args.student)  # UnknownId: not a student of the course
    release = ws.course.assignment(args.assignment).release  # UnknownId: no such assignment
    # the exchange's own rule (CourseExchange.released_files asks the same question)
    if not released_to_students(ws, args.assignment, now):
        when = (f"until {calendar.readable_local(release, ws.course.zone)} (its release: time)"
                if release is not None and release > now
                else f"until it is released (course release {args.assignment})")
        raise UserError(f"{args.assignment} is not released yet: students do not get it {when}")
    files = read_submission_folder(ws.root / "exchange" / ws.course.id / "outbound"
                                   / args.assignment)
    target = Path(args.out) / args.assignment  # as nbgrader's fetch lays it out
    _write_new_folder(target, files)
    print(f"handed out {args.assignment} to {args.student}: {target} "
          f"({len(files)} file{'s' if len(files) != 1 else ''}: {', '.join(sorted(files))})")
    return 0


def _write_feedback(args) -> int:
    """``course feedback A --student S --out DIR``: the feedback last returned to S on A (the
    newest of their submissions that has any), as the exchange serves it, written to
    DIR/A/feedback/<submission time>/ as nbgrader's fetch_feedback lays it out."""
    from course.receipt_files import format_timestamp
    from course.store import CourseExchange

    if not args.student:
        raise UserError("--out writes one student's feedback: name them with --student")
    ws = _workspace(args)
    ws.course.student(args.student)  # UnknownId: not a student of the course
    ws.course.assignment(args.assignment)
    exchange = CourseExchange(ws.course_file)
    try:
        receipts = sorted(exchange.receipts(student_id=args.student,
                                            assignment_id=args.assignment),
                          key=lambda row: (row.received_at, row.id), reverse=True)
        for receipt in receipts:
            files = exchange.feedback_files(receipt)
            if files:
                break
        else:
            raise UserError(f"no feedback on {args.assignment} was returned to {args.student} "
                            f"yet ({len(receipts)} submission{'s' if len(receipts) != 1 else ''}"
                            f"; course feedback {args.assignment} returns it once graded)")
    finally:
        exchange.close()
    stamp = format_timestamp(receipt.received_at)
    target = Path(args.out) / args.assignment / "feedback" / stamp
    if target.is_dir():  # the same submission's feedback fetched again: the newest replaces it
        shutil.rmtree(target)
    _write_new_folder(target, files)
    print(f"feedback on {args.assignment} for {args.student} (submission {receipt.id}, received "
          f"{calendar.local_seconds(receipt.received_at, ws.course.zone)}): {target} "
          f"({', '.join(sorted(files))})")
    return 0


def cmd_submit(args) -> int:
    from course.blank_work import blank_notebooks, released_notebooks
    from course.gradebook.records import current_user
    from course.inbox import check_released, read_submission_folder, receive
    from course.receipt_notice import receipt_notice

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


def cmd_similarity(args) -> int:
    from rich.table import Table

    from course.blank_work import released_notebooks
    from course.similarity import identical_submissions, similar_pairs

    if args.threshold is not None and not 0 <= args.threshold <= 1:
        raise UserError(f"--threshold is a share of a student's code, from 0 to 1, not "
                        f"{args.threshold:g}")
    ws = _workspace(args)
    threshold = ws.course.similarity.threshold if args.threshold is None else args.threshold
    pairs = similar_pairs(ws, args.assignment, threshold=threshold)
    identical = identical_submissions(ws, args.assignment)
    if args.format == "json":
        print(json.dumps({
            "assignment": args.assignment, "threshold": threshold,
            "pairs": [{"notebook": p.notebook, "students": list(p.student_ids),
                       "similarity": [round(share, 3) for share in p.similarity]}
                      for p in pairs],
            "identical": [{"notebook": g.notebook, "students": list(g.student_ids),
                           "sha256": g.sha256} for g in identical]}, indent=2))
        return 0
    table = Table(title=f"{args.assignment}: own code alike (at least {threshold:.0%} of either "
                  "student's)")
    for column in ("notebook", "students", "share of the first's", "share of the second's"):
        table.add_column(column, justify="right" if column.startswith("share") else "left")
    for p in pairs:
        table.add_row(escape(p.notebook), escape(" and ".join(p.student_ids)),
                      f"{p.similarity[0]:.0%}", f"{p.similarity[1]:.0%}")
    console = wide_console()
    if not released_notebooks(ws, args.assignment):
        console.print(f"{args.assignment} is not released (course release): without its "
                      "template to take out, own code cannot be compared", highlight=False)
    elif pairs:
        console.print(table)
    else:
        console.print(f"{args.assignment}: no pair of students with own code this alike "
                      f"(threshold {threshold:.0%})", highlight=False)
    for group in identical:
        console.print(f"identical notebooks from {escape(', '.join(group.student_ids))} "
                      f"({escape(group.notebook)})", highlight=False, soft_wrap=True)
    console.print("A hint for a person to look at, never a penalty: alike code may have good "
                  "reasons (a hint in class, a short exercise).", highlight=False)
    return 0


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
    pushed = push_after(ws, f"grading {args.assignment}")
    return 1 if not_graded or not pushed else 0


def cmd_feedback(args) -> int:
    from course.feedback import NOTHING_HANDED_IN, return_feedback
    from course.inbox import check_handed_out

    if args.out:
        return _write_feedback(args)
    ws = _workspace(args)
    now = calendar.utcnow()
    check_handed_out(ws, args.assignment, now)
    result = return_feedback(ws, args.assignment,
                             students=[args.student] if args.student else None, now=now)
    for item in result.returned:
        state = "already returned, unchanged" if item.unchanged else "returned"
        print(f"  {item.student_id}: {state}: {', '.join(item.files)} "
              f"(submission {item.receipt_id})")
    for student_id, reason in result.not_generated.items():
        print(f"  {student_id}: no feedback: {reason}")
    for student_id, reason in result.held.items():  # the course file's feedback: when
        print(f"  {student_id}: held: {reason}; run course feedback again then")
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
          f"{len(result.not_graded)} not graded" + (f", {len(result.held)} held"
                                                    if result.held else ""))
    return 0 if push_after(ws, f"feedback on {args.assignment}") else 1


def add_weekly_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    p = add("deadlines", cmd_deadlines, "list release and due times, local and UTC")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = add("generate", cmd_generate, "make the student version of an assignment (nbgrader)")
    p.add_argument("assignment")
    p.add_argument("--out", metavar="DIR", help="also copy the student version here")
    p = add("release", cmd_release, "generate and publish an assignment to students")
    p.add_argument("assignment")
    p = add("handout", cmd_handout,
            "write a student's copy of a released assignment to a folder (no hub needed)")
    p.add_argument("assignment")
    p.add_argument("--student", required=True, help="the student it is for (roster id)")
    p.add_argument("--out", metavar="DIR", required=True,
                   help="written to DIR/ASSIGNMENT/, which must not hold files yet")
    p = add("submit", cmd_submit, "hand in files or a folder (stamped with this machine's clock)")
    p.add_argument("assignment")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--student", help="student id (default: $COURSE_USER or the login name)")
    p = add("collect", cmd_collect, "gather the submission that counts from each student")
    p.add_argument("assignment")
    p = add("similarity", cmd_similarity,
            "list pairs of students whose own code is alike, and identical notebooks")
    p.add_argument("assignment")
    p.add_argument("--threshold", type=float, metavar="SHARE",
                   help="list pairs from this share of either one's own code (default: the "
                   "course file's similarity.threshold)")
    p.add_argument("--format", choices=["table", "json"], default="table")
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
    p.add_argument("--out", metavar="DIR",
                   help="with --student: write the feedback last returned to them to "
                   "DIR/ASSIGNMENT/feedback/<submission time>/ instead (no hub needed)")
