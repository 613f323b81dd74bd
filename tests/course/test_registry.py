"""Parts chosen by name through entry points (course/registry.py): the order they are listed
in, what an unknown or broken one does, and the wiki formats registered like the others."""

from __future__ import annotations

import pytest
from plugin_dists import plugin_installer
from wiki_fixtures import snapshot, wiki_course

from course.errors import UserError
from course.lms import GROUP as LMS_GROUP
from course.lms import LMS_FORMATS
from course.registry import Registry, one_of
from course.wiki.export import export_wiki
from course.wiki.formats import FORMATS, GROUP, WikiFormat
from course.wiki.formats.markdown_wiki import MarkdownWiki


@pytest.fixture
def install_plugin(tmp_path, monkeypatch):
    yield from plugin_installer(tmp_path, monkeypatch)


def test_choices_as_a_message_names_them():
    assert one_of(["missed", "accepted"]) == "'missed' or 'accepted'"
    assert one_of(["a", "b", "c"]) == "'a', 'b' or 'c'"
    assert one_of(["a"]) == "'a'"
    assert one_of([]) == "nothing (none is installed)"


def test_an_empty_group_lists_nothing_and_refuses_every_name():
    registry = Registry("dl_course.tests_nothing_here", WikiFormat, "test part")
    assert list(registry) == [] and "markdown" not in registry
    with pytest.raises(UserError, match="unknown test part 'markdown': choose one of $"):
        registry["markdown"]
    with pytest.raises(KeyError):  # a Mapping: .get() and `in` work as on a dict
        registry["markdown"]
    assert registry.get("markdown") is None


def test_first_names_lead_then_the_installed_order_and_the_first_dist_wins(install_plugin):
    install_plugin("wiki-one", modules={"wiki_one": "from course.wiki.formats.markdown_wiki "
                                                    "import MarkdownWiki as Mine\n"},
                   entry_points={GROUP: {"zeta": "wiki_one:Mine", "alpha": "wiki_one:Mine",
                                         "markdown": "wiki_one:Mine"}})
    names = list(FORMATS)
    assert names[:3] == ["markdown", "mediawiki", "html"]
    assert sorted(names[3:]) == ["alpha", "zeta"] and len(names) == 5  # one "markdown"
    assert FORMATS["markdown"] is MarkdownWiki  # this project is found first on the path
    assert FORMATS["alpha"] is MarkdownWiki


def test_a_broken_plug_in_breaks_only_itself(install_plugin):
    install_plugin("broken", modules={},
                   entry_points={LMS_GROUP: {"blackboard": "no_such_module:Blackboard"}})
    assert "blackboard" in LMS_FORMATS  # listing names imports nothing
    assert LMS_FORMATS["csv"].name == "csv"
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        LMS_FORMATS["blackboard"]


PLAIN_TEXT = '''
    from course.wiki.formats import WikiFormat

    class PlainText(WikiFormat):
        name = "text"

        def page_file(self, slug):
            return f"{slug}.txt"

        def render(self, page, pages):
            return f"{page.title}\\n" + "".join(f"- {p.title}\\n" for p in pages)
'''


def test_a_new_wiki_format_is_one_class_and_one_entry_point(make_course, tmp_path,
                                                            install_plugin):
    ws = wiki_course(make_course)
    with pytest.raises(UserError, match=r"unknown wiki format 'text' \(known: markdown, "
                                        r"mediawiki, html\)"):
        export_wiki(ws, "text", tmp_path / "txt")
    install_plugin("wiki-text", modules={"wiki_text": PLAIN_TEXT},
                   entry_points={GROUP: {"text": "wiki_text:PlainText"}})
    report = export_wiki(ws, "text", tmp_path / "txt")
    assert report.problems == [] and report.index == tmp_path / "txt" / "index.txt"
    files = set(snapshot(tmp_path / "txt"))
    assert {"index.txt", "syllabus.txt", "session-01.txt", "media/session-01/board.png"} < files
    assert (tmp_path / "txt" / "session-01.txt").read_text().startswith("Session 1: Intro\n- ")
