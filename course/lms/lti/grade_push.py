"""``course lti push``: the standing's grades sent to every registered LMS context over
Assignment and Grade Services.

The numbers are the CSV exports' (``course.lms.base.LmsFormat.cell``, from the same standing
document): an assignment is pushed for a student once its grade is final, that is once the
export has a number in its cell (a score, graded or set by hand, after any late penalty; 0 for a
missed assignment or an unreadable notebook) or it is excused. Work not graded yet, pending or
not released is not pushed. As the LMS expects them:

- a score: ``scoreGiven``/``scoreMaximum``, ``activityProgress`` Submitted, ``gradingProgress``
  FullyGraded, a comment only where it says something (late and its penalty, graded by hand,
  counts as missed);
- missed: ``scoreGiven`` 0, ``activityProgress`` Initialized (nothing handed in), FullyGraded,
  comment "missed";
- excused: no ``scoreGiven`` (the LMS clears the grade, so it counts in no total),
  ``activityProgress`` Completed, ``gradingProgress`` NotReady, comment "excused" (never the
  excuse's reason, which is the staff's).

- awaiting grading by hand: an autograded hand-in with cells still to grade by hand (nbgrader's
  ``needs_manual_grade``, ``course.feedback_gate.hand_grading_done``) is pushed with no
  ``scoreGiven`` and ``gradingProgress`` PendingManual, so the LMS shows no partial score as
  final; its score follows, FullyGraded, once the hand grading is done.

The policy status is a line item of its own ("Policy status"): ``scoreGiven`` the misses left
before exclusion (``excused_misses + 1 - misses``, never below 0) out of ``excused_misses + 1``,
so a higher score is better as in every other line item and 0 means excluded; the status
sentence as its comment. Set it not to count in the LMS's total.

One line item per assignment and context, found again by its ``resourceId``
(``<course id>:<assignment id>``) and created with the assignment's points when missing. A
student is found in the context's members (Names and Role Provisioning) by
``course.roster_match``, the launch's rule: one to one, sis_id first, an email match whose
sis_id contradicts is someone else; one who is not a member, or whose match is ambiguous (two
members, or a member two students match), is never pushed (listed). The ledger (``LmsGradePush``) holds what was
last sent for each (platform, context, line item, student): a push sends only what changed, and
a failure is recorded per platform and student and sent again by the next push. One platform's
failure (refused, down, or answering nonsense) is reported and stops no other.

Pushes of one course run one at a time (``push_lock``): two at once would both find no line
item and both make one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from ...coursefile import Course
from ...gradebook.models import LmsGradePush
from ...lti_platforms import LtiContext, PlatformRegistration, key_folder
from ...roster_match import Identity, Matching, match_people
from .client import ServiceClient, ServiceError
from .keys import signing_key
from .push_lock import push_lock
from .roster_pull import LmsMember

__all__ = ["PushFailure", "PushReport", "SentScore", "push_grades", "score_for",
           "status_score"]

STATUS_ITEM = "policy-status"
TAG = "dl-course"


@dataclass(frozen=True)
class SentScore:
    """One score sent (or, in a dry run, to send); ``commands.lti`` words it."""
    platform: str  # the registration's label
    context: str
    student: str
    item: str  # the line item's resource id
    score: dict  # as sent, without userId and timestamp


@dataclass(frozen=True)
class PushFailure:
    """What failed, where (a platform, one of its contexts, a student's score on an item: the
    narrower fields empty where it was wider), and why; sent again by the next push."""
    platform: str
    what: str  # "no access token, nothing sent", "not sent, retried next push", ...
    error: str = ""  # the platform's answer or the exception, if any
    context: str = ""
    student: str = ""
    item: str = ""
    score: dict | None = None


@dataclass
class PushReport:
    sent: list[SentScore] = field(default_factory=list)
    unchanged: int = 0
    created: list[str] = field(default_factory=list)  # line items made (or to make)
    not_members: list[str] = field(default_factory=list)  # students the context lacks
    failures: list[PushFailure] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # contexts for the launch only (no grades)

    @property
    def ok(self) -> bool:
        return not self.failures


def _comment(entry: dict) -> str:
    if entry["state"] == "missing":
        return "missed: nothing handed in by the deadline"
    parts = []
    if entry["state"] == "late":
        parts.append(f"late: {entry['penalty']}" if entry.get("penalty") else "late")
    if entry["state"] == "by_hand" or entry.get("override"):
        parts.append("graded by hand")
    if entry["counts_as_miss"]:
        parts.append("counts as missed")
    return "; ".join(parts)


HANDED_IN = ("on_time", "extended", "late")  # states whose points nbgrader's grading gives
PENDING_MANUAL = {"activityProgress": "Submitted", "gradingProgress": "PendingManual",
                  "comment": "awaiting grading by hand"}


def score_for(entry: dict, out_of: float | None, *, hand_grading_left: bool = False
              ) -> dict | None:
    """The score (without ``userId`` and ``timestamp``) an assignment's entry of the standing
    pushes, or None while its grade is not final. ``hand_grading_left``: the hand-in still has
    cells to grade by hand, so its points are partial: PendingManual, no score."""
    if entry["state"] == "excused":
        return {"activityProgress": "Completed", "gradingProgress": "NotReady",
                "comment": "excused"}
    if entry["points"] is None:
        return None
    if hand_grading_left and entry["state"] in HANDED_IN and not entry.get("override"):
        return dict(PENDING_MANUAL)
    maximum = entry["max_points"] if entry["max_points"] is not None else out_of
    if not maximum:
        return None
    return {"scoreGiven": float(entry["points"]), "scoreMaximum": float(maximum),
            "activityProgress": "Initialized" if entry["state"] == "missing" else "Submitted",
            "gradingProgress": "FullyGraded", "comment": _comment(entry)}


def status_score(student: dict, course: Course) -> dict:
    """The misses left before exclusion out of ``excused_misses + 1``: higher is better, as in
    every line item, and 0 is excluded."""
    out_of = course.policy.excused_misses + 1
    return {"scoreGiven": float(max(out_of - student["misses"], 0)),
            "scoreMaximum": float(out_of),
            "activityProgress": "Completed", "gradingProgress": "FullyGraded",
            "comment": student["status_text"] or student["status"]}


def _timestamp(moment: dt.datetime) -> str:
    """ISO 8601 with milliseconds, as AGS asks: an LMS keeps the newest score it was sent."""
    return moment.astimezone(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _digest(line_item: str, user_id: str, score: dict) -> str:
    text = json.dumps({"line_item": line_item, "userId": user_id, **score}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


@dataclass(frozen=True)
class _Item:
    resource_id: str
    label: str
    maximum: float
    scores: dict[str, dict]  # student id -> score


def _items(course: Course, data: dict, hand_grading_left: Callable[[str, str], bool]
           ) -> list[_Item]:
    items = []
    for assignment in course.assignments:
        out_of = data["max_points"].get(assignment.id)
        scores = {}
        for student in data["students"]:
            entry = student["assignments"][assignment.id]
            left = (entry["state"] in HANDED_IN and entry["points"] is not None
                    and not entry.get("override")
                    and hand_grading_left(student["id"], assignment.id))
            score = score_for(entry, out_of, hand_grading_left=left)
            if score is not None:
                scores[student["id"]] = score
        maximum = out_of or max((s.get("scoreMaximum", 0) for s in scores.values()), default=0)
        if scores and maximum:  # a line item needs its points: none before the first grade
            items.append(_Item(f"{course.id}:{assignment.id}", assignment.title or assignment.id,
                               float(maximum), scores))
    status = {student["id"]: status_score(student, course) for student in data["students"]}
    if status:
        items.append(_Item(f"{course.id}:{STATUS_ITEM}", "Policy status",
                           float(course.policy.excused_misses + 1), status))
    return items


def _lms_users(course: Course, members: list[LmsMember]) -> Matching:
    """Roster student id -> the LMS user id of the active Learner that is them (``pairs``),
    by ``course.roster_match``: one to one, sis_id first, a contradicting sis_id is someone
    else; an ambiguous match is reported and its students are not pushed."""
    learners = [m for m in members if m.active and m.role == "student" and m.user_id]
    return match_people(
        [Identity(p.id, p.sis_id, p.email) for p in course.roster.students],
        [Identity(m.user_id, m.sis_id, m.email, f"LMS user {m.user_id}") for m in learners])


class _Ledger:
    def __init__(self, gb, platform: PlatformRegistration, context: LtiContext):
        self.gb, self.platform, self.context = gb, platform, context

    def row(self, resource_id: str, student_id: str) -> LmsGradePush | None:
        return self.gb.session.scalars(select(LmsGradePush).where(
            LmsGradePush.platform == self.platform.issuer,
            LmsGradePush.client_id == self.platform.client_id,
            LmsGradePush.context_id == self.context.id,
            LmsGradePush.resource_id == resource_id,
            LmsGradePush.student_id == student_id)).first()

    def record(self, resource_id: str, student_id: str, user_id: str, line_item: str, *,
               digest: str | None, score: float | None, error: str | None,
               now: dt.datetime) -> None:
        for attempt in range(2):
            row = self.row(resource_id, student_id)
            if row is None:
                row = LmsGradePush(platform=self.platform.issuer,
                                   client_id=self.platform.client_id,
                                   context_id=self.context.id, resource_id=resource_id,
                                   student_id=student_id)
                self.gb.session.add(row)
            row.lms_user_id, row.line_item_url = user_id, line_item
            if error is None:
                row.digest, row.score_given, row.pushed_at = digest, score, now
                row.error = row.failed_at = None
            else:
                row.error, row.failed_at = error, now
            try:
                self.gb.commit()  # each score on its own: an interrupted push keeps what went
                return
            except IntegrityError:
                # another writer added this row between our read and our insert (a push not
                # under the lock, e.g. an older version): read it again and update it
                self.gb.session.rollback()
                if attempt:
                    raise


def _push_context(client: ServiceClient, course: Course, items: list[_Item], gb,
                  platform: PlatformRegistration, context: LtiContext, report: PushReport,
                  now: dt.datetime, dry_run: bool) -> None:
    where = f"{platform.label} context {context.id}"
    if not context.lineitems_url:  # registered for the launch (and the roster) only
        report.skipped.append(f"{where}: no lineitems_url: grades are not pushed there")
        return
    def failed(what: str, error: object = "", **about) -> PushFailure:
        return PushFailure(platform.label, what, str(error), context.id, **about)

    if not context.memberships_url:
        report.failures.append(failed("needs a memberships_url beside its lineitems_url in the "
                                      "course file (lti: platforms: contexts:) to find the "
                                      "students"))
        return
    try:
        members = [LmsMember.from_nrps(m, where) for m in client.members(context.memberships_url)]
    except ServiceError as exc:
        report.failures.append(failed("the members could not be read", exc))
        return
    matching = _lms_users(course, members)
    users = matching.pairs
    report.not_members += [f"{where}: {line}: not pushed to any of them (make the sis_id or "
                           "email tell them apart)" for line in matching.ambiguous]
    report.not_members += [f"{where}: {s.id} is not a student of it (no member with their "
                           "sis_id or email)" for s in course.roster.students
                           if s.id not in users and s.id not in matching.ambiguous_people]
    ledger = _Ledger(gb, platform, context)
    for item in items:
        todo = []
        for student_id, score in item.scores.items():
            if student_id not in users:
                continue
            row = ledger.row(item.resource_id, student_id)
            line_hint = row.line_item_url if row is not None else ""
            if row is not None and row.error is None and row.digest == _digest(
                    line_hint, users[student_id], score):
                report.unchanged += 1
                continue
            todo.append((student_id, score))
        if not todo:
            continue
        try:
            found = client.line_items(context.lineitems_url, item.resource_id)
        except ServiceError as exc:
            report.failures += [failed("the line item could not be read", exc, student=sid,
                                       item=item.resource_id) for sid, _ in todo]
            continue
        if found:
            line_item = found[0]["id"]
        elif dry_run:
            report.created.append(f"{where}: would create line item {item.label!r} "
                                  f"({item.resource_id}, out of {item.maximum:g})")
            line_item = ""
        else:
            try:
                line_item = client.create_line_item(context.lineitems_url, {
                    "label": item.label, "scoreMaximum": item.maximum,
                    "resourceId": item.resource_id, "tag": TAG})["id"]
            except ServiceError as exc:
                report.failures += [failed("the line item could not be made", exc,
                                           student=sid, item=item.resource_id)
                                    for sid, _ in todo]
                continue
            report.created.append(f"{where}: line item {item.label!r} ({item.resource_id}, "
                                  f"out of {item.maximum:g})")
        for student_id, score in todo:
            user_id = users[student_id]
            digest = _digest(line_item, user_id, score)
            row = ledger.row(item.resource_id, student_id)
            if row is not None and row.error is None and row.digest == digest:
                report.unchanged += 1
                continue
            sent = SentScore(platform.label, context.id, student_id, item.resource_id, score)
            if dry_run:
                report.sent.append(sent)
                continue
            body = {**score, "userId": user_id, "timestamp": _timestamp(now)}
            try:
                client.post_score(line_item, body)
            except ServiceError as exc:
                ledger.record(item.resource_id, student_id, user_id, line_item, digest=None,
                              score=None, error=str(exc), now=now)
                report.failures.append(failed("not sent, retried next push", exc,
                                              student=student_id, item=item.resource_id,
                                              score=score))
                continue
            ledger.record(item.resource_id, student_id, user_id, line_item, digest=digest,
                          score=score.get("scoreGiven"), error=None, now=now)
            report.sent.append(sent)


def push_grades(ws, as_of: dt.datetime, *, sent_at: dt.datetime | None = None,
                dry_run: bool = False,
                client_for: Callable[[PlatformRegistration], ServiceClient] | None = None
                ) -> PushReport:
    """Push the standing at ``as_of`` to every registered context. ``sent_at``: the scores'
    timestamp, when they are sent (default ``as_of``; an LMS keeps the newest it was sent);
    ``client_for`` makes the service client of a platform, else one signed with the key that
    signs now (``keys.signing_key``). One platform's failure, whatever it is, is reported and
    stops no other."""
    from ...standing import standing_data

    course = ws.course
    report = PushReport()
    if not course.lti.platforms:
        from ...errors import UserError

        raise UserError(f"{ws.course_file} registers no LMS platform (lti: platforms:): "
                        "nothing to push to")
    now = sent_at or as_of
    with ws.gradebook() as gb, push_lock(gb, course.id):
        # read under the lock: a push that waited sends the standing as it is now
        items = _items(course, standing_data(ws, as_of), _hand_grading_left(gb))
        for platform in course.lti.platforms:
            try:
                client = (client_for(platform) if client_for else
                          ServiceClient(platform, signing_key(key_folder(ws.course_file))))
                client.token()
            except ServiceError as exc:
                report.failures.append(PushFailure(platform.label,
                                                   "no access token, nothing sent", str(exc)))
                continue
            for context in platform.contexts:
                try:
                    _push_context(client, course, items, gb, platform, context, report, now,
                                  dry_run)
                except ServiceError as exc:
                    report.failures.append(PushFailure(
                        platform.label, "stopped, retried next push", str(exc), context.id))
                except Exception as exc:  # noqa: BLE001 - one platform's failure stops no other
                    gb.session.rollback()
                    report.failures.append(PushFailure(
                        platform.label, f"stopped by {type(exc).__name__}, retried next push",
                        str(exc), context.id))
    return report


def _hand_grading_left(gb) -> Callable[[str, str], bool]:
    """Whether a student's graded hand-in still has cells to grade by hand, as
    ``feedback_gate.hand_grading_done`` reads it, but no hand-in in nbgrader (an unreadable
    notebook's 0) is final, not waiting. nbgrader is opened only when asked: most pushes have
    no graded hand-in to ask about."""
    def left(student_id: str, assignment_id: str) -> bool:
        from nbgrader.api import MissingEntry

        try:
            return bool(gb.nb.find_submission(assignment_id, student_id).needs_manual_grade)
        except MissingEntry:
            return False

    return left
