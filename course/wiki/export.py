"""``course wiki export``: gather the pages, render them in one format, write them to a folder.

Re-running updates the folder in place: a file is rewritten only when its bytes change, files
that an earlier export wrote and this one no longer produces are removed (and nothing else: the
folder may be a wiki's git clone), and every file appears whole (written aside, then renamed).
A page whose summary cannot be published is reported and left as the last export wrote it.
Exporting publishes the summary rota, so it announces it (``summary_rota.record_rota``).
"""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select

from .. import calendar
from ..errors import UserError
from ..gradebook import Release
from ..summaries import latest_summaries, read_summary
from ..summary_rota import Vacancy, current_rota, record_rota
from ..workspace import Workspace
from .formats import FORMATS
from .pages import INDEX, Page, index_page, session_pages
from .syllabus import syllabus_page

__all__ = ["MANIFEST", "ExportReport", "export_wiki", "gather_pages"]

MANIFEST = ".course-wiki.json"


@dataclass(frozen=True)
class ExportReport:
    out: Path
    index: Path
    written: list[str]  # files whose content changed
    files: list[str]  # every file the export now holds
    problems: list[str]
    vacancies: list[Vacancy] = field(default_factory=list)  # summary slots refilled now


def gather_pages(ws: Workspace, *, now: dt.datetime | None = None,
                 ) -> tuple[list[Page], dict[str, str], list[Vacancy]]:
    """Index, syllabus and session pages; by page slug, the summaries that could not be
    published; and the summary slots refilled. With ``now`` the rota is recorded (announced,
    refills recorded) at that instant; without, only read."""
    course = ws.course
    with ws.gradebook() as gb:
        rows = latest_summaries(gb)
        if now is None:
            rota = current_rota(course, gb)
        else:
            rota = record_rota(course, gb, now=now)
            gb.commit()
        plan = rota.plan
        released = set(gb.session.scalars(select(Release.assignment_id)))
    summaries = {number: read_summary(ws, row) for number, row in rows.items()}
    notebooks = {
        assignment.id: sorted((ws.root / "release" / assignment.id).glob("*.ipynb"))
        for assignment in course.assignments if assignment.id in released
    }
    sessions, problems = session_pages(course, summaries, plan)
    published = {page.slug for page in sessions}
    listed = {n: s for n, s in summaries.items() if f"session-{n:02d}" in published}
    return ([index_page(course, listed, plan), syllabus_page(course, notebooks), *sessions],
            problems, rota.vacancies)


def _read_manifest(out: Path, fmt: str) -> dict[str, list[str]]:
    path = out / MANIFEST
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError):
        raise UserError(f"{path}: not a wiki export manifest; remove it or pick another --out")
    if data.get("format") != fmt:
        raise UserError(f"{out} holds a {data.get('format')!r} export; "
                        f"write the {fmt!r} export to another folder")
    return data.get("pages", {})


def _write_if_changed(path: Path, content: bytes) -> bool:
    if path.is_file() and path.read_bytes() == content:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(content)
    os.replace(tmp, path)
    return True


def _remove_stale(out: Path, stale: set[str]) -> None:
    for name in sorted(stale):
        path = out / name
        path.unlink(missing_ok=True)
        for parent in path.parents:  # drop folders the export emptied, never the export itself
            if parent == out or not parent.is_relative_to(out) or any(parent.iterdir()):
                break
            parent.rmdir()


def export_wiki(ws: Workspace, fmt: str, out: Path, *,
                now: dt.datetime | None = None) -> ExportReport:
    """Write the wiki in ``fmt`` to ``out``; the rota it publishes is recorded at ``now``
    (default: the clock)."""
    if fmt not in FORMATS:
        raise UserError(f"unknown wiki format {fmt!r} (known: {', '.join(FORMATS)})")
    out = Path(out).resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"{out} is not a folder")
    old = _read_manifest(out, fmt)
    writer = FORMATS[fmt](ws.course)
    pages, problems, vacancies = gather_pages(ws, now=now or calendar.utcnow())
    # a page left out for a problem keeps the files its last export wrote
    manifest = {slug: files for slug, files in old.items() if slug in problems}
    written = []
    for page in pages:
        files = {writer.page_file(page.slug): writer.render(page, pages).encode("utf-8")}
        for name, source in page.files.items():
            files[writer.media_file(page.slug, name)] = source.read_bytes()
        for name, content in sorted(files.items()):
            if _write_if_changed(out / name, content):
                written.append(name)
        manifest[page.slug] = sorted(files)
    current = {name for names in manifest.values() for name in names}
    _remove_stale(out, {name for names in old.values() for name in names} - current)
    _write_if_changed(out / MANIFEST, (json.dumps({"format": fmt, "pages": dict(sorted(
        manifest.items()))}, indent=1) + "\n").encode())
    return ExportReport(out, out / writer.page_file(INDEX), written, sorted(current),
                        list(problems.values()), vacancies)
