"""The LMS over LTI 1.3: ``course lti keys list | rotate``, ``course lti jwks``, ``course lti
push`` and ``course roster pull-lti`` (registered by ``commands.setup`` with the roster's
commands, through ``add_roster_pull``)."""

from __future__ import annotations

import json

from rich.markup import escape

from commands.console import err, judged_at, report_roster_change, workspace
from commands.life import nested_commands
from course import calendar
from course.errors import UserError

__all__ = ["add_lti_commands", "add_roster_pull", "push_after"]


def _key_folder(args):
    from course.locate import find_course_file
    from course.lti_platforms import key_folder

    return key_folder(find_course_file(args.course))


def cmd_keys_list(args) -> int:
    from course.lms.lti.keys import list_keys, signing_key

    folder = _key_folder(args)
    keys = list_keys(folder)
    if not keys:
        print(f"no LTI key in {folder}: `course lti keys rotate` makes the first")
        return 0
    signer = signing_key(folder, calendar.utcnow())
    for key in keys:
        if key == signer:
            print(f"{key.kid}  signs")
        elif key.made > signer.made:
            print(f"{key.kid}  published, signs from {key.signs_from():%Y-%m-%d %H:%M} UTC")
        else:
            print(f"{key.kid}  published (the previous key)")
    print(f"{len(keys)} published in {folder}")
    return 0


def cmd_keys_rotate(args) -> int:
    from course.lms.lti.keys import rotate, signing_key

    folder = _key_folder(args)
    now = calendar.utcnow()
    new, retired = rotate(folder, now)
    if signing_key(folder, now) == new:  # the first: no platform knows any key yet
        print(f"new signing key {new.kid} in {folder}: signs now")
    else:
        print(f"new signing key {new.kid} in {folder}: published now, signs from "
              f"{new.signs_from():%Y-%m-%d %H:%M} UTC, when platforms that cached the key set "
              "know it")
    for old in retired:
        print(f"retired {old.kid} (moved to {folder / 'retired'}; no longer published)")
    return 0


def cmd_jwks(args) -> int:
    from course.lms.lti.keys import jwks

    print(json.dumps(jwks(_key_folder(args)), indent=2))
    return 0


def score_text(score: dict) -> str:
    """A pushed score as a line shows it: ``8/10``, ``excused``, ``awaiting grading by hand``."""
    if "scoreGiven" in score:
        return f"{score['scoreGiven']:g}/{score['scoreMaximum']:g}"
    return "awaiting grading by hand" if score.get("gradingProgress") == "PendingManual" \
        else "excused"


def sent_line(sent) -> str:
    """A ``grade_push.SentScore`` as one line."""
    return f"{sent.platform} context {sent.context}: {sent.student} {sent.item} " \
        f"{score_text(sent.score)}"


def failure_line(failure) -> str:
    """A ``grade_push.PushFailure`` as one line: where, whose score, what failed, why."""
    where = failure.platform + (f" context {failure.context}" if failure.context else "")
    whose = " ".join(filter(None, (failure.student, failure.item,
                                   score_text(failure.score) if failure.score else "")))
    return ": ".join(filter(None, (where, whose, failure.what, failure.error)))


def _print_push(report, *, dry_run: bool, prefix: str = "") -> None:
    verb = "to send" if dry_run else "sent"
    for line in report.created:
        print(prefix + (line if dry_run else f"created {line}"))
    for sent in report.sent:
        print(f"{prefix}{verb}: {sent_line(sent)}")
    for line in report.not_members:
        print(f"{prefix}not pushed: {line}")
    for line in report.skipped:
        print(f"{prefix}skipped: {line}")
    for failure in report.failures:
        err.print(f"{prefix}[bold red]failed:[/] {escape(failure_line(failure))}",
                  highlight=False, soft_wrap=True)


def cmd_push(args) -> int:
    from course.lms.lti.grade_push import push_grades

    ws = workspace(args)
    report = push_grades(ws, judged_at(args, ws.course), sent_at=calendar.utcnow(),
                         dry_run=args.dry_run)
    _print_push(report, dry_run=args.dry_run)
    verb = "to send" if args.dry_run else "sent"
    print(f"{'dry run: ' if args.dry_run else ''}{len(report.sent)} {verb}, {report.unchanged} "
          f"unchanged, {len(report.failures)} failed"
          + ("; nothing written" if args.dry_run else ""))
    return 0 if report.ok else 1


