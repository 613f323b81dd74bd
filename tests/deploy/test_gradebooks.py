"""deploy/gradebooks.py on a real PostgreSQL server that checks passwords over TCP (as the stack's
does): each course gets a database and a role of its own, with the password in a file of its own
folder (0600, the folder's owner), and ``course upgrade`` of each. Attacks: staff of course ml,
holding ml's credentials, cannot open dl's gradebook, nor the hub's database, nor log in as dl's
role with ml's password; a course file that names another course's role or database, the
server's own, a password file outside its folder (by path, .. or symlink), another id than its
folder's, or SQLite is refused alone (the others are made, exit 1); a symlink at the password
file's path is never followed and nothing is chowned by path.
"""

from __future__ import annotations

import os
import runpy
import shutil
import time

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


def run_gradebooks(server, *files) -> int:
    return GRADEBOOKS["main"](["--admin-url", admin_url(server),
                               *(a for f in files for a in ("--course", str(f)))])


def test_a_wrong_superuser_password_fails_at_once_and_says_why(server, tmp_path, capsys):
    """``course env --force`` after the first start: the volume keeps the old password, and
    waiting 90 s for a server that is up cannot help."""
    own = make_course(tmp_path / "pw", "pw", gradebook_url(server, tmp_path / "pw", "pw"))
    url = admin_url(server).replace(ADMIN_PASSWORD, "made-again-by-course-env")
    started = time.monotonic()
    assert GRADEBOOKS["main"](["--admin-url", url, "--course", str(own)]) == 1
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert "refused the superuser's password" in err and "course env --force" in err
    assert "Traceback" not in err and "gradebook_pw" not in databases(server)


def databases(server) -> set[str]:
    with psycopg.connect(host=HOST, port=server.port, user="course", password=ADMIN_PASSWORD,
                         dbname="postgres") as conn:
        return {row[0] for row in conn.execute("SELECT datname FROM pg_database")}


def test_a_course_file_may_not_take_another_s_database_or_the_server_s(server, tmp_path,
                                                                        capsys):
    """Each refused alone: the other courses of the run are made all the same, and the run
    exits 1 naming the refused ones."""
    own = make_course(tmp_path / "dl", "dl", gradebook_url(server, tmp_path / "dl", "dl"))
    bad = []
    for n, url in enumerate((
            f"postgresql+psycopg://course@{HOST}:{server.port}/gradebook_c0?passfile=/x",
            f"postgresql+psycopg://gradebook_c1@{HOST}:{server.port}/jupyterhub?passfile=/x",
            f"postgresql+psycopg://gradebook_c2@{HOST}:{server.port}/gradebook_c2",  # no password
            f"postgresql+psycopg://X;drop@{HOST}:{server.port}/x?passfile=/x")):
        bad.append(make_course(tmp_path / f"c{n}", f"c{n}", url))
    capsys.readouterr()
    assert run_gradebooks(server, *bad, own) == 1
    captured = capsys.readouterr()
    assert "dl: database gradebook_dl, role gradebook_dl (" in captured.out
    for n in range(4):
        assert f"c{n}/course.yml: REFUSED: " in captured.out, captured.out
    assert "refused: " in captured.err and all(f"c{n}" in captured.err for n in range(4))
    made = databases(server)
    assert "gradebook_dl" in made
    assert not {"x", "gradebook_c0", "gradebook_c1", "gradebook_c2"} & made
    shutil.rmtree(tmp_path)


