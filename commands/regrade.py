"""``course regrade``: list students' regrade requests and answer them (accept with a new score,
reject with a reason), or file one for a student who asked another way (registered by
``commands.main`` through ``add_regrade_commands``)."""

from __future__ import annotations

import json

from rich.markup import escape
from rich.table import Table

from commands.console import acting_user as _by
from commands.console import wide_console
from commands.console import workspace as _workspace
from commands.life import nested_commands
from course import calendar

__all__ = ["add_regrade_commands"]


def _row_json(row, zone, counts: str | None) -> dict:
    return {"id": row.id, "student": row.student_id, "assignment": row.assignment_id,
            "item": row.item, "reason": row.reason, "filed_by": row.filed_by,
            "filed_local": calendar.iso_local(row.filed_at, zone), "state": row.state,
            "answered_by": row.answered_by, "answer": row.answer,
            "answered_local": calendar.iso_local(row.answered_at, zone)
            if row.answered_at else None, "override_id": row.override_id,
            "counts_now": counts}


def cmd_regrade_list(args) -> int:
    from course.regrades import FINAL, OPEN, requests_of, score_now
    from course.standing import standing_data

    ws = _workspace(args)
    rows = requests_of(ws, student_id=args.student, assignment_id=args.assignment,
                       open_only=args.open)
    zone = ws.course.zone
    # beside each open request, what the assignment counts now: an accepted score is final
    standing = standing_data(ws, calendar.utcnow()) if any(r.state == OPEN for r in rows) \
        else None
    counts = {row.id: score_now(standing, row.student_id, row.assignment_id)
              for row in rows if standing is not None and row.state == OPEN}
    if args.format == "json":
        print(json.dumps([_row_json(row, zone, counts.get(row.id)) for row in rows], indent=2))
        return 0
    if not rows:
        print("no regrade requests" + (" open" if args.open else ""))
        return 0
    table = Table(title=escape(f"{ws.course.id}: regrade requests, times in {zone.key}"))
    for column in ("#", "student", "assignment", "test or cell", "filed", "reason", "state",
                   "answer", "counts now"):
        table.add_column(column)
    for row in rows:
        answer = f"{row.answer} ({row.answered_by})" if row.answered_by else ""
        table.add_row(str(row.id), escape(row.student_id), escape(row.assignment_id),
                      escape(row.item), f"{row.filed_at.astimezone(zone):%Y-%m-%d %H:%M}",
                      escape(row.reason), row.state, escape(answer),
                      escape(counts.get(row.id, "")))
    wide_console().print(table)
    if counts:
        print(f"{FINAL}: give the score that should count")
    return 0


def cmd_regrade_file(args) -> int:
    from course.regrades import file_request

    ws = _workspace(args)
    row = file_request(ws, args.student, args.assignment, args.item, args.reason,
                       now=calendar.utcnow(), by=_by(), staff=True)
    print(f"regrade request #{row.id}: {row.item} of {row.student_id}'s {row.assignment_id}")
    return 0


def cmd_regrade_accept(args) -> int:
    from course.regrades import accept

    ws = _workspace(args)
    row = accept(ws, args.request, args.score, args.answer, now=calendar.utcnow(), by=_by())
    print(f"accepted regrade request #{row.id}: {row.student_id}'s {row.assignment_id} now "
          f"scores {args.score:g} (score override #{row.override_id}; final: no late penalty "
          "is taken off it)")
    return 0


def cmd_regrade_reject(args) -> int:
    from course.regrades import reject

    ws = _workspace(args)
    row = reject(ws, args.request, args.answer, now=calendar.utcnow(), by=_by())
    print(f"rejected regrade request #{row.id} of {row.student_id}'s {row.assignment_id}")
    return 0


def add_regrade_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    p = add("regrade", None, "students' regrade requests: list them, accept or reject them")
    regrade = nested_commands(p, "regrade_command", required=True)
    p = regrade("list", cmd_regrade_list, "regrade requests in the order filed, with answers")
    p.add_argument("--student")
    p.add_argument("--assignment")
    p.add_argument("--open", action="store_true", help="only those not answered yet")
    p.add_argument("--format", choices=["table", "json"], default="table")
    p = regrade("file", cmd_regrade_file,
                "file a regrade request for a student (who asked another way)")
    p.add_argument("student")
    p.add_argument("assignment")
    p.add_argument("item", help="the test's name or the grade cell's id")
    p.add_argument("--reason", required=True)
    p = regrade("accept", cmd_regrade_accept,
                "accept a request: the new score is a score override naming the request "
                "(final: no late penalty is taken off it)")
    p.add_argument("request", type=int, metavar="ID")
    p.add_argument("--score", type=float, required=True, metavar="X",
                   help="the assignment's new score (out of its graded max score)")
    p.add_argument("--answer", required=True, help="what the student reads")
    p = regrade("reject", cmd_regrade_reject, "reject a request, saying why")
    p.add_argument("request", type=int, metavar="ID")
    p.add_argument("--answer", required=True, help="why, as the student reads it")
