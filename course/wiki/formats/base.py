"""What an output format of the wiki export provides."""

from __future__ import annotations

from collections.abc import Sequence

from markdown_it.token import Token

from ...coursefile import Course
from ...markdown import walk
from ..pages import Page

__all__ = ["WikiFormat"]


class WikiFormat:
    """One output format. Subclasses say where a page's file goes (``page_file``), where a file
    attached to a page goes (``media_file``), how pages link to each other (``page_href``), and
    render a page (``render``); all paths are relative to the export folder, and pages sit at
    its top so that relative links resolve the same in a wiki and on a static site."""

    name = ""

    def __init__(self, course: Course):
        self.course = course

    def page_file(self, slug: str) -> str:
        raise NotImplementedError

    def page_href(self, slug: str) -> str:
        return self.page_file(slug)

    def media_file(self, slug: str, name: str) -> str:
        return f"media/{slug}/{name}"

    def render(self, page: Page, pages: Sequence[Page]) -> str:
        raise NotImplementedError

    def retarget(self, page: Page) -> list[Token]:
        """The page's tokens with ``wiki:`` and ``media:`` targets replaced by relative paths."""
        tokens = page.tokens()
        for token in walk(tokens):
            attr = {"image": "src", "link_open": "href"}.get(token.type)
            target = str(token.attrs.get(attr, "")) if attr else ""
            if target.startswith("wiki:"):
                token.attrs[attr] = self.page_href(target.removeprefix("wiki:"))
            elif target.startswith("media:"):
                token.attrs[attr] = self.media_file(page.slug, target.removeprefix("media:"))
        return tokens
