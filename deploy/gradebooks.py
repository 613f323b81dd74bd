"""Each course's own gradebook on the stack's one PostgreSQL server: a database and a role of
its own, made (or checked) before anything opens them, then ``course upgrade`` of each course.

    python3 deploy/gradebooks.py --course /srv/course/dl/course.yml --course ...

Each course lives in the folder of its id and names its own gradebook, ``gradebook_<id>``
(role and database), without a secret:

    gradebook: {url: "postgresql+psycopg://gradebook_dl@postgres:5432/gradebook_dl?passfile=/srv/course/dl/.gradebook.pgpass"}

The password lives in that libpq password file, in the course's own folder, mode 0600 and owned
by the folder's owner (the course's formgrader runs as that user and reads it; staff of another
course cannot): written here with a fresh password the first time, through its descriptor only
(O_EXCL|O_NOFOLLOW, fchown, fchmod: a symlink planted there is never followed), and the role's
password set from it every time (a restored folder keeps working). The role owns its database
and nothing else; every database of the server is closed to PUBLIC, so a course's role connects
to its own database only. A URL with the password in it works too (the role gets that password).

The server's superuser comes from ``$COURSE_HUB_DB_URL`` (``course env``), or ``--admin-url``.
Runs under a PostgreSQL advisory lock: two starting at once (two exchange pods' init containers)
take turns, and the second finds everything made. Exits 1 when any course failed (after trying
every course, and naming the refused ones: a course file that names another course's
gradebook, a password file outside its own folder, or SQLite), 2 without a superuser URL.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
LOCK = 0x636F75727365  # "course": the advisory lock's key
ADMIN_URL_ENV = "COURSE_HUB_DB_URL"  # course env's URL of the superuser (database jupyterhub)


class Refused(ValueError):
    """A course file whose gradebook this script will not make (the message says why)."""


@dataclass(frozen=True)
class CourseDatabase:
    course_id: str
    course_file: Path
    role: str
    database: str
    passfile: Path | None  # None: the password is in the URL
    url_password: str | None


def course_database(course_file: str) -> CourseDatabase:
    """What ``course_file``'s gradebook.url asks for. Refused: anything but the course's own
    database and role (both ``gradebook_<course id>``, the file in a folder named after the
    id) with its password in a file of that folder or in the URL. SQLite is refused too: on
    this stack two exchange replicas share a gradebook, and a SQLite file behind two of them
    breaks the per-student lock."""
    from course.coursefile import load_course
    from course.errors import UserError

    try:
        course, path = load_course(course_file)
    except (UserError, OSError) as exc:
        raise Refused(str(exc)) from None
    folder = path.parent
    if folder.name != course.id:  # /srv/course/<id>/course.yml: a file may not take an id
        raise Refused(f"course id {course.id!r} is not its folder's name {folder.name!r}: "
                      "on this stack each course lives in the folder of its id")
    own = f"gradebook_{course.id}"
    if not NAME.fullmatch(own):
        raise Refused(f"course id {course.id!r} cannot name a PostgreSQL role ({own!r}): on "
                      "this stack a course id is lower-case letters, digits and _")
    if not course.gradebook.url:
        raise Refused("no gradebook.url: on this stack each course names its own PostgreSQL "
                      "database (deploy/README.md, several courses)")
    url = make_url(course.gradebook.url)
    if url.get_backend_name() != "postgresql":
        raise Refused(f"gradebook.url is {url.get_backend_name()}, not PostgreSQL: on this stack "
                      "two exchange replicas share each gradebook (SQLite breaks their "
                      "per-student lock)")
    for what, name in (("role", url.username or ""), ("database", url.database or "")):
        if name != own:
            raise Refused(f"gradebook.url's {what} is {name!r}, not the course's own {own!r}")
    passfile = url.query.get("passfile")
    if isinstance(passfile, tuple):
        raise Refused("gradebook.url names passfile twice")
    if passfile is None:
        if not url.password:
            raise Refused("gradebook.url has neither ?passfile=FILE nor a password")
        return CourseDatabase(course.id, path, own, own, None, url.password)
    if not Path(passfile).is_absolute():
        raise Refused("gradebook.url's passfile must be an absolute path")
    # resolved (symlinks, ..): a file of the course's own folder, never another course's
    real, own_folder = Path(os.path.realpath(passfile)), Path(os.path.realpath(folder))
    if real.parent != own_folder:
        raise Refused(f"gradebook.url's passfile {passfile} is not a file of the course's own "
                      f"folder {folder} (resolved: {real})")
    # opened as this name in that folder, never through the path given (password_of)
    return CourseDatabase(course.id, path, own, own, own_folder / Path(passfile).name, None)


def check_distinct(wanted: list[CourseDatabase]) -> dict[Path, str]:
    """No two courses share a role or a database: one course's role would open the other's.
    Course file -> why, for every course of a clash (none of them is made)."""
    clashes: dict[Path, str] = {}
    for attribute in ("role", "database"):
        seen: dict[str, CourseDatabase] = {}
        for db in wanted:
            name = getattr(db, attribute)
            if name in seen:
                why = (f"{seen[name].course_file} and {db.course_file} both name the "
                       f"{attribute} {name!r}: each course needs its own")
                clashes.setdefault(seen[name].course_file, why)
                clashes.setdefault(db.course_file, why)
            else:
                seen[name] = db
    return clashes


def password_of(db: CourseDatabase) -> str:
    """The role's password: the URL's, else the password file's (written now, 0600 and owned by
    the course folder's owner, when there is none). By descriptor only, never by path: a symlink
    the course's staff put at the file's path is not followed (ELOOP) and nothing is chowned
    through it."""
    if db.passfile is None:
        return db.url_password or ""
    folder = os.open(db.passfile.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        return _read_or_make(db, folder)
    finally:
        os.close(folder)


def _read_or_make(db: CourseDatabase, folder: int) -> str:
    name = db.passfile.name
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW, dir_fd=folder)
    except FileNotFoundError:
        fd = None
    if fd is not None:
        with os.fdopen(fd) as handle:
            if os.fstat(handle.fileno()).st_mode & 0o077:
                raise Refused(f"{db.passfile}: readable by others (libpq ignores it): chmod 0600")
            for line in handle.read().splitlines():
                fields = line.split(":")
                if len(fields) == 5 and fields[2] in ("*", db.database) and fields[3] == db.role:
                    return fields[4]
        raise Refused(f"{db.passfile} holds no password for {db.role} on {db.database}")
    password = secrets.token_hex(24)
    owner = os.fstat(folder)
    fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600,
                 dir_fd=folder)
    with os.fdopen(fd, "w") as handle:
        os.fchown(fd, owner.st_uid, owner.st_gid)
        os.fchmod(fd, 0o600)
        handle.write(f"*:*:{db.database}:{db.role}:{password}\n")
    return password


def make_database(admin: psycopg.Connection, db: CourseDatabase, password: str) -> str:
    """The role (login, nothing more) and its database, closed to every other role."""
    role, database = sql.Identifier(db.role), sql.Identifier(db.database)
    exists = admin.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (db.role,)).fetchone()
    if not exists:
        admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(role))
    # every time: no privilege the role may have been given by hand, the password of the file
    admin.execute(sql.SQL("ALTER ROLE {} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                          "NOREPLICATION NOBYPASSRLS PASSWORD {}").format(
        role, sql.Literal(password)))
    made = admin.execute("SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = %s",
                         (db.database,)).fetchone()
    if made is None:
        admin.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(database, role))
    elif made[0] != db.role:
        raise Refused(f"database {db.database} belongs to {made[0]}, not {db.role}: another "
                      "course's, or made by hand")
    admin.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(database))
    return "created" if made is None else "checked"


def close_to_public(admin: psycopg.Connection) -> None:
    """No role connects to a database it was not given (PostgreSQL lets PUBLIC connect to any
    database by default): the server's own ones and every course's."""
    names = admin.execute("SELECT datname FROM pg_database WHERE NOT datistemplate").fetchall()
    for (name,) in names:
        admin.execute(sql.SQL("REVOKE CONNECT, TEMPORARY ON DATABASE {} FROM PUBLIC").format(
            sql.Identifier(name)))


class WrongAdminPassword(RuntimeError):
    """The server is up and refuses the superuser's password: waiting cannot help."""