def push_after(ws, step: str) -> bool:
    """After ``course grade`` and ``course feedback``: push the grades that are final now to
    every LMS the course registers (none: nothing to do). True unless a push failed; what
    failed is kept in the ledger and sent again by the next push."""
    if not any(context.lineitems_url for platform in ws.course.lti.platforms
               for context in platform.contexts):
        return True  # no LMS, or one for the launch only: no grades go anywhere
    from course.lms.lti.grade_push import push_grades

    now = calendar.utcnow()
    try:
        report = push_grades(ws, now, sent_at=now)
    except UserError as exc:  # no key yet: the grading itself stands
        err.print(f"[bold red]LMS grades after {step} not pushed:[/] {escape(str(exc))}",
                  highlight=False, soft_wrap=True)
        return False
    _print_push(report, dry_run=False, prefix="  LMS: ")
    print(f"LMS grades after {step}: {len(report.sent)} sent, {report.unchanged} unchanged, "
          f"{len(report.failures)} failed"
          + ("; the failed ones are sent again by the next push (course lti push)"
             if report.failures else ""))
    return report.ok


def cmd_roster_pull(args) -> int:
    from course.lms.lti.roster_pull import pull_roster
    from course.locate import find_course_file

    change = pull_roster(find_course_file(args.course), dry_run=args.dry_run,
                         hub_names=_hub_names(args))
    for line in change.ignored:
        print(f"ignored: {line}")
    return report_roster_change(change, dry_run=args.dry_run)


def _hub_names(args) -> set[str] | None:
    """The user names a new person's id must avoid: every roster of the hub's other courses and
    its admins, as the operator names them; None when they named neither (each new person is
    then a conflict with a suggested id)."""
    if args.hub_courses is None and args.hub_admins is None:
        return None
    from course.coursefile import load_course
    from course.locate import find_course_file

    names = {name for name in (args.hub_admins or "").split(",") if name}
    for path in args.hub_courses or []:
        course = load_course(find_course_file(path))[0]
        roster = course.roster
        names |= {p.id for p in [*roster.students, *roster.instructors, *roster.graders]}
    return names


def add_roster_pull(roster) -> None:
    """``course roster pull-lti``, added to the roster's actions by ``commands.setup``."""
    text = ("pull the members of the course's LMS contexts (LTI Names and Role Provisioning) "
            "into the roster, by the rules of roster import")
    p = roster("pull-lti", cmd_roster_pull, text)
    p.add_argument("--dry-run", action="store_true",
                   help="show who would be added or updated and any conflicts; write nothing")
    p.add_argument("--hub-courses", nargs="*", metavar="COURSE",
                   help="the other courses on this hub (their course files or folders; none "
                        "for a hub of one course): a new person's id avoids their user names, "
                        "and new people are added; without this or --hub-admins each new "
                        "person is a conflict naming a suggested id")
    p.add_argument("--hub-admins", metavar="NAMES",
                   help="the hub's admin user names, comma-separated (c.CourseHub.admin_users)")


def add_lti_commands(add) -> None:
    """Register subcommands with ``add(name, func, help_text) -> argparse parser``."""
    lti = nested_commands(add("lti", None, "the LMS over LTI 1.3: the tool's keys and the "
                              "grade push"), "lti_command", required=True)
    keys = nested_commands(lti("keys", None, "the tool's signing keys (list, rotate)"),
                           "keys_command", required=True)
    keys("list", cmd_keys_list, "list the published keys and which one signs")
    keys("rotate", cmd_keys_rotate, "make a new signing key: published at once, signing an hour "
         "later; the previous one stays published until the next rotation, older ones are "
         "retired")
    lti("jwks", cmd_jwks, "print the public keys (JWKS) the hub's lti-jwks service publishes")
    p = lti("push", cmd_push, "push final grades and the policy status to every registered "
            "LMS context (Assignment and Grade Services); exit status 1 if any failed")
    p.add_argument("--dry-run", action="store_true",
                   help="show the line items and scores that would be sent; send nothing")
    p.add_argument("--as-of", metavar="DATETIME", help="judge at this local time (default: now)")
