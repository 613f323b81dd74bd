"""The two files the platform writes beside a collected submission, in one place: nbgrader's
``timestamp.txt`` (the server's receipt time, in nbgrader's format) and ``receipt.json`` (which
receipt the folder holds). Students may never submit files of these names."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

__all__ = ["RECEIPT_FILE", "TIMESTAMP_FILE", "TIMESTAMP_FORMAT", "feedback_md5", "format_timestamp",
           "parse_timestamp", "read_receipt_id"]

RECEIPT_FILE = "receipt.json"
TIMESTAMP_FILE = "timestamp.txt"
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f UTC"


def format_timestamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime(TIMESTAMP_FORMAT)


def parse_timestamp(text: str) -> dt.datetime:
    return dt.datetime.strptime(text.strip(), TIMESTAMP_FORMAT).replace(tzinfo=dt.UTC)


def read_receipt_id(folder: Path) -> int | None:
    """Which receipt a collected (or autograded) folder holds; None when unknown."""
    try:
        return int(json.loads((folder / RECEIPT_FILE).read_text())["receipt_id"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def feedback_md5(content: bytes) -> str:
    """nbgrader compares feedback files by MD5; so do we (a change detector, not a security)."""
    return hashlib.md5(content, usedforsecurity=False).hexdigest()
