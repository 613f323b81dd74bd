"""deploy/gradebooks.py on a real PostgreSQL server that checks passwords over TCP (as the stack's
does): each course gets a database and a role of its own, with the password in a file of its own
folder (0600, the folder's owner), and ``course upgrade`` of each. Attacks: staff of course ml,
holding ml's credentials, cannot open dl's gradebook, nor the hub's database, nor log in as dl's
role with ml's password; a course file that names another course's role or database, or the
server's own, is refused before anything is made.
"""

from __future__ import annotations

import os
import runpy
import shutil

import psycopg
import pytest
from postgres_server import HOST, PostgresServer
from small_courses import REPO, course_text

GRADEBOOKS = runpy.run_path(str(REPO / "deploy" / "gradebooks.py"), run_name="gradebooks")
ADMIN_PASSWORD = "admin-secret-for-the-test"
COURSE_UID = 64201  # the course folder's owner (no account needed)


@pytest.fixture(scope="module")
def server():
    """Its own server: TCP logins need a password (scram), as in the stack's image."""
    with PostgresServer() as pg:
        with psycopg.connect(f"host={HOST} port={pg.port} user=course dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f"ALTER ROLE course PASSWORD '{ADMIN_PASSWORD}'")
            for name in ("gradebook", "jupyterhub"):  # the stack's own two databases
                conn.execute(f"CREATE DATABASE {name}")
        hba = pg.datadir / "pg_hba.conf"
        hba.write_text("local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        with psycopg.connect(f"host={pg.tmpdir} port={pg.port} user=course dbname=postgres",
                             autocommit=True) as conn:
            conn.execute("SELECT pg_reload_conf()")
        yield pg


def admin_url(server) -> str:
    return f"postgresql+psycopg://course:{ADMIN_PASSWORD}@{HOST}:{server.port}/jupyterhub"


def make_course(root, course_id: str, url: str):
    root.mkdir(parents=True)
    text = course_text(course_id).replace("assignments:", f"gradebook: {{url: '{url}'}}\n"
                                          "assignments:")
    (root / "course.yml").write_text(text)
    os.chown(root, COURSE_UID, COURSE_UID)
    return root / "course.yml"


def gradebook_url(server, root, name: str) -> str:
    return (f"postgresql+psycopg://gradebook_{name}@{HOST}:{server.port}/gradebook_{name}"
            f"?passfile={root / '.gradebook.pgpass'}")


def can_connect(server, user: str, password: str, dbname: str) -> str:
    try:
        psycopg.connect(host=HOST, port=server.port, user=user, password=password,
                        dbname=dbname, connect_timeout=5).close()
        return "yes"
    except psycopg.OperationalError as exc:
        return " ".join(str(exc).split())


def test_each_course_gets_its_own_database_and_role_and_no_other(server, tmp_path, capsys):
    dl, ml = tmp_path / "dl", tmp_path / "ml"
    files = [make_course(dl, "dl", gradebook_url(server, dl, "dl")),
             make_course(ml, "ml", gradebook_url(server, ml, "ml"))]
    assert GRADEBOOKS["main"](["--admin-url", admin_url(server),
                               *(a for f in files for a in ("--course", str(f)))]) == 0
    out = capsys.readouterr().out
    assert "dl: database gradebook_dl, role gradebook_dl (created)" in out
    assert "ml: database gradebook_ml, role gradebook_ml (created)" in out
    assert out.count("(created)") == 4, out  # and each gradebook's schema by course upgrade

    passwords = {}
    for name, root in (("dl", dl), ("ml", ml)):
        passfile = root / ".gradebook.pgpass"
        stat = passfile.stat()
        assert stat.st_mode & 0o777 == 0o600 and stat.st_uid == COURSE_UID
        hosts, ports, database, role, password = passfile.read_text().strip().split(":")
        assert (hosts, ports, database, role) == ("*", "*", f"gradebook_{name}", f"gradebook_{name}")
        passwords[name] = password
    assert passwords["dl"] != passwords["ml"]
    # each course's own tables, made by its own role
    assert can_connect(server, "gradebook_dl", passwords["dl"], "gradebook_dl") == "yes"
    with psycopg.connect(host=HOST, port=server.port, user="gradebook_dl",
                         password=passwords["dl"], dbname="gradebook_dl") as conn:
        owners = {row[0] for row in conn.execute(
            "SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")}
    assert owners == {"gradebook_dl"}

    # staff of ml, with ml's credentials: nothing of dl's, nothing of the hub's
    for database in ("gradebook_dl", "jupyterhub", "gradebook", "postgres"):
        refused = can_connect(server, "gradebook_ml", passwords["ml"], database)
        assert "permission denied for database" in refused, (database, refused)
    refused = can_connect(server, "gradebook_dl", passwords["ml"], "gradebook_dl")
    assert "password authentication failed" in refused, refused
    with psycopg.connect(host=HOST, port=server.port, user="gradebook_ml",
                         password=passwords["ml"], dbname="gradebook_ml", autocommit=True) as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE ROLE evil SUPERUSER")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("CREATE DATABASE evil")

    # again (every `up`): the same passwords, nothing made twice, every course current
    assert GRADEBOOKS["main"](["--admin-url", admin_url(server),
                               *(a for f in files for a in ("--course", str(f)))]) == 0
    out = capsys.readouterr().out
    assert "dl: database gradebook_dl, role gradebook_dl (checked)" in out
    assert out.count("already current") == 2, out
    assert (dl / ".gradebook.pgpass").read_text().strip().endswith(passwords["dl"])


def test_a_course_file_may_not_take_another_s_database_or_the_server_s(server, tmp_path,
                                                                        capsys):
    dl, ml = tmp_path / "dl", tmp_path / "ml"
    shared = make_course(ml, "ml", gradebook_url(server, dl, "dl"))  # dl's names, in ml's file
    own = make_course(dl, "dl", gradebook_url(server, dl, "dl"))
    main = GRADEBOOKS["main"]
    assert main(["--admin-url", admin_url(server), "--course", str(own), "--course",
                 str(shared)]) == 2
    assert "both name the role 'gradebook_dl'" in capsys.readouterr().err
    for url in (f"postgresql+psycopg://course@{HOST}:{server.port}/gradebook_x?passfile=/x",
                f"postgresql+psycopg://x@{HOST}:{server.port}/jupyterhub?passfile=/x",
                f"postgresql+psycopg://x@{HOST}:{server.port}/x",  # no password anywhere
                f"postgresql+psycopg://X;drop@{HOST}:{server.port}/x?passfile=/x"):
        root = tmp_path / f"c{abs(hash(url))}"
        refused = main(["--admin-url", admin_url(server), "--course",
                        str(make_course(root, "cx", url))])
        assert refused == 2, url
        assert "error:" in capsys.readouterr().err
    with psycopg.connect(host=HOST, port=server.port, user="course", password=ADMIN_PASSWORD,
                         dbname="postgres") as conn:
        made = {row[0] for row in conn.execute("SELECT datname FROM pg_database")}
    assert "x" not in made and "gradebook_x" not in made
    shutil.rmtree(tmp_path)


def test_another_course_s_database_is_never_handed_over(server, tmp_path, capsys):
    """A database that exists under another owner (a course's, made earlier) is not given to a
    new course that names it: that course fails, and says why."""
    a, b = tmp_path / "a", tmp_path / "b"
    first = make_course(a, "aa", gradebook_url(server, a, "aa"))
    assert GRADEBOOKS["main"](["--admin-url", admin_url(server), "--course", str(first)]) == 0
    url = (f"postgresql+psycopg://gradebook_bb@{HOST}:{server.port}/gradebook_aa"
           f"?passfile={b / '.gradebook.pgpass'}")
    second = make_course(b, "bb", url)
    capsys.readouterr()
    assert GRADEBOOKS["main"](["--admin-url", admin_url(server), "--course", str(second)]) == 1
    assert "bb: FAILED: database gradebook_aa belongs to gradebook_aa" in capsys.readouterr().out
