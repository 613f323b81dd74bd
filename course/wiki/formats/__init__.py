"""Output formats of the wiki export, by name."""

from .base import WikiFormat
from .html_site import HtmlSite
from .markdown_wiki import MarkdownWiki
from .mediawiki import MediaWiki

__all__ = ["FORMATS", "WikiFormat"]

FORMATS: dict[str, type[WikiFormat]] = {
    "markdown": MarkdownWiki,
    "mediawiki": MediaWiki,
    "html": HtmlSite,
}
