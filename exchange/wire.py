"""What crosses the wire between the exchange client and the service.

Requests and replies are JSON. Files travel as ``{"name": "<base64>"}`` maps with POSIX relative
names; a submission's receipt time travels as nbgrader's timestamp text (UTC), the same text
``course collect`` writes into ``timestamp.txt``.
"""

from __future__ import annotations

import base64
import binascii

from course.receipt_files import TIMESTAMP_FORMAT, feedback_md5, format_timestamp, parse_timestamp

__all__ = [
    "API",
    "TIMESTAMP_FORMAT",
    "WireError",
    "decode_files",
    "encode_files",
    "md5",
    "parse_timestamp",
    "timestamp",
]

API = "api"


class WireError(ValueError):
    """A request or reply that does not have the documented shape."""


def encode_files(files: dict[str, bytes]) -> dict[str, str]:
    return {name: base64.b64encode(content).decode("ascii") for name, content in files.items()}


def decode_files(data: object) -> dict[str, bytes]:
    if not isinstance(data, dict):
        raise WireError("'files' must be an object mapping file names to base64 contents")
    files = {}
    for name, content in data.items():
        if not isinstance(name, str) or not isinstance(content, str):
            raise WireError("'files' must map file names to base64 strings")
        try:
            files[name] = base64.b64decode(content, validate=True)
        except (binascii.Error, ValueError):
            raise WireError(f"file {name!r} is not valid base64") from None
    return files


timestamp = format_timestamp  # the receipt time, as course.collect writes timestamp.txt
md5 = feedback_md5  # nbgrader compares feedback files by MD5
