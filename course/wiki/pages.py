"""The wiki as pages, independent of any output format.

A page is generated Markdown (user text escaped) plus, for a session, the students' summary.
Links between pages are written ``wiki:SLUG`` and links to attached files ``media:NAME``; each
output format maps both to its own link syntax and file layout.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from markdown_it.token import Token

from ..coursefile import Course
from ..markdown import escape, local_path, parse, summary_problems, walk
from ..summaries import StoredSummary, summary_deadline

__all__ = [
    "INDEX",
    "SYLLABUS",
    "Page",
    "index_page",
    "local_time",
    "names",
    "session_pages",
    "session_slug",
]

INDEX, SYLLABUS = "index", "syllabus"


@dataclass(frozen=True)
class Page:
    slug: str  # "index", "syllabus", "session-03"
    title: str
    markdown: str  # generated; user text escaped
    summary: str = ""  # the students' Markdown, shown with headings one level down
    files: Mapping[str, Path] = field(default_factory=dict)  # media names -> source files

    def tokens(self) -> list[Token]:
        """The page as markdown-it tokens, summary images and links to its files as media:."""
        tokens, _env = parse(self.markdown)
        if self.summary:
            summary, _env = parse(self.summary)
            tokens += _summary_tokens(summary, self.files)
        return tokens


def _summary_tokens(tokens: list[Token], files: Mapping[str, Path]) -> list[Token]:
    for token in walk(tokens):
        if token.type in ("heading_open", "heading_close"):
            level = min(int(token.tag[1]) + 1, 6)  # the page title is the only level 1
            token.tag, token.markup = f"h{level}", "#" * level
        attr = {"image": "src", "link_open": "href"}.get(token.type)
        if attr:
            path = local_path(str(token.attrs.get(attr, "")))
            if path in files:
                token.attrs[attr] = f"media:{path}"
    return tokens


def session_slug(number: int) -> str:
    return f"session-{number:02d}"


def local_time(moment: dt.datetime, course: Course, *, weekday: bool = True) -> str:
    local = moment.astimezone(course.zone)
    return f"{local:{'%a ' if weekday else ''}%Y-%m-%d %H:%M} {local.tzname()}"


def names(course: Course, student_ids: Sequence[str]) -> str:
    """The students as the wiki names them (``summaries.wiki_names``): ``full`` their first and
    last name, ``first`` their first name, ``id`` their roster id, so that no name is
    published; a student without that name in the roster, or not in it, by id."""
    style = course.summaries.wiki_names
    people = {person.id: person for person in course.roster.students}

    def shown(student: str) -> str:
        person = people.get(student)
        if person is None or style == "id":
            return student
        return (person.first_name if style == "first" else person.name) or student

    return ", ".join(shown(student) for student in student_ids) or "nobody yet"


def _session_title(course: Course, number: int) -> str:
    topic = course.sessions[number - 1].topic
    return f"Session {number}: {topic}" if topic else f"Session {number}"


def _nav(course: Course, number: int) -> str:
    links = []
    if number > 1:
        links.append(f"[← Session {number - 1}](wiki:{session_slug(number - 1)})")
    links.append(f"[{escape(course.title)}](wiki:{INDEX})")
    links.append(f"[Syllabus](wiki:{SYLLABUS})")
    if number < len(course.sessions):
        links.append(f"[Session {number + 1} →](wiki:{session_slug(number + 1)})")
    return " · ".join(links)


def _summary_problem(course: Course, summary: StoredSummary) -> str:
    if summary.session > len(course.sessions):
        return (f"{summary.origin}: session {summary.session} is not in the course "
                f"(it has {len(course.sessions)} sessions)")
    if summary.unreadable:
        return f"{summary.origin}: {summary.unreadable}"
    roster = {person.id for person in course.roster.students}
    strangers = [author for author in summary.authors if author not in roster]
    if strangers:
        return f"{summary.origin}: author {strangers[0]!r} is not in the course roster"
    problems = summary_problems(summary.text, summary.images)
    return f"{summary.origin}: {'; '.join(problems)}" if problems else ""


def session_pages(course: Course, summaries: Mapping[int, StoredSummary],
                  plan: Mapping[int, Sequence[str]]) -> tuple[list[Page], dict[str, str]]:
    """One page per session; and, by page slug, why a summary cannot be published. Such a page
    is left out, so that a previous export of it stays as it was."""
    problems = {}
    usable = {}
    for number, summary in sorted(summaries.items()):
        problem = _summary_problem(course, summary)
        if problem:
            problems[session_slug(number)] = problem
        else:
            usable[number] = summary
    pages = []
    for number, session in enumerate(course.sessions, start=1):
        if number in summaries and number not in usable:
            continue
        summary = usable.get(number)
        authors = summary.authors if summary else plan.get(number, [])
        lines = [
            _nav(course, number),
            "",
            f"- **Date:** {local_time(session.starts_at(course.zone), course)}"
            if session.start else f"- **Date:** {session.date:%a %Y-%m-%d}",
            f"- **Topic:** {escape(session.topic or '–')}",
            f"- **Summary by:** {escape(names(course, authors))}",
            "",
        ]
        if summary is None:
            due = local_time(summary_deadline(course, number), course)
            lines.append(f"*The summary is due {escape(due)}.*")
        pages.append(Page(session_slug(number), _session_title(course, number),
                          "\n".join(lines) + "\n", summary.text if summary else "",
                          dict(summary.images) if summary else {}))
    return pages, problems


def index_page(course: Course, summaries: Mapping[int, StoredSummary],
               plan: Mapping[int, Sequence[str]]) -> Page:
    rows = ["| # | Date | Topic | Summary by |", "|---|---|---|---|"]
    for number, session in enumerate(course.sessions, start=1):
        summary = summaries.get(number)
        authors = names(course, summary.authors if summary else plan.get(number, []))
        state = "" if summary else " (pending)"
        rows.append(f"| {number} | {session.date:%a %Y-%m-%d} | "
                    f"[{escape(session.topic or f'Session {number}')}](wiki:{session_slug(number)})"
                    f" | {escape(authors)}{state} |")
    markdown = "\n".join([
        f"Course wiki of **{escape(course.title)}** (times in {escape(course.timezone)}).",
        "",
        f"- [Syllabus](wiki:{SYLLABUS}): sessions, topics, assignments and deadlines",
        "",
        "## Sessions",
        "",
        *rows,
        "",
    ])
    return Page(INDEX, course.title, markdown)
