"""Summaries are Markdown: CommonMark with GitHub's tables, strikethrough, task lists and
autolinks. markdown-it parses a text once into tokens; every output format renders those tokens
(mdformat's renderer writes them back as Markdown), so no format re-parses Markdown by hand.
Raw HTML is shown as text, never passed through to a wiki page.
"""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Collection, Iterator
from urllib.parse import unquote, urlsplit

import mdformat.plugins
from markdown_it import MarkdownIt
from markdown_it.token import Token
from mdformat.renderer import MDRenderer

__all__ = ["escape", "image_refs", "local_path", "parse", "parser", "summary_problems", "walk"]

# Inside a table cell, a list item or a heading (where generated text goes), only these start
# markup; CommonMark allows a backslash before any ASCII punctuation, so escaping is always safe.
_MARKUP = set("\\`*_[]<>#|~&")


@functools.cache
def parser() -> MarkdownIt:
    """The one parser: its tokens render as HTML and MediaWiki, and as Markdown via mdformat."""
    mdit = MarkdownIt("commonmark", renderer_cls=MDRenderer)
    mdit.options["mdformat"] = {"number": True, "wrap": "keep"}
    mdit.options["parser_extension"] = []
    gfm = mdformat.plugins.PARSER_EXTENSIONS["gfm"]
    gfm.update_mdit(mdit)  # adds itself and the tables plugin to parser_extension
    if gfm not in mdit.options["parser_extension"]:
        mdit.options["parser_extension"].append(gfm)
    mdit.options["html"] = False
    return mdit


def parse(text: str) -> tuple[list[Token], dict]:
    env: dict = {}
    return parser().parse(text, env), env


def escape(text: str) -> str:
    """Text as literal Markdown, for use after a line's start (in a cell, item or heading)."""
    return "".join("\\" + char if char in _MARKUP else char for char in text)


def walk(tokens: list[Token]) -> Iterator[Token]:
    """Every token, inline children (and their children, e.g. an image's alt text) included."""
    for token in tokens:
        yield token
        if token.children:
            yield from walk(token.children)


def local_path(src: str) -> str | None:
    """A relative file name from a link or image source, or None for a URL or a path that
    leaves the summary's folder."""
    parts = urlsplit(src)
    if parts.scheme or parts.netloc or not parts.path:
        return None
    path = posixpath.normpath(unquote(parts.path))
    if path.startswith(("/", "../")) or path in (".", ".."):
        return None
    return path


def image_refs(tokens: list[Token]) -> list[tuple[str, int]]:
    """(source, 1-based line) of every image."""
    refs = []
    line = 0
    for token in walk(tokens):
        if token.map:
            line = token.map[0] + 1
        if token.type == "image":
            refs.append((str(token.attrs.get("src", "")), line))
    return refs


def _unclosed_fences(text: str, tokens: list[Token]) -> list[int]:
    lines = text.splitlines()
    unclosed = []
    for token in tokens:
        if token.type != "fence" or not token.map:
            continue
        start, end = token.map
        last = lines[end - 1].lstrip(" \t>") if end - 1 > start else ""
        if not last.startswith(token.markup):
            unclosed.append(start + 1)
    return unclosed


def summary_problems(text: str, images: Collection[str]) -> list[str]:
    """What is wrong with a summary whose handed-in images are ``images``; empty when fine."""
    if not text.strip():
        return ["the summary is empty"]
    tokens, _env = parse(text)
    problems = [f"line {line}: a code block opened here is never closed (add a closing ```)"
                for line in _unclosed_fences(text, tokens)]
    for src, line in image_refs(tokens):
        path = local_path(src)
        if path is None:
            problems.append(f"line {line}: image {src!r} is not a file handed in with the summary "
                            "(remote images and paths outside the summary are not shown)")
        elif path not in images:
            problems.append(f"line {line}: image {path!r} is missing: hand it in with the summary")
    return problems