def test_a_course_file_may_not_name_another_course_s_gradebook(server, tmp_path, capsys):
    """Staff of ev write ev's course file: dl's role or database, a password file in dl's
    folder (by path or by a symlink), the id of dl, a SQLite file are all refused, ev's alone."""
    dl, ev = tmp_path / "dl", tmp_path / "ev"
    own = make_course(dl, "dl", gradebook_url(server, dl, "dl"))
    assert run_gradebooks(server, own) == 0
    dl_passfile = (dl / ".gradebook.pgpass").read_text()
    port = server.port
    (tmp_path / "elsewhere").mkdir()
    attacks = {
        "dl's role and database": "postgresql+psycopg://gradebook_dl@{host}:{port}/gradebook_dl"
                                  "?passfile={ev}/.gradebook.pgpass",
        "dl's database": "postgresql+psycopg://gradebook_ev@{host}:{port}/gradebook_dl"
                         "?passfile={ev}/.gradebook.pgpass",
        "a role of another name": "postgresql+psycopg://gradebook_evx@{host}:{port}/gradebook_ev"
                                  "?passfile={ev}/.gradebook.pgpass",
        "dl's password file": "postgresql+psycopg://gradebook_ev@{host}:{port}/gradebook_ev"
                              "?passfile={dl}/.gradebook.pgpass",
        "a file outside its folder": "postgresql+psycopg://gradebook_ev@{host}:{port}/"
                                     "gradebook_ev?passfile={tmp}/elsewhere/p",
        "a path out by ..": "postgresql+psycopg://gradebook_ev@{host}:{port}/gradebook_ev"
                            "?passfile={ev}/../../dl/.gradebook.pgpass",
        "a symlink into dl's folder": "postgresql+psycopg://gradebook_ev@{host}:{port}/"
                                      "gradebook_ev?passfile={ev}/.gradebook.pgpass",
        "a SQLite file": "sqlite:///{ev}/gradebook.db",
    }
    files = {}  # each attack in a folder ev of its own (one run for all: course upgrade is slow)
    for n, (what, url) in enumerate(attacks.items()):
        ev = tmp_path / f"a{n}" / "ev"
        ev.parent.mkdir()
        files[what] = make_course(ev, "ev", url.format(host=HOST, port=port, ev=ev, dl=dl,
                                                       tmp=tmp_path))
        if what == "a symlink into dl's folder":
            (ev / ".gradebook.pgpass").symlink_to(dl / ".gradebook.pgpass")
    capsys.readouterr()
    assert run_gradebooks(server, own, *files.values()) == 1
    captured = capsys.readouterr()
    assert "dl: database gradebook_dl, role gradebook_dl (checked)" in captured.out
    for what, file in files.items():
        assert f"{file}: REFUSED: " in captured.out, (what, captured.out)
        assert str(file) in captured.err.split("refused: ")[1], (what, captured.err)
    assert "gradebook_ev" not in databases(server)
    assert (dl / ".gradebook.pgpass").read_text() == dl_passfile
    assert (dl / ".gradebook.pgpass").stat().st_uid == COURSE_UID
    # a file whose id is not its folder's name: ev's staff may not name their folder's file dl
    wrong = tmp_path / "wrong"
    make_course(wrong, "ev", gradebook_url(server, wrong, "ev"))
    capsys.readouterr()
    assert run_gradebooks(server, own, wrong / "course.yml") == 1
    assert "not its folder's name" in capsys.readouterr().out
    assert "gradebook_ev" not in databases(server) and not (wrong / ".gradebook.pgpass").exists()
    # two files of one id (in folders of that name): neither gets the database
    a, b = tmp_path / "a" / "cc", tmp_path / "b" / "cc"
    a.parent.mkdir()
    b.parent.mkdir()
    first = make_course(a, "cc", gradebook_url(server, a, "cc"))
    second = make_course(b, "cc", gradebook_url(server, b, "cc"))
    capsys.readouterr()
    assert run_gradebooks(server, first, own, second) == 1
    captured = capsys.readouterr()
    assert "both name the role 'gradebook_cc'" in captured.out, captured.out
    assert "dl: database gradebook_dl, role gradebook_dl (checked)" in captured.out
    assert "gradebook_cc" not in databases(server)
    shutil.rmtree(tmp_path)


def test_a_symlink_at_the_password_file_is_never_followed(server, tmp_path, monkeypatch,
                                                           capsys):
    """The password file is made by its descriptor (O_EXCL|O_NOFOLLOW, fchown, fchmod): a
    symlink swapped in by ev's staff is not followed, and nothing is chowned by path."""
    dl, ev = tmp_path / "dl", tmp_path / "ev"
    own = make_course(dl, "dl", gradebook_url(server, dl, "dl"))
    ev_file = make_course(ev, "ev", gradebook_url(server, ev, "ev"))
    target = ev / "target"  # inside ev's folder (passes the path check), owned by root
    target.write_text("not a password file\n")
    target.chmod(0o600)
    before = target.stat()

    # planted after the check, before the file is made (the race): not followed
    db = GRADEBOOKS["course_database"](str(ev_file))
    (ev / ".gradebook.pgpass").symlink_to(target)
    with pytest.raises(OSError):
        GRADEBOOKS["password_of"](db)
    after = target.stat()
    assert (after.st_uid, after.st_mode, target.read_text()) == (
        before.st_uid, before.st_mode, "not a password file\n")

    # there before the run: ev refused, dl made, the target untouched
    capsys.readouterr()
    assert run_gradebooks(server, own, ev_file) == 1
    out = capsys.readouterr().out
    assert "ev: FAILED: " in out and "dl: database gradebook_dl, role gradebook_dl (" in out, out
    assert target.stat().st_uid == before.st_uid and "gradebook_ev" not in databases(server)

    # and the file a run makes is owned by the folder's owner without a chown by path
    (ev / ".gradebook.pgpass").unlink()

    def no_chown_by_path(*args, **kwargs):
        raise AssertionError(f"chown by path: {args}")

    monkeypatch.setattr(os, "chown", no_chown_by_path)
    monkeypatch.setattr(os, "lchown", no_chown_by_path)
    assert run_gradebooks(server, own, ev_file) == 0
    stat = (ev / ".gradebook.pgpass").stat()
    assert stat.st_uid == COURSE_UID and stat.st_mode & 0o777 == 0o600
    shutil.rmtree(tmp_path)


def test_another_course_s_database_is_never_handed_over(server, tmp_path, capsys):
    """A course's database that exists under another owner (made by hand, or by another
    course's role) is not given to the course: that course fails, and says why."""
    a, b = tmp_path / "aa", tmp_path / "bb"
    first = make_course(a, "aa", gradebook_url(server, a, "aa"))
    assert run_gradebooks(server, first) == 0
    with psycopg.connect(host=HOST, port=server.port, user="course", password=ADMIN_PASSWORD,
                         dbname="postgres", autocommit=True) as conn:
        conn.execute("CREATE DATABASE gradebook_bb OWNER gradebook_aa")
    second = make_course(b, "bb", gradebook_url(server, b, "bb"))
    capsys.readouterr()
    assert run_gradebooks(server, second) == 1
    assert "bb: FAILED: database gradebook_bb belongs to gradebook_aa" in capsys.readouterr().out
