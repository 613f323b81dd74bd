"""The course file (``course.yml``): its schema, loading, and errors that point at the line.

Local wall-clock times in the file ("due: 2018-10-28 18:00") are read in the course's time zone
and held here as aware datetimes; everything downstream compares instants.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from . import calendar, parse_cache
from .course_yaml import plain, reading_yaml
from .errors import UnknownId, UserError
from .feedback_levels import FeedbackSettings
from .grading_keys import grading_model
from .late_rules import known_late_rule, late_settings
from .late_rules.window import Duration, WindowSettings
from .locate import find_course_file
from .lti_platforms import LtiSettings
from .schema_errors import field_name, line_of, schema_errors

__all__ = [
    "Assignment",
    "Break",
    "Course",
    "CourseFileCheck",
    "CourseFileError",
    "LateDays",
    "Person",
    "Policy",
    "Presenters",
    "Session",
    "Summaries",
    "check_course_file",
    "check_course_text",
    "load_course",
    "parse_course",
]

COURSE_FILE = "course.yml"
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]*$"  # safe as an nbgrader folder name
USER_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@-]*$"  # JupyterHub-style user names, never '+' or '/'
_NOT_IN_EMAIL = r"@\s,;:<>()\[\]\"\\"
EMAIL = re.compile(rf"[^{_NOT_IN_EMAIL}]+@[^{_NOT_IN_EMAIL}.]+(\.[^{_NOT_IN_EMAIL}.]+)+")
LMS_KEYS = ("sis_id", "email")  # how an LMS matches a student: one person each


class CourseFileError(UserError):
    """A problem the user can fix in the course file; names the file, line and field."""

    def __init__(self, path: Path | str, message: str, *, line: int | None = None, field: str = ""):
        self.path, self.line, self.field, self.message = str(path), line, field, message
        where = f"{self.path}:{line}" if line else self.path
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")
        self.errors: list[CourseFileError] = [self]

    @classmethod
    def joined(cls, errors: list[CourseFileError]) -> CourseFileError:
        """One error for several, one per line; ``errors`` keeps them, the rest is the first's."""
        if len(errors) == 1:
            return errors[0]
        first = errors[0]
        joined = cls(first.path, first.message, line=first.line, field=first.field)
        joined.args = ("\n".join(str(error) for error in errors),)
        joined.errors = list(errors)
        return joined


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class Person(_Strict):
    id: str = Field(pattern=USER_PATTERN)
    first_name: str = ""
    last_name: str = ""
    email: str = ""
    sis_id: str = Field("", description="the student information system's id: LMS grade "
                        "exports (course export) match students by it, else by email")
    unavailable: list[int | dt.date] = Field(
        [], description="sessions a student cannot attend: 1-based numbers or session dates"
    )

    @field_validator("email")
    @classmethod
    def _an_email(cls, value: str) -> str:
        if value and not EMAIL.fullmatch(value):
            raise ValueError("not an email address")
        return value

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip() or self.id

    def lms_key(self, field: str) -> str:
        """``sis_id`` or ``email`` as an LMS compares them (emails without case); "" if unset."""
        value = getattr(self, field)
        return value.casefold() if field == "email" else value


class Roster(_Strict):
    students: list[Person] = []
    instructors: list[Person] = []
    graders: list[Person] = []


class RegradeRequests(_Strict):
    """``regrade_requests: {until: 7d}``: students may ask for a regrade of one test or cell
    until this long after their work's deadline or its latest grading, whichever is later."""

    until: Duration = Field(description="how long after the deadline (or the latest grading, "
                            "if later) a student may ask for a regrade, such as 7d or 48h")
    graders_may_accept: bool = Field(
        False, description="graders may accept a request (set the assignment's new score); "
        "by default only instructors accept (graders may reject)")


class LateDays(_Strict):
    """``late_days: {budget: N, spend: ...}``; ``late_days: N`` is ``{budget: N}``."""

    budget: int = Field(ge=0, description="late days per student")
    spend: Literal["automatic", "on_request"] = Field(
        "automatic", description="automatic: on late hand-ins, in deadline order; on_request: "
        "only where the student (or staff for them) asks, before the deadline")


