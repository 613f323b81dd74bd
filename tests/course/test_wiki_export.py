"""Wiki export in all three formats: content, links that resolve, idempotent re-export, and
summaries that cannot be published reported while every other page is still written."""


import pytest
import sqlalchemy as sa
from bs4 import BeautifulSoup
from markdown_it import MarkdownIt
from small_courses import BASE_COURSE
from wiki_fixtures import snapshot, wiki_course

from commands.main import main
from course.gradebook import SessionSummary
from course.wiki.export import MANIFEST, export_wiki
from course.wiki.formats.mediawiki import escape_wikitext


def export(ws, fmt, out):
    return export_wiki(ws, fmt, out)


def test_markdown_pages_link_to_files_that_exist(make_course, tmp_path):
    ws = wiki_course(make_course)
    out = tmp_path / "md"
    report = export(ws, "markdown", out)
    assert report.problems == [] and report.index == out / "Home.md"
    files = set(snapshot(out))
    assert {"Home.md", "Syllabus.md", "Session-01.md", "Session-02.md", "Session-03.md",
            "media/session-01/board.png", "media/syllabus/01-numpy/numpy-basics.ipynb",
            MANIFEST} == files
    md = MarkdownIt("commonmark").enable("table")
    for page in out.glob("*.md"):
        tokens = md.parse(page.read_text())
        for token in (t for block in tokens for t in (block.children or [])):
            target = token.attrs.get("href") or token.attrs.get("src")
            if target and "://" not in target:
                # wiki-style page links have no extension; files are linked by path
                assert (out / f"{target}.md").is_file() or (out / target).is_file(), target
        assert sum(t.type == "heading_open" and t.tag == "h1" for t in tokens) == 1
    session = (out / "Session-01.md").read_text()
    assert session.startswith("# Session 1: Intro\n")
    assert "## Key topics" in session and "### Results" in session  # one level below the title
    assert "![The board](media/session-01/board.png)" in session
    assert "Ada Lovelace, Ben" in session and "Tue 2026-10-20 10:15 CEST" in session
    syllabus = (out / "Syllabus.md").read_text()
    assert "Sun 2026-10-25 18:00 CET" in syllabus and "Sun 2026-11-01 18:00 CET" in syllabus
    assert "[numpy-basics.ipynb](media/syllabus/01-numpy/numpy-basics.ipynb)" in syllabus
    assert "not released yet" in syllabus  # 02-linreg
    assert "*The summary is due Fri 2026-11-06 12:00 CET.*" in (out / "Session-03.md").read_text()


def test_mediawiki_markup_escapes_text_and_names_uploads(make_course, tmp_path):
    ws = wiki_course(make_course)
    out = tmp_path / "mw"
    export(ws, "mediawiki", out)
    files = set(snapshot(out))
    assert {"dl-test.wiki", "dl-test_Syllabus.wiki", "dl-test_Session_01.wiki",
            "dl-test_session-01_board.png", "dl-test_syllabus_01-numpy_numpy-basics.ipynb"} < files
    page = (out / "dl-test_Session_01.wiki").read_text()
    assert "== Key topics ==" in page and "=== Results ===" in page
    assert "* The perceptron ''update rule'', with <code>w += lr * y * x</code>" in page
    assert "[[File:dl-test_session-01_board.png|thumb|none|The board]]" in page
    assert '{| class="wikitable"' in page and "|}" in page
    assert "<pre>print(&quot;ok&quot;)</pre>" in page or '<pre>print("ok")</pre>' in page
    # nothing a student wrote becomes markup
    for raw in ("[[Main Page]]", "{{delete}}", "''not italic''", "<script>", "~~~~"):
        assert raw not in page
    assert escape_wikitext("[[Main Page]]") in page and "&lt;script&gt;" in page
    titles = {name.removesuffix(".wiki").replace("_", " ") for name in files
              if name.endswith(".wiki")}
    for wiki_page in out.glob("*.wiki"):
        text = wiki_page.read_text()
        for link in text.split("[[")[1:]:
            target = link.split("|")[0].split("]]")[0]
            if target.startswith(("File:", "Media:")):
                assert target.split(":", 1)[1] in files
            else:
                assert target in titles, target
    syllabus = (out / "dl-test_Syllabus.wiki").read_text()
    assert "[[Media:dl-test_syllabus_01-numpy_numpy-basics.ipynb|numpy-basics.ipynb]]" in syllabus


def test_html_site_is_self_contained_and_its_links_resolve(make_course, tmp_path):
    ws = wiki_course(make_course)
    out = tmp_path / "html"
    export(ws, "html", out)
    pages = sorted(out.glob("*.html"))
    assert [p.name for p in pages] == ["index.html", "session-01.html", "session-02.html",
                                       "session-03.html", "syllabus.html"]
    for page in pages:
        soup = BeautifulSoup(page.read_text(), "html.parser")
        assert soup.title.string and soup.h1.string and soup.find("meta", charset="utf-8")
        assert not soup.find("script") and not soup.find("link")  # no external resources
        for tag, attr in (("a", "href"), ("img", "src")):
            for element in soup.find_all(tag):
                target = element[attr]
                if not target.startswith(("http://", "https://")):
                    assert (out / target).is_file(), (page.name, target)
    session = BeautifulSoup((out / "session-01.html").read_text(), "html.parser")
    assert session.h1.string == "Session 1: Intro"
    assert [h.string for h in session.find_all("h2")] == ["Key topics"]
    assert session.find("img")["src"] == "media/session-01/board.png"
    assert session.find("img")["alt"] == "The board"
    assert "<script>alert(1)</script>" in session.get_text()  # shown as text, never run
    cells = [td.get_text() for td in session.find_all("td")]
    assert cells == ["perceptron", "0.91"]
    index = BeautifulSoup((out / "index.html").read_text(), "html.parser")
    rows = [[td.get_text() for td in tr.find_all("td")] for tr in index.find_all("tr")[1:]]
    assert rows[0] == ["1", "Tue 2026-10-20", "Intro", "Ada Lovelace, Ben"]
    assert rows[1] == ["2", "Tue 2026-10-27", "MLP", "Cleo, Ada Lovelace"]
    assert rows[2][3].endswith("(pending)")


