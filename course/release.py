"""Generate the student version of an assignment (nbgrader) and publish it to students."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
from pathlib import Path

from .calendar import readable_local
from .coursefile import Course
from .errors import UserError
from .gradebook.records import current_user, record_release
from .workspace import STAFF_ONLY_FOLDERS, Workspace

__all__ = ["folder_checksum", "generate", "release", "release_notice"]


def folder_checksum(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


def _nbgrader_failure(action: str, assignment_id: str, result: dict) -> UserError:
    log = (result.get("log") or "") + (result.get("error") or "")
    lines = [line for line in log.splitlines() if line.strip()]
    detail = "\n  ".join(lines[-8:])
    return UserError(f"nbgrader could not {action} {assignment_id!r}:\n  {detail}")


def generate(ws: Workspace, assignment_id: str, *, out: Path | None = None) -> Path:
    """Run nbgrader's generate_assignment; returns the student version's folder."""
    ws.course.assignment(assignment_id)
    source = ws.source / assignment_id
    if not any(source.glob("*.ipynb")):
        raise UserError(f"{source}: no notebooks for assignment {assignment_id!r}")
    ws.sync_gradebook()  # nbgrader's assignment row must carry the course file's deadline
    result = ws.nbgrader_api().generate_assignment(assignment_id, force=True, create=True)
    if not result["success"]:
        raise _nbgrader_failure("generate", assignment_id, result)
    released = ws.root / "release" / assignment_id
    leaked = [name for name in STAFF_ONLY_FOLDERS if (released / name).exists()]
    if leaked:  # the ignore list in Workspace.nbgrader_config must keep these out
        shutil.rmtree(released)
        raise UserError(f"refusing a student version that contains {leaked} ({released})")
    if out is not None:
        out = Path(out)
        if out.exists():
            shutil.rmtree(out)
        shutil.copytree(released, out)
        return out
    return released


def release(ws: Workspace, assignment_id: str, *, now: dt.datetime,
            by: str | None = None) -> Path:
    """Generate (always, so the release matches the sources) and publish to the exchange;
    ``now`` is recorded as the release time, ``by`` (else ``records.current_user``) as who."""
    by = by or current_user()  # asked first: an unnamed release would publish, then fail
    released = generate(ws, assignment_id)
    api = ws.nbgrader_api()
    (ws.root / "exchange").mkdir(exist_ok=True)
    api.unrelease(assignment_id)  # nbgrader refuses to overwrite a release otherwise
    result = api.release_assignment(assignment_id)
    if not result["success"]:
        raise _nbgrader_failure("release", assignment_id, result)
    with ws.gradebook() as gb:
        record_release(gb, assignment_id, folder_checksum(released), now=now, by=by)
        gb.commit()
    return released


def release_notice(course: Course, assignment_id: str, now: dt.datetime) -> list[str]:
    """What releasing at ``now`` means for students: when they will see the assignment (its
    ``release:`` time, local, or now once that has passed); a line starting "warning:" when the
    deadline has already passed."""
    assignment = course.assignment(assignment_id)
    due = course.due(assignment_id)
    if assignment.release is not None and assignment.release > now:
        when = readable_local(assignment.release, course.zone)
        lines = [f"students will see {assignment_id} from {when} (its release: time)"]
    else:
        lines = [f"students see {assignment_id} now"]
    if now >= due:
        lines.append(f"warning: releasing {assignment_id} after its deadline "
                     f"{readable_local(due, course.zone)}: every submission will be late "
                     f"(course extend STUDENT {assignment_id} --until ... to give more time)")
    return lines
