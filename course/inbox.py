"""Receiving submissions: the server's side of "submit".

Every submission is kept (history, not overwrite) under ``inbox/<assignment>/<student>/`` and
recorded in the gradebook with the receiving side's clock, its content hash and size. Whatever a
client says about time is stored for information only. A submission becomes visible in one
``rename``: a crash leaves at most a ``.partial`` folder that nothing reads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from pathlib import Path, PurePosixPath

from .calendar import utcnow
from .errors import UserError
from .folders import write_folder
from .gradebook import Gradebook, Receipt
from .gradebook.records import add_receipt
from .receipt_files import TIMESTAMP_FILE
from .workspace import Workspace

__all__ = ["MAX_SUBMISSION_BYTES", "check_notebooks", "expected_notebooks", "notebook_problem",
           "read_submission_folder", "receive"]

# the platform default for the largest submission; the exchange service's
# ``max_submission_bytes`` (``course exchange serve --max-mb``) sets it for uploads through it
MAX_SUBMISSION_BYTES = 50 * 1024 * 1024
CLIENT_TIMESTAMP_FILE = TIMESTAMP_FILE  # the client's claim: kept, never trusted


def safe_name(name: str) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts or name.startswith("."):
        raise UserError(f"refusing file name {name!r} in a submission")
    return path.as_posix()


def expected_notebooks(ws: Workspace, assignment_id: str) -> list[str]:
    """The notebook names of an assignment (its source's top-level notebooks; the student
    version keeps them), or [] when the source folder is not on this host."""
    return sorted(path.name for path in (ws.source / assignment_id).glob("*.ipynb"))


def notebook_problem(name: str, content: bytes) -> str | None:
    """``autograder.notebooks.notebook_problem``, imported when first needed: nbformat takes
    about a second to import, and reading the course's standing never needs it."""
    from autograder.notebooks import notebook_problem as problem

    return problem(name, content)


def check_notebooks(files: dict[str, bytes], assignment_id: str, expected: list[str]) -> None:
    """Refuse a submission the grader could not read: a renamed, missing or damaged notebook.
    Said at submit time, while the student can still fix it before the deadline."""
    top = sorted(name for name in files if name.endswith(".ipynb") and "/" not in name)
    if expected:
        strangers = [name for name in top if name not in expected]
        if strangers:
            raise UserError(
                f"{', '.join(strangers)}: not a notebook of {assignment_id}; hand in "
                f"{' and '.join(expected)} under exactly that name (rename the file and submit again)")
        if not top:
            raise UserError(f"a submission of {assignment_id!r} must contain a notebook "
                            f"({' and '.join(expected)})")
    elif not any(name.endswith(".ipynb") for name in files):
        raise UserError(f"a submission of {assignment_id!r} must contain a notebook (.ipynb)")
    for name in top:
        problem = notebook_problem(name, files[name])
        if problem:
            raise UserError(f"{problem}: fix or re-download it and submit again")


def read_submission_folder(folder: Path) -> dict[str, bytes]:
    """The files of a student's working folder, as a submission (checkpoints left out)."""
    files = {}
    for path in sorted(folder.rglob("*")):
        relative = path.relative_to(folder)
        if path.is_file() and not any(part.startswith(".") for part in relative.parts):
            files[relative.as_posix()] = path.read_bytes()
    return files


def digest(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def store(parent: Path, received_at: dt.datetime, files: dict[str, bytes]) -> Path:
    """Write ``files`` into a new folder under ``parent``, on disk and visible only once
    complete."""
    name = f"{received_at:%Y%m%dT%H%M%S%fZ}-{secrets.token_hex(4)}"
    return write_folder(parent / name, files, durable=True)


def receive(ws: Workspace, gb: Gradebook, student_id: str, assignment_id: str,
            files: dict[str, bytes], *, received_at: dt.datetime | None = None,
            max_bytes: int = MAX_SUBMISSION_BYTES) -> Receipt:
    """Store one submission and record its receipt; returns the committed Receipt.

    ``received_at`` defaults to this process's clock now. The exchange service passes its own clock
    reading from when the upload finished (so a queue at the deadline cannot make an on-time upload
    late); the demo and tests pass recorded times. A client's claim never reaches it.
    ``max_bytes`` is the largest submission accepted: the exchange passes its own limit.
    """
    received_at = received_at or utcnow()
    ws.course.student(student_id)
    ws.course.assignment(assignment_id)
    files = {safe_name(name): content for name, content in files.items()}
    client_timestamp = files.pop(CLIENT_TIMESTAMP_FILE, b"").decode(errors="replace")[:64] or None
    size = sum(len(content) for content in files.values())
    if size > max_bytes:
        raise UserError(
            f"submission of {size / 1e6:.1f} MB exceeds the limit of {max_bytes / 1e6:.0f} MB"
        )
    check_notebooks(files, assignment_id, expected_notebooks(ws, assignment_id))

    final = store(ws.root / "inbox" / assignment_id / student_id, received_at, files)
    receipt = add_receipt(
        gb,
        student_id=student_id,
        assignment_id=assignment_id,
        received_at=received_at,
        sha256=digest(files),
        size_bytes=size,
        storage_path=final.relative_to(ws.root).as_posix(),
        client_timestamp=client_timestamp,
    )
    gb.commit()
    return receipt