@pytest.mark.parametrize("fmt", ["markdown", "mediawiki", "html"])
def test_reexport_is_byte_identical_with_no_extra_files(make_course, db_url, tmp_path, fmt):
    ws = wiki_course(make_course, db_url)
    out = tmp_path / fmt
    first = export(ws, fmt, out)
    before = snapshot(out)
    mtimes = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    second = export(ws, fmt, out)
    assert snapshot(out) == before and second.written == [] and first.written
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == mtimes  # nothing rewritten


def test_reexport_updates_in_place_and_leaves_other_files_alone(make_course, tmp_path, capsys):
    ws = wiki_course(make_course)
    out = tmp_path / "md"
    (out / ".git").mkdir(parents=True)
    (out / ".git" / "config").write_text("[core]\n")
    (out / "Notes.md").write_text("someone else's page\n")
    assert main(["wiki", "export", "--format", "markdown", "--out", str(out),
                 "--course", str(ws.course_file)]) == 0
    assert "start at" in capsys.readouterr().out
    from course.summaries import receive_summary

    with ws.gradebook() as gb:  # a new version of session 1's summary, without the image
        receive_summary(ws, gb, 1, {"summary.md": b"# Rewritten\n"}, submitted_by="ina")
    report = export(ws, "markdown", out)
    assert "Session-01.md" in report.written and "Syllabus.md" not in report.written
    page = (out / "Session-01.md").read_text()
    assert "\n## Rewritten\n" in page and "\n# Rewritten" not in page  # one level down
    assert not (out / "media" / "session-01").exists()  # the image is gone, and its folder
    assert (out / "Notes.md").read_text() == "someone else's page\n"
    assert (out / ".git" / "config").is_file()
    assert sorted(p.name for p in out.glob("*.md")).count("Session-01.md") == 1


def test_a_folder_holds_one_format(make_course, tmp_path):
    ws = wiki_course(make_course)
    export(ws, "html", tmp_path / "site")
    with pytest.raises(Exception, match="holds a 'html' export"):
        export(ws, "markdown", tmp_path / "site")


def break_markdown(ws):
    path = next((ws.root / "summaries" / "01").rglob("summary.md"))
    path.write_text("# Broken\n\n```python\nx = 1\n")
    return "summaries/01/", "line 3: a code block opened here is never closed"


def break_image(ws):
    next((ws.root / "summaries" / "01").rglob("board.png")).unlink()
    return "summaries/01/", "line 12: image 'board.png' is missing"


def break_session(ws):
    engine = sa.create_engine(ws.db_url)
    with engine.begin() as conn:
        conn.execute(sa.update(SessionSummary.__table__).where(
            SessionSummary.__table__.c.session == 2).values(session=9))
    engine.dispose()
    return "summaries/02/", "session 9 is not in the course (it has 3 sessions)"


def break_author(ws):
    text = ws.course_file.read_text().replace("    - {id: ben, first_name: Ben}\n", "")
    ws.course_file.write_text(text)
    return "summaries/01/", "author 'ben' is not in the course roster"


@pytest.mark.parametrize("breaker", [break_markdown, break_image, break_session, break_author])
@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_a_broken_summary_is_named_and_every_other_page_is_written(make_course, tmp_path, capsys,
                                                                   breaker, fmt):
    ws = wiki_course(make_course)
    out = tmp_path / fmt
    export(ws, fmt, out)
    before = snapshot(out)
    where, message = breaker(ws)
    code = main(["wiki", "export", "--format", fmt, "--out", str(out),
                 "--course", str(ws.course_file)])
    err = capsys.readouterr().err
    assert code == 2 and message in err and where in err
    assert "every other page was written" in err
    after = snapshot(out)
    index = "Home.md" if fmt == "markdown" else "index.html"
    syllabus = "Syllabus.md" if fmt == "markdown" else "syllabus.html"
    session1 = "Session-01.md" if fmt == "markdown" else "session-01.html"
    session3 = "Session-03.md" if fmt == "markdown" else "session-03.html"
    assert index in after and syllabus in after and session3 in after
    if breaker is not break_session:  # session 1's page stays as the last export wrote it
        assert after[session1] == before[session1]
        assert after.get("media/session-01/board.png") == before["media/session-01/board.png"]


def test_a_second_course_file_key_changes_the_pages(make_course, tmp_path):
    ws = wiki_course(make_course)
    text = BASE_COURSE.replace("policy:", 'summaries: {per_session: 1, deadline: '
                                          '{weekday: thursday, time: "09:30"}}\npolicy:')
    ws.course_file.write_text(text)
    from course.workspace import open_workspace

    out = tmp_path / "md"
    export(open_workspace(ws.root), "markdown", out)
    assert "*The summary is due Thu 2026-11-05 09:30 CET.*" in (out / "Session-03.md").read_text()
    assert "due Thursday 09:30 after the session" in (out / "Syllabus.md").read_text()
