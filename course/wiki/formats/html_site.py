"""A self-contained static site: one HTML file per page with its style inline, images and
notebooks beside them, relative links only, so it works from any folder or web server."""

from __future__ import annotations

import html
from collections.abc import Sequence

from markdown_it.renderer import RendererHTML

from ...markdown import parser
from ..pages import INDEX, SYLLABUS, Page
from .base import WikiFormat

__all__ = ["HtmlSite"]

STYLE = """\
body{font-family:system-ui,sans-serif;line-height:1.5;margin:0;color:#222;background:#fff}
nav{background:#2d4a6b;padding:.6em 2em}nav a{color:#fff;margin-right:1.5em;text-decoration:none}
main{max-width:50em;margin:1.5em auto;padding:0 1.5em}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px}
th{background:#eef2f7}img{max-width:100%;border:1px solid #ddd}
pre{background:#f5f5f5;padding:.8em;overflow-x:auto}code{background:#f5f5f5}
blockquote{border-left:4px solid #ccd;margin-left:0;padding-left:1em;color:#555}"""


class HtmlSite(WikiFormat):
    name = "html"

    def page_file(self, slug: str) -> str:
        return f"{slug}.html"

    def render(self, page: Page, pages: Sequence[Page]) -> str:
        esc = html.escape
        body = RendererHTML().render(self.retarget(page), parser().options, {})
        course = esc(self.course.title)
        title = esc(page.title) if page.slug == INDEX else f"{esc(page.title)} · {course}"
        nav = (f'<a href="{self.page_href(INDEX)}">{course}</a>'
               f'<a href="{self.page_href(SYLLABUS)}">Syllabus</a>')
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
{STYLE}
</style>
</head>
<body>
<nav>{nav}</nav>
<main>
<h1>{esc(page.title)}</h1>
{body}</main>
</body>
</html>
"""
