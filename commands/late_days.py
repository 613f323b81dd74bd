"""``course late-days``: late days spent on request, by staff for a student (who asked another
way): ``spend``, ``withdraw`` and ``show`` (``course.late_days``; registered by
``commands.main`` through ``add_late_day_commands``)."""

from __future__ import annotations

from commands.console import acting_user as _by
from commands.console import workspace as _workspace
from commands.life import nested_commands
from course import calendar

__all__ = ["add_late_day_commands"]


def cmd_late_days_spend(args) -> int:
    from course.gradebook.records import gather_facts
    from course.late_days import account, late_day_rows, spend
    from course.policy import late_days_text

    ws = _workspace(args)
    by, now = _by(), calendar.utcnow()
    with ws.gradebook() as gb:
        row = spend(ws, gb, args.student, args.assignment, args.days, now=now, by=by)
        gb.commit()
        held = account(ws.course, gather_facts(gb, ws.course), args.student)
        _, rows = late_day_rows(ws, gb, args.student, now)
    until = next(r.until for r in rows if r.assignment_id == args.assignment)
    print(f"{late_days_text(row.days)} spent on {args.assignment} for "
          f"{args.student}: deadline {calendar.readable_local(until, ws.course.zone)}; "
          f"{held.left} of {held.budget} left")
    return 0


def cmd_late_days_withdraw(args) -> int:
    from course.gradebook.records import gather_facts
    from course.late_days import account, withdraw
    from course.policy import late_days_text

    ws = _workspace(args)
    by = _by()
    with ws.gradebook() as gb:
        row = withdraw(ws, gb, args.student, args.assignment, now=calendar.utcnow(), by=by,
                       reason=args.reason)
        gb.commit()
        held = account(ws.course, gather_facts(gb, ws.course), args.student)
    print(f"withdrew the {late_days_text(row.days)} asked for on "
          f"{args.assignment} for {args.student}; {held.left} of {held.budget} left")
    return 0


def cmd_late_days_show(args) -> int:
    from course.late_days import late_day_rows, requests_of
    from course.policy import late_days_text

    ws = _workspace(args)
    ws.course.student(args.student)
    zone = ws.course.zone
    with ws.gradebook() as gb:
        held, rows = late_day_rows(ws, gb, args.student, calendar.utcnow())
        history = requests_of(gb, args.student)
    print(f"{args.student}: {held.left} of {held.budget} late days left")
    for row in rows:
        if row.days:
            print(f"  {row.assignment_id}: {late_days_text(row.days)}, "
                  f"deadline {calendar.readable_local(row.until, zone)}")
    for request in history:
        state = (f"withdrawn by {request.withdrawn_by}: {request.withdraw_reason}"
                 if request.withdrawn_at else "in force")
        print(f"  asked {calendar.readable_local(request.requested_at, zone)} by "
              f"{request.requested_by}: {request.days} on {request.assignment_id} ({state})")
    return 0


def add_late_day_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    p = add("late-days", None, "late days spent on request (policy.late_days: {spend: "
            "on_request}): spend or withdraw them for a student, show what is left")
    late = nested_commands(p, "late_days_command", required=True)
    p = late("spend", cmd_late_days_spend,
             "spend late days on one assignment for a student, before its deadline passes: "
             "the deadline moves that many days later (replaces a request in force)")
    p.add_argument("student")
    p.add_argument("assignment")
    p.add_argument("--days", type=int, required=True, metavar="N")
    p = late("withdraw", cmd_late_days_withdraw,
             "withdraw the late days asked for on one assignment, before its deadline passes")
    p.add_argument("student")
    p.add_argument("assignment")
    p.add_argument("--reason", help="recorded with who and when (default: withdrawn)")
    p = late("show", cmd_late_days_show, "a student's late days: left, spent, every request")
    p.add_argument("student")
