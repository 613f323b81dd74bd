"""``summaries.wiki_names`` (issue 23): the wiki names students by full name (the default), by
first name or by roster id only, in every page of every format."""

import re

import pytest
from small_courses import BASE_COURSE
from wiki_fixtures import wiki_course

from commands.main import main
from course.wiki.export import export_wiki
from course.wiki.formats import FORMATS
from course.workspace import open_workspace

PAGE_SUFFIXES = (".md", ".wiki", ".html")


def exported(make_course, tmp_path, fmt, wiki_names=None):
    """Every page of the test wiki (sessions 1 and 2 by ada and ben, cleo and ada) as text."""
    ws = wiki_course(make_course)
    if wiki_names is not None:
        ws.course_file.write_text(BASE_COURSE.replace(
            "policy:", f"summaries: {{wiki_names: {wiki_names}}}\npolicy:"))
        ws = open_workspace(ws.root)
    out = tmp_path / fmt
    assert export_wiki(ws, fmt, out).problems == []
    pages = {path.name: path.read_text() for path in out.rglob("*")
             if path.suffix in PAGE_SUFFIXES}
    assert len(pages) >= 5  # index, syllabus, three sessions
    return ws.course, pages


def roster_names(course) -> set[str]:
    return {name for person in course.roster.students
            for name in (person.first_name, person.last_name) if name}


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_ids_leave_no_name_in_any_page(make_course, tmp_path, fmt):
    course, pages = exported(make_course, tmp_path, fmt, "id")
    names = roster_names(course)
    assert names == {"Ada", "Lovelace", "Ben", "Cleo"}
    for page, text in pages.items():
        found = [name for name in names if re.search(rf"\b{name}\b", text)]
        assert found == [], (page, found)
    authors = "".join(pages.values())
    assert "ada, ben" in authors and "cleo, ada" in authors


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_first_names_only(make_course, tmp_path, fmt):
    _, pages = exported(make_course, tmp_path, fmt, "first")
    text = "".join(pages.values())
    assert "Ada, Ben" in text and "Cleo, Ada" in text
    assert "Lovelace" not in text


def test_full_names_are_the_default(make_course, tmp_path):
    _, pages = exported(make_course, tmp_path, "markdown")
    assert "Ada Lovelace, Ben" in pages["Session-01.md"]


def test_an_unknown_style_is_refused_with_its_line(make_course, capsys):
    root = make_course(BASE_COURSE.replace("policy:", "summaries: {wiki_names: nick}\npolicy:"),
                       gradebook=False)
    assert main(["validate", "--course", str(root)]) == 2
    assert "summaries.wiki_names: Input should be 'full', 'first' or 'id'" in \
        capsys.readouterr().err
