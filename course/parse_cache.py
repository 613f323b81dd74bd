"""A cache of parsed course files, by content: parsing YAML is most of what a read-only command
costs on a big roster (0.3 s for 500 students), and the file rarely changes between commands.

An entry is the plain data (JSON) that the YAML text parses to, before any checking; it is
keyed by the text and by this package's parsing code, so an edit to either misses. Entries
live in the user's cache folder (``$XDG_CACHE_HOME``, else ``~/.cache``), never beside the
course file, and a cache that cannot be read or written is simply not used.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any

KEEP = 32  # entries kept; one per version of a course file, about 100 KB for 500 students
_PARSER_FILES = ("coursefile.py", "parse_cache.py")


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dl-course-platform" / "course-files"


def _key(text: str) -> str:
    digest = hashlib.sha256()
    here = Path(__file__).parent
    for name in _PARSER_FILES:  # the code that turns text into data is part of the key
        digest.update((here / name).read_bytes())
    digest.update(b"\0")
    digest.update(text.encode("utf-8"))
    return digest.hexdigest()


def lookup(text: str) -> dict[str, Any] | None:
    """The plain data ``text`` parsed to before, or None."""
    try:
        entry = cache_dir() / f"{_key(text)}.json"
        data = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def store(text: str, data: dict[str, Any]) -> None:
    """Remember what ``text`` parsed to, when the data survives JSON unchanged."""
    try:
        encoded = json.dumps(data, ensure_ascii=False)
        if json.loads(encoded) != data:  # e.g. a YAML set or binary: not worth a cache entry
            return
        folder = cache_dir()
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        target = folder / f"{_key(text)}.json"  # replaced if there: a damaged entry heals
        with tempfile.NamedTemporaryFile("w", encoding="utf-8", dir=folder, suffix=".tmp",
                                         delete=False) as out:
            out.write(encoded)
        os.replace(out.name, target)
        _prune(folder)
    except (OSError, TypeError, ValueError):
        return


def _prune(folder: Path) -> None:
    entries = sorted(folder.glob("*.json"), key=lambda p: p.stat().st_mtime, reverse=True)
    for old in entries[KEEP:]:
        old.unlink(missing_ok=True)