WRONG_PASSWORD_HELP = (
    "PostgreSQL refused the superuser's password from course.env. Its data volume keeps the "
    "password it was first started with, so a course.env made again (course env --force) "
    "after that does not match it: put back the course.env the stack was first started "
    "with (it is backed up with the database), or change the role's password inside the "
    "postgres container to the new one (deploy/README.md, Secrets).")


def connect_admin(url: str, wait_s: float) -> psycopg.Connection:
    parsed = make_url(url).set(drivername="postgresql", database="postgres")
    conninfo = parsed.render_as_string(hide_password=False)
    deadline = time.monotonic() + wait_s
    while True:
        try:
            return psycopg.connect(conninfo, autocommit=True, connect_timeout=5)
        except psycopg.OperationalError as exc:
            # libpq's words for SQLSTATE 28P01, which a failed connection does not carry
            if "password authentication failed" in str(exc):
                raise WrongAdminPassword(WRONG_PASSWORD_HELP) from exc
            if time.monotonic() > deadline:
                raise
            print(f"waiting for PostgreSQL: {str(exc).strip()}", flush=True)
            time.sleep(1)


def upgrade(course_file: Path) -> subprocess.CompletedProcess:
    """``course upgrade`` of one course, with its own gradebook.url: never $COURSE_DB_URL (one
    database for every course) nor the superuser's URL."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("COURSE_DB_URL", ADMIN_URL_ENV, "POSTGRES_PASSWORD")}
    return subprocess.run([sys.executable, "-m", "commands.main", "upgrade", "--course",
                           str(course_file)], env=env, capture_output=True, text=True,
                          check=False, timeout=600)


def provision(admin_url: str, course_files: list[str], *, wait_s: float = 90) -> bool:
    """Make and migrate every course's gradebook; True when all of them are done. A course
    refused (its file, a clash) or failing is reported on its own line and the others are made
    all the same; the refused ones are named again at the end."""
    wanted: list[CourseDatabase] = []
    refused: dict[str, str] = {}
    for file in course_files:
        try:
            wanted.append(course_database(file))
        except Refused as exc:
            refused[file] = str(exc)
    clashes = check_distinct(wanted)
    refused.update((str(db.course_file), clashes[db.course_file]) for db in wanted
                   if db.course_file in clashes)
    wanted = [db for db in wanted if db.course_file not in clashes]
    for file, why in refused.items():
        print(f"{file}: REFUSED: {why}", flush=True)
    ok = not refused
    with connect_admin(admin_url, wait_s) as admin:
        admin.execute("SELECT pg_advisory_lock(%s)", (LOCK,))  # released when it disconnects
        close_to_public(admin)
        for db in wanted:
            try:
                done = make_database(admin, db, password_of(db))
                print(f"{db.course_id}: database {db.database}, role {db.role} ({done})",
                      flush=True)
            except (Refused, OSError, psycopg.Error) as exc:
                print(f"{db.course_id}: FAILED: {exc}", flush=True)
                ok = False
                continue
            ok = _upgraded(db.course_id, db.course_file) and ok
    if refused:
        print(f"error: refused: {', '.join(refused)}", file=sys.stderr, flush=True)
    return ok


def _upgraded(label: str, course_file: Path) -> bool:
    done = upgrade(course_file)
    for line in (done.stdout + done.stderr).strip().splitlines():
        print(f"{label}: {line}", flush=True)
    if done.returncode != 0:
        print(f"{label}: FAILED: course upgrade exited {done.returncode}", flush=True)
    return done.returncode == 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--course", action="append", required=True, metavar="FILE",
                        help="a course file; repeat it for each course of the stack")
    parser.add_argument("--admin-url", help=f"the superuser's URL (default: ${ADMIN_URL_ENV})")
    args = parser.parse_args(argv)
    admin_url = args.admin_url or os.environ.get(ADMIN_URL_ENV)
    if not admin_url:
        print(f"error: no superuser URL: set ${ADMIN_URL_ENV} (course env) or --admin-url",
              file=sys.stderr)
        return 2
    try:
        return 0 if provision(admin_url, args.course) else 1
    except WrongAdminPassword as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