class Policy(_Strict):
    excused_misses: int = Field(1, ge=0, description="misses allowed before exclusion")
    pass_threshold: float = Field(
        0.0, ge=0.0, le=1.0, description="fraction of points below which a submission is a miss"
    )
    # the annotation names the built-in settings (schema_errors suggests their keys); the
    # validator checks a mapping against its rule's own settings_model, a plug-in's too
    late: str | WindowSettings = Field(
        "missed", description="what a late hand-in counts as: a late rule's name (course."
        "late_rules: missed, accepted or an installed one), or {rule: NAME, ...} for a rule with "
        "settings, such as {rule: window, penalty: [{after: 0h, percent: 10}], cutoff: 72h}")
    late_days: int | LateDays = Field(
        0, description="late days per student: N (spent automatically on late hand-ins, whole "
        "days rounded up, while they last), or {budget: N, spend: automatic | on_request}")
    max_submissions: int | None = Field(None, ge=1, description="the most submissions a "
                                        "student may hand in per assignment (none: no limit)")
    regrade_requests: RegradeRequests | None = Field(
        None, description="students' regrade requests from the dashboard (none: not taken)")
    feedback: FeedbackSettings = Field(FeedbackSettings(), description="what students see of "
                                       "failed hidden tests and when (course.feedback_levels)")

    @field_validator("late_days", mode="before")
    @classmethod
    def _late_days(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return LateDays.model_validate(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("should be a number of days, or "  # noqa: TRY004
                             "{budget: N, spend: automatic | on_request}")
        if value < 0:
            raise ValueError("Input should be greater than or equal to 0")
        return value

    @property
    def late_day_budget(self) -> int:
        """The late days each student has (0: none)."""
        return self.late_days if isinstance(self.late_days, int) else self.late_days.budget

    @property
    def late_days_on_request(self) -> bool:
        """Whether late days are spent only where a student asks (else automatically)."""
        return isinstance(self.late_days, LateDays) and self.late_days.spend == "on_request"

    @field_validator("late", mode="wrap")
    @classmethod
    def _a_late_rule(cls, value: Any, handler) -> Any:
        if isinstance(value, dict):
            return late_settings(value)
        if not isinstance(value, str):
            # pydantic reports a ValueError at its line, not a TypeError
            raise ValueError("should be a late rule's name or {rule: NAME, ...}")  # noqa: TRY004
        return known_late_rule(value.strip())


class DeadlineRule(_Strict):
    """When an assignment names ``for_session`` but no ``due``: last WEEKDAY TIME before it."""

    weekday: Literal[tuple(calendar.WEEKDAYS)] = "sunday"  # type: ignore[valid-type]
    time: dt.time = dt.time(18, 0)


class SummaryDeadline(_Strict):
    """A session summary is due on the first WEEKDAY at TIME on a day after the session."""

    weekday: Literal[tuple(calendar.WEEKDAYS)] = "friday"  # type: ignore[valid-type]
    time: dt.time = dt.time(12, 0)


class Summaries(_Strict):
    per_session: int = Field(2, ge=1, description="students who write each session's summary")
    deadline: SummaryDeadline = SummaryDeadline()
    wiki_names: Literal["full", "first", "id"] = Field(
        "full", description="how the wiki names students (summaries' authors): full (first and "
        "last name), first (first name) or id (the roster id, no name published)")


class Presenters(_Strict):
    count: int = Field(2, ge=1, description="students drawn to present each assignment")


class Similarity(_Strict):
    """``course similarity`` and the dashboard list pairs of students whose own code (the
    template's taken out) is this alike: a hint for a person, never a penalty."""

    threshold: float = Field(0.6, ge=0.0, le=1.0, description="share of either student's own "
                             "code found in the other's from which a pair is listed")


# an assignment's own ``grading:`` overrides the course's; a key left out is not set (the course's,
# else the platform default: course.settings.resolve_grading). Built from GradingSettings' fields.
Grading = grading_model(_Strict)


def _zone(info: ValidationInfo) -> ZoneInfo:
    return info.context["zone"]


class Session(_Strict):
    date: dt.date
    start: dt.time | None = None
    topic: str = ""

    def starts_at(self, zone: ZoneInfo) -> dt.datetime:
        return calendar.localize(dt.datetime.combine(self.date, self.start or dt.time(0, 0)), zone)


class Break(_Strict):
    """Days without a session (a holiday week, the winter break): ``first_day`` to ``last_day``,
    both included. Shown in ``course deadlines`` and the syllabus; no session may fall in it."""

    first_day: dt.date
    last_day: dt.date
    name: str = Field("", description="what the break is called, e.g. 'Winter break'")

    def covers(self, day: dt.date) -> bool:
        return self.first_day <= day <= self.last_day

    @property
    def label(self) -> str:
        return f"no session: {self.name}" if self.name else "no session"


class Assignment(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str = ""
    release: dt.datetime | None = None
    due: dt.datetime | None = None
    for_session: int | None = Field(None, ge=1, description="1-based index into sessions")
    grading: Grading = Grading()
    feedback: FeedbackSettings = Field(FeedbackSettings(), description="this assignment's "
                                       "feedback level and timing, key by key over the policy's")
    max_submissions: int | None = Field(None, ge=1, description="the most submissions a "
                                        "student may hand in of this assignment (none: the "
                                        "course's policy.max_submissions)")

    @field_validator("release", "due", mode="before")
    @classmethod
    def _local_time(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None:
            return None
        return calendar.parse_local(str(value), _zone(info))


class Gradebook(_Strict):
    url: str | None = None


class Course(_Strict):
    id: str = Field(pattern=ID_PATTERN)
    title: str
    timezone: str
    withdrawal_deadline: dt.date
    deadline_rule: DeadlineRule = DeadlineRule()
    sessions: list[Session] = []
    breaks: list[Break] = []
    assignments: list[Assignment] = []
    policy: Policy = Policy()
    summaries: Summaries = Summaries()
    presenters: Presenters = Presenters()
    similarity: Similarity = Similarity()
    roster: Roster = Roster()
    gradebook: Gradebook = Gradebook()
    grading: Grading = Grading()
    lti: LtiSettings = Field(LtiSettings(), description="the LMS platforms the course is "
                             "registered with over LTI 1.3 (course.lti_platforms)")

    def grading_for(self, assignment_id: str) -> dict:
        """Grading settings resolved in order: the assignment's, the course's, the defaults
        (``course.settings.resolve_grading``, which also says where each came from)."""
        from dataclasses import asdict

        from .settings import resolve_grading

        return asdict(resolve_grading(self, assignment_id).values)

    @property
    def zone(self) -> ZoneInfo:
        return calendar.get_zone(self.timezone)

    def assignment(self, assignment_id: str) -> Assignment:
        for assignment in self.assignments:
            if assignment.id == assignment_id:
                return assignment
        known = ", ".join(a.id for a in self.assignments) or "none"
        raise UnknownId(f"unknown assignment {assignment_id!r} (known: {known})")

    def student(self, student_id: str) -> Person:
        for person in self.roster.students:
            if person.id == student_id:
                return person
        for role, people in (("an instructor", self.roster.instructors),
                             ("a grader", self.roster.graders)):
            if any(person.id == student_id for person in people):
                raise UnknownId(f"{student_id!r} is {role}, not a student: only the roster's "
                                "students hand in, are graded and excused")
        raise UnknownId(f"unknown student {student_id!r}: not in the course roster")

    def session_number(self, ref: int | dt.date) -> int:
        """The 1-based number of a session given by number or by date."""
        if isinstance(ref, int):
            if 1 <= ref <= len(self.sessions):
                return ref
            raise UnknownId(f"unknown session {ref}: the course has {len(self.sessions)} sessions")
        for number, session in enumerate(self.sessions, start=1):
            if session.date == ref:
                return number
        raise UnknownId(f"unknown session: no session on {ref.isoformat()}")

    def unavailable_sessions(self, student_id: str) -> set[int]:
        """Session numbers a student declared they cannot attend."""
        return {self.session_number(ref) for ref in self.student(student_id).unavailable}

    def due(self, assignment_id: str) -> dt.datetime:
        due = self.assignment(assignment_id).due
        assert due is not None  # filled in by parse_course
        return due

    def submission_limit(self, assignment_id: str) -> tuple[int | None, str]:
        """The most submissions of an assignment a student may hand in (None: no limit) and
        the key that sets it: the assignment's own ``max_submissions``, else the policy's."""
        own = self.assignment(assignment_id).max_submissions
        if own is not None:
            return own, f"max_submissions of {assignment_id}"
        return self.policy.max_submissions, "policy.max_submissions"


@dataclass
class CourseFileCheck:
    """What checking a course file found: the course (None unless it loads) and every error."""

    path: str
    course: Course | None
    errors: list[CourseFileError]
    tree: Any = None  # the round-trip YAML tree, for line numbers

    def line(self, loc: tuple) -> int | None:
        """The 1-based line of ``loc`` (e.g. ``("assignments", 0)``) in the course file."""
        return line_of(self.tree, loc) if self.tree is not None else None

    def error_at(self, loc: tuple, message: str) -> CourseFileError:
        return CourseFileError(self.path, message, line=self.line(loc), field=field_name(loc))


def check_course_text(text: str, path: Path | str = COURSE_FILE) -> CourseFileCheck:
    """Check course-file text and collect every error, each naming its line and field."""
    from ruamel.yaml.error import MarkedYAMLError

    path = str(path)
    try:
        tree = reading_yaml().load(io.StringIO(text))
    except MarkedYAMLError as exc:
        line = exc.problem_mark.line + 1 if exc.problem_mark else None
        return CourseFileCheck(path, None, [
            CourseFileError(path, f"not valid YAML: {exc.problem}", line=line)])
    if not isinstance(tree, dict):
        return CourseFileCheck(path, None, [CourseFileError(
            path, "expected a mapping of keys such as 'id', 'title', 'timezone'")])
    check = CourseFileCheck(path, None, [], tree)
    data = plain(tree)
    _check_plain(check, data)
    if not check.errors:
        parse_cache.store(text, data)
    return check


def _check_plain(check: CourseFileCheck, data: dict) -> None:
    """Every check after YAML parsing: the schema, then the checks across fields."""

    def fail(loc: tuple, message: str) -> None:
        check.errors.append(check.error_at(loc, message))

    zone = calendar.get_zone("UTC")  # stands in for a missing or bad zone, to find the rest
    zone_name = data.get("timezone")
    if isinstance(zone_name, str):  # when missing or not text, the schema says so below
        try:
            zone = calendar.get_zone(zone_name)
        except calendar.LocalTimeError as exc:
            fail(("timezone",), str(exc))
    try:
        course = Course.model_validate(data, context={"zone": zone})
    except ValidationError as exc:
        for loc, message in schema_errors(exc, data, Course):
            fail(loc, message)
    else:  # checks across fields need a course that has the schema's shape
        _check_unique(course, fail)
        _check_lms_keys(course, fail, check)
        _check_unavailable(course, fail)
        misplaced = _check_session_order(course, fail)
        _check_breaks(course, fail, check)
        _resolve_deadlines(course, fail, zone, misplaced=misplaced)
        if not check.errors:
            check.course = course
    check.errors.sort(key=lambda error: error.line or 0)


def _check_session_order(course: Course, fail) -> set[int]:
    """Sessions are listed in date order (``for_session`` and the summary rota count on it):
    each one dated before the session above it is an error at its line. Returns their
    numbers, whose deadlines then say nothing more (the order is what is wrong)."""
    misplaced = set()
    for index in range(1, len(course.sessions)):
        before, session = course.sessions[index - 1], course.sessions[index]
        if session.date < before.date:
            fail(("sessions", index, "date"),
                 f"sessions out of order: {session.date.isoformat()} is before session {index} "
                 f"({before.date.isoformat()}); list the sessions by date")
            misplaced.add(index + 1)
    return misplaced


def _check_breaks(course: Course, fail, check: CourseFileCheck) -> None:
    """A break ends on or after its first day, breaks are listed by date without overlapping,
    and no session falls in one: each an error at the line at fault (the session's own)."""
    for index, pause in enumerate(course.breaks):
        if pause.last_day < pause.first_day:
            fail(("breaks", index, "last_day"),
                 f"the break ends ({pause.last_day.isoformat()}) before its first day "
                 f"({pause.first_day.isoformat()})")
        elif index and pause.first_day <= course.breaks[index - 1].last_day:
            before = course.breaks[index - 1]
            fail(("breaks", index, "first_day"),
                 f"breaks out of order or overlapping: {pause.first_day.isoformat()} is not "
                 f"after the break above it ({before.first_day.isoformat()} to "
                 f"{before.last_day.isoformat()}); list the breaks by date")
    for number, session in enumerate(course.sessions, start=1):
        for index, pause in enumerate(course.breaks):
            if pause.covers(session.date):
                line = check.line(("breaks", index))
                fail(("sessions", number - 1, "date"),
                     f"session {number} ({session.date.isoformat()}) falls in the break "
                     f"{pause.name or 'breaks[' + str(index) + ']'!r} "
                     f"({pause.first_day.isoformat()} to {pause.last_day.isoformat()}"
                     f"{f', line {line}' if line else ''}): remove the session or move the "
                     "break")
                break


def _resolve_deadlines(course: Course, fail, zone: ZoneInfo | None = None, *,
                       misplaced: set[int] = frozenset()) -> None:
    """Fill in each ``due`` from ``for_session``; ``misplaced``: sessions reported out of
    order, whose assignments' release and deadline are not checked against each other."""
    zone = zone or course.zone
    for index, assignment in enumerate(course.assignments):
        loc = ("assignments", index)
        if assignment.for_session is not None and assignment.for_session > len(course.sessions):
            fail(loc + ("for_session",), f"there are only {len(course.sessions)} sessions")
            continue
        if assignment.due is None:
            if assignment.for_session is None:
                fail(loc, "needs 'due' (a local date and time) or 'for_session' (a session number)")
                continue
            session = course.sessions[assignment.for_session - 1]
            rule = course.deadline_rule
            assignment.due = calendar.weekday_before(
                session.starts_at(zone), rule.weekday, rule.time, zone
            )
        if assignment.for_session in misplaced:
            continue
        if assignment.release is not None and assignment.release >= assignment.due:
            fail(loc + ("release",), "release must be before the deadline")


def _check_unique(course: Course, fail) -> None:
    seen: dict[str, tuple] = {}
    for index, assignment in enumerate(course.assignments):
        if assignment.id in seen:
            fail(("assignments", index, "id"), f"duplicate assignment id {assignment.id!r}")
        seen[assignment.id] = ("assignments", index)
    people: dict[str, str] = {}
    for role in ("students", "instructors", "graders"):
        for index, person in enumerate(getattr(course.roster, role)):
            if person.id in people:
                fail(("roster", role, index, "id"),
                     f"{person.id!r} is already listed under roster.{people[person.id]}")
            people[person.id] = role


def _check_lms_keys(course: Course, fail, check: CourseFileCheck) -> None:
    """An LMS matches students by sis_id, else email: two people sharing one would get each
    other's grades. Both entries are named."""
    for field in LMS_KEYS:
        seen: dict[str, tuple] = {}
        for role in ("students", "instructors", "graders"):
            for index, person in enumerate(getattr(course.roster, role)):
                key = person.lms_key(field)
                if not key:
                    continue
                if key not in seen:
                    seen[key] = (role, index, person.id)
                    continue
                other_role, other_index, other_id = seen[key]
                line = check.line(("roster", other_role, other_index))
                fail(("roster", role, index, field),
                     f"{getattr(person, field)!r} is also the {field} of roster.{other_role}"
                     f"[{other_index}] ({other_id}{f', line {line}' if line else ''}): an LMS "
                     "matches students by it, so one would get the other's grades")


def _check_unavailable(course: Course, fail) -> None:
    for index, person in enumerate(course.roster.students):
        for item, ref in enumerate(person.unavailable):
            try:
                course.session_number(ref)
            except UnknownId as exc:
                fail(("roster", "students", index, "unavailable", item), exc.args[0])


def parse_course(text: str, path: Path | str = COURSE_FILE) -> Course:
    """Validate course-file text; raise one CourseFileError listing every error, one per line,
    each naming the line and field at fault."""
    check = check_course_text(text, path)
    if check.errors:
        raise CourseFileError.joined(check.errors)
    assert check.course is not None
    return check.course


def check_course_file(path: Path | str | None = None) -> CourseFileCheck:
    """Check the course file (found as by find_course_file) and collect every error in it."""
    course_file = find_course_file(path)
    try:
        text = course_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CourseFileError(course_file, "not UTF-8 text") from None
    return check_course_text(text, course_file)


def load_course(path: Path | str | None = None) -> tuple[Course, Path]:
    """Load and validate the course file; returns the course and the file's path.

    A file that checked clean before skips YAML parsing (the slow part for a big roster): its
    parsed form is cached by content, and the schema and cross-field checks run again on it."""
    course_file = find_course_file(path)
    try:
        text = course_file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CourseFileError(course_file, "not UTF-8 text") from None
    data = parse_cache.lookup(text)
    if data is not None:
        check = CourseFileCheck(str(course_file), None, [])
        _check_plain(check, data)
    if data is None or check.errors:  # errors need the YAML tree for their line numbers
        check = check_course_text(text, course_file)
    if check.errors:
        raise CourseFileError.joined(check.errors)
    assert check.course is not None
    return check.course, Path(check.path)

