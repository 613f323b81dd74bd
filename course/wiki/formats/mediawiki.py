"""MediaWiki markup, rendered from markdown-it's tokens (never by rewriting Markdown text).

Each page is a ``<Title>.wiki`` file whose name is its page title (spaces as ``_``), ready for
``maintenance/importTextFiles.php``; attached files sit beside the pages under wiki-wide unique
names, ready for ``maintenance/importImages.php``. Titles start with the course id so several
courses can share one wiki. Text is escaped with character entities, which MediaWiki decodes
everywhere, so no student text can turn into markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from markdown_it.token import Token

from ..pages import INDEX, Page
from .base import WikiFormat

__all__ = ["MediaWiki", "escape_wikitext"]

_ENTITIES = str.maketrans({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", "[": "&#91;", "]": "&#93;", "{": "&#123;",
    "}": "&#125;", "|": "&#124;", "'": "&#39;", "~": "&#126;", "!": "&#33;",
})
_LINE_START = {"*": "&#42;", "#": "&#35;", ":": "&#58;", ";": "&#59;", "=": "&#61;",
               "-": "&#45;", " ": "&#32;"}
_URL_SCHEMES = ("http", "https", "mailto", "ftp")


def escape_wikitext(text: str) -> str:
    return text.translate(_ENTITIES).replace("__", "&#95;&#95;")  # __TOC__ and friends


def _escape_pre(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _line_start_safe(text: str) -> str:
    """A line must not start with list, heading, rule or preformat markup."""
    return _LINE_START[text[0]] + text[1:] if text and text[0] in _LINE_START else text


class MediaWiki(WikiFormat):
    name = "mediawiki"

    def page_title(self, slug: str) -> str:
        if slug == INDEX:
            return self.course.id
        return f"{self.course.id} {slug.replace('-', ' ').capitalize()}"

    def page_file(self, slug: str) -> str:
        return self.page_title(slug).replace(" ", "_") + ".wiki"

    def media_file(self, slug: str, name: str) -> str:
        return f"{self.course.id}_{slug}_{name.replace('/', '_')}"

    def render(self, page: Page, pages: Sequence[Page]) -> str:
        return _Wikitext(self, page).blocks(page.tokens()).strip() + "\n"


class _Wikitext:
    def __init__(self, fmt: MediaWiki, page: Page):
        self.fmt, self.page = fmt, page

    # ---- blocks ----
    def blocks(self, tokens: list[Token]) -> str:
        out: list[str] = []
        lists: list[str] = []  # "*" or "#" per open list
        item_has_text = False
        for token in tokens:
            kind = token.type
            if kind == "heading_open":
                out.append("=" * int(token.tag[1]) + " ")
            elif kind == "heading_close":
                out.append(" " + "=" * int(token.tag[1]) + "\n\n")
            elif kind == "inline":
                text = self.inline(token.children or [])
                if lists:
                    out.append(("<br />" if item_has_text else "") + text)
                    item_has_text = True
                else:
                    out.append(_line_start_safe(text))
            elif kind == "paragraph_close" and not lists:
                out.append("\n\n")
            elif kind in ("bullet_list_open", "ordered_list_open"):
                lists.append("*" if kind == "bullet_list_open" else "#")
            elif kind in ("bullet_list_close", "ordered_list_close"):
                lists.pop()
                if not lists:
                    out.append("\n\n")
            elif kind == "list_item_open":
                if out and not out[-1].endswith("\n"):
                    out.append("\n")
                out.append("".join(lists) + " ")
                item_has_text = False
            elif kind in ("fence", "code_block"):
                out.append(f"<pre>{_escape_pre(token.content.rstrip(chr(10)))}</pre>")
                out.append("" if lists else "\n\n")
            elif kind == "blockquote_open":
                out.append("<blockquote>\n")
            elif kind == "blockquote_close":
                out.append("</blockquote>\n\n")
            elif kind == "hr":
                out.append("----\n\n")
            elif kind == "table_open":
                out.append('{| class="wikitable"\n')
            elif kind == "tr_open":
                out.append("|-\n")
            elif kind in ("th_open", "td_open"):
                style = token.attrs.get("style")
                out.append(("! " if kind == "th_open" else "| ")
                           + (f'style="{style}" | ' if style else ""))
            elif kind in ("th_close", "td_close"):
                out.append("\n")
            elif kind == "table_close":
                out.append("|}\n\n")
            elif kind in ("html_block",):
                out.append(escape_wikitext(token.content) + "\n\n")
        return "".join(out)

    # ---- inline ----
    def inline(self, tokens: list[Token]) -> str:
        out: list[str] = []
        link_stack: list[tuple[str, int]] = []  # (href, where its text starts in out)
        simple = {"em_open": "''", "em_close": "''", "strong_open": "'''",
                  "strong_close": "'''", "s_open": "<s>", "s_close": "</s>",
                  "softbreak": " ", "hardbreak": "<br />"}
        for token in tokens:
            kind = token.type
            if kind in simple:
                out.append(simple[kind])
            elif kind == "text":
                out.append(escape_wikitext(token.content))
            elif kind == "code_inline":
                out.append(f"<code>{escape_wikitext(token.content)}</code>")
            elif kind == "image":
                out.append(self.image(token))
            elif kind == "html_inline":
                out.append(self.html_inline(token.content))
            elif kind == "link_open":
                link_stack.append((str(token.attrs.get("href", "")), len(out)))
            elif kind == "link_close" and link_stack:
                href, start = link_stack.pop()
                text = "".join(out[start:])
                del out[start:]
                out.append(self.link(href, text))
        return "".join(out)

    def link(self, href: str, text: str) -> str:
        if href.startswith("wiki:"):
            return f"[[{self.fmt.page_title(href.removeprefix('wiki:'))}|{text}]]"
        if href.startswith("media:"):
            name = self.fmt.media_file(self.page.slug, href.removeprefix("media:"))
            return f"[[Media:{name}|{text}]]"
        if urlsplit(href).scheme in _URL_SCHEMES:
            url = href.replace("[", "%5B").replace("]", "%5D").replace(" ", "%20")
            return f"[{url} {text}]"
        if href.startswith("#"):
            return f"[[{escape_wikitext(href)}|{text}]]"
        return text  # a relative link to nothing that was exported: keep the words

    def image(self, token: Token) -> str:
        src = str(token.attrs.get("src", ""))
        alt = escape_wikitext(token.content)
        if src.startswith("media:"):
            name = self.fmt.media_file(self.page.slug, src.removeprefix("media:"))
            return f"[[File:{name}|thumb|none|{alt}]]"
        return alt

    @staticmethod
    def html_inline(content: str) -> str:
        if "task-list-item-checkbox" in content:  # GitHub task lists: [x] and [ ]
            return "☑" if "checked" in content else "☐"
        return escape_wikitext(content)
