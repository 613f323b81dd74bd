"""Session summaries: who writes which, by when, and receiving what they hand in.

Who writes which and by when is planned in ``summary_rota``. Handed-in summaries are kept like submissions: every version, stored atomically
under ``summaries/<session>/`` and recorded in the gradebook; the latest one is published.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import calendar
from .coursefile import Course
from .errors import UserError
from .gradebook import Gradebook, SessionSummary
from .inbox import digest, safe_name, store  # the same rules as submissions
from .summary_rota import current_rota, latest_summaries, summary_deadline
from .workspace import Workspace

__all__ = [
    "IMAGE_SUFFIXES",
    "Duty",
    "duties",
    "read_summary",
    "receive_summary",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".webp")
MAX_SUMMARY_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class Duty:
    """One session's summary: who owes it, by when, and where it stands at some instant."""

    session: int
    date: dt.date
    topic: str
    authors: list[str]
    deadline: dt.datetime
    state: str  # handed_in | late | overdue | pending
    received_at: dt.datetime | None


def duties(course: Course, gb: Gradebook, as_of: dt.datetime) -> list[Duty]:
    """Every session's summary duty at ``as_of``, by the rota as it stands (announced authors,
    vacated slots refilled); reads only."""

    handed_in = latest_summaries(gb, until=as_of)
    plan = current_rota(course, gb).plan
    out = []
    for number, session in enumerate(course.sessions, start=1):
        deadline = summary_deadline(course, number)
        row = handed_in.get(number)
        if row is not None:
            state = "handed_in" if row.received_at <= deadline else "late"
        else:
            state = "overdue" if as_of > deadline else "pending"
        out.append(Duty(number, session.date, session.topic, plan[number], deadline, state,
                        row.received_at if row else None))
    return out


def _split_files(files: Mapping[str, bytes]) -> tuple[str, bytes, dict[str, bytes]]:
    markdown = [name for name in files if name.lower().endswith(".md")]
    if len(markdown) != 1:
        raise UserError(f"a summary is one Markdown file (.md) plus its images; got "
                        f"{len(markdown)} Markdown files ({', '.join(markdown) or 'none'})")
    (name,) = markdown
    images = {}
    for other, content in files.items():
        if other == name:
            continue
        if not other.lower().endswith(IMAGE_SUFFIXES):
            raise UserError(f"{other}: only images ({', '.join(IMAGE_SUFFIXES)}) can be handed in "
                            "with a summary")
        images[other] = content
    return name, files[name], images


def _check_text(name: str, content: bytes, images: Collection[str]) -> None:
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{name}: not UTF-8 text") from None
    from .markdown import summary_problems  # markdown-it and mdformat: only to check one

    problems = summary_problems(text, images)
    if problems:
        raise UserError(f"{name}: " + "; ".join(problems))


def receive_summary(ws: Workspace, gb: Gradebook, session: int | dt.date,
                    files: Mapping[str, bytes], *, submitted_by: str,
                    authors: Sequence[str] | None = None,
                    received_at: dt.datetime | None = None) -> SessionSummary:
    """Check, store and record one summary; returns the committed row.

    ``files`` maps names to contents: one ``.md`` file and the images it shows. ``authors``
    defaults to the students on duty for the session; a student handing in must be one of the
    authors. The exchange calls this with the student's id as ``submitted_by``; the CLI with the
    instructor's. ``received_at`` is for replaying a recorded timeline (demo, tests) only.
    """
    course = ws.course
    number = course.session_number(session)
    if authors is None:

        authors = current_rota(course, gb).plan[number]
    authors = list(dict.fromkeys(authors))
    for author in authors:
        course.student(author)
    students = {person.id for person in course.roster.students}
    if submitted_by in students and submitted_by not in authors:
        raise UserError(f"{submitted_by} is not an author of the summary of session {number} "
                        f"(authors: {', '.join(authors) or 'none'})")
    files = {safe_name(name): content for name, content in files.items()}
    size = sum(len(content) for content in files.values())
    if size > MAX_SUMMARY_BYTES:
        raise UserError(f"summary of {size / 1e6:.1f} MB exceeds the limit of "
                        f"{MAX_SUMMARY_BYTES / 1e6:.0f} MB")
    name, text, images = _split_files(files)
    _check_text(name, text, images)
    received_at = received_at or calendar.utcnow()
    folder = store(ws.root / "summaries" / f"{number:02d}", received_at, dict(files))
    row = SessionSummary(session=number, authors=" ".join(authors), submitted_by=submitted_by,
                         received_at=received_at, sha256=digest(files),
                         storage_path=folder.relative_to(ws.root).as_posix())
    gb.session.add(row)
    gb.commit()
    return row



@dataclass(frozen=True)
class StoredSummary:
    """A handed-in summary as found on disk now (files may have been edited since)."""

    session: int
    authors: list[str]
    origin: str  # course-relative path of the Markdown file, for messages
    text: str  # empty when unreadable
    images: dict[str, Path]
    unreadable: str = ""  # why the Markdown file could not be read


def read_summary(ws: Workspace, row: SessionSummary) -> StoredSummary:
    folder = ws.root / row.storage_path
    files = sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []
    markdown = [p for p in files if p.suffix.lower() == ".md"]
    images = {p.relative_to(folder).as_posix(): p for p in files
              if p.suffix.lower() in IMAGE_SUFFIXES}
    if not markdown:
        return StoredSummary(row.session, row.authors.split(), row.storage_path, "", images,
                             "the Markdown file is missing")
    origin = markdown[0].relative_to(ws.root).as_posix()
    try:
        text = markdown[0].read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return StoredSummary(row.session, row.authors.split(), origin, "", images,
                             "not UTF-8 text")
    return StoredSummary(row.session, row.authors.split(), origin, text, images)
