"""Markdown pages for a GitHub or GitLab wiki (a git repository of ``.md`` files) or a static
site generator: ``Home.md`` is the index, other pages are linked by name without extension,
which both wikis resolve, and attached files sit under ``media/<page>/``."""

from __future__ import annotations

from collections.abc import Sequence

from ...markdown import escape, parser
from ..pages import INDEX, Page
from .base import WikiFormat

__all__ = ["MarkdownWiki"]


class MarkdownWiki(WikiFormat):
    name = "markdown"

    def page_file(self, slug: str) -> str:
        return f"{self.page_href(slug)}.md"

    def page_href(self, slug: str) -> str:
        return "Home" if slug == INDEX else slug.capitalize()

    def render(self, page: Page, pages: Sequence[Page]) -> str:
        mdit = parser()  # its renderer is mdformat's: tokens back to Markdown
        body = mdit.renderer.render(self.retarget(page), mdit.options, {})
        return f"# {escape(page.title)}\n\n{body}"
