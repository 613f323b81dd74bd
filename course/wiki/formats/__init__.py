"""Output formats of the wiki export, by name.

Each format is a subclass of ``WikiFormat`` (``base``) in a module of its own, registered as an
entry point in the group ``dl_course.wiki_formats``; the built-in ones (``markdown``,
``mediawiki``, ``html``) are declared in this project's ``pyproject.toml`` exactly as a plug-in
declares its own. ``FORMATS`` is that registry: a mapping from names to classes.
"""

from ...registry import Registry
from .base import WikiFormat

__all__ = ["FORMATS", "GROUP", "WikiFormat"]

GROUP = "dl_course.wiki_formats"
FORMATS: Registry[WikiFormat] = Registry(GROUP, WikiFormat, "wiki format",
                                         first=("markdown", "mediawiki", "html"))
