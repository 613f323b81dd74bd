"""Import-time work the grading processes skip; ``course.grade`` imports this module before
nbformat or nbgrader, so the command, its pool workers and Celery's workers all get it.

jsonschema, which nbformat imports, compiles an Earley parser for each rule of RFC 3987 when the
optional ``rfc3987-syntax`` package is installed (jupyter-events asks for it): 1.3 s of CPU in
every process, paid again by each worker. Those parsers check only the ``iri`` and
``iri-reference`` formats. nbformat and nbgrader validate without a format checker, so formats
are never checked there; without the package jsonschema leaves those two formats unchecked, as it
does wherever the package is not installed.
"""

from __future__ import annotations

import sys

# None in sys.modules makes ``import rfc3987_syntax`` raise ImportError, which jsonschema
# expects for an optional package; a copy imported before this stays as it is
sys.modules.setdefault("rfc3987_syntax", None)
