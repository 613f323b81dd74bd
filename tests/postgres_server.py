"""A throwaway PostgreSQL server for the test suite, plus its pytest fixtures.

Uses the Debian server binaries (initdb, pg_ctl, postgres), listens on 127.0.0.1 only,
and keeps everything (data, socket, log) in one temp dir that stop() removes.
Load the fixtures from tests/conftest.py (see there).
"""

from __future__ import annotations

import atexit
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Self

import psycopg
import pytest
from psycopg import sql

SUPERUSER = "course"
HOST = "127.0.0.1"
START_TIMEOUT_S = 30.0
_BINARIES = ("initdb", "pg_ctl", "postgres")


def find_pg_bindir() -> Path:
    """Directory holding initdb, pg_ctl and postgres: Debian's versioned dirs first, then PATH."""

    def version(p: Path) -> tuple[int, ...]:
        return tuple(int(x) for x in p.parent.name.split(".") if x.isdigit())

    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    # Debian doesn't put the server binaries on PATH, other systems may.
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    for d in candidates:
        if all(os.access(d / b, os.X_OK) for b in _BINARIES):
            return d
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found in "
        "/usr/lib/postgresql/*/bin or on PATH; run `make deps` "
        "(or `apt-get install postgresql`)."
    )


def _free_port() -> int:
    # Let the kernel pick a free loopback port; tiny race until postgres binds it.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def _run_as_user() -> str | None:
    """User to run the server as: initdb/postgres refuse to run as root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "course-pg"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            pass
    subprocess.run(["useradd", "--system", "--no-create-home", "course-pg"], check=True)
    return "course-pg"


class PostgresServer:
    def __init__(self) -> None:
        self.bindir = find_pg_bindir()
        self.port: int | None = None
        self.tmpdir: Path | None = None
        self.user = _run_as_user()
        self._proc: subprocess.Popen | None = None

    @property
    def datadir(self) -> Path:
        return self.tmpdir / "data"

    @property
    def logfile(self) -> Path:
        return self.tmpdir / "server.log"

    def _cmd(self, *args: str) -> list[str]:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        return ["runuser", "-u", self.user, "--", *cmd] if self.user else cmd

    def _run(self, *args: str) -> None:
        # cwd=tmpdir: the server user may not be able to read the caller's cwd.
        res = subprocess.run(
            self._cmd(*args), cwd=self.tmpdir, capture_output=True, text=True, check=False
        )
        if res.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({res.returncode}):\n{res.stdout}{res.stderr}")

    def start(self) -> Self:
        self.tmpdir = Path(tempfile.mkdtemp(prefix="course-pg-"))
        # Registered right away so a failed start is cleaned up too.
        atexit.register(self.stop)
        try:
            if self.user:
                shutil.chown(self.tmpdir, user=self.user, group=pwd.getpwnam(self.user).pw_gid)
            self._run(
                "initdb",
                "-D",
                str(self.datadir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            )
            self.port = _free_port()
            settings = {
                "listen_addresses": HOST,  # never anything but loopback
                "port": self.port,
                "unix_socket_directories": str(self.tmpdir),
                # A test server: durability only costs time.
                "fsync": "off",
                "synchronous_commit": "off",
                "full_page_writes": "off",
            }
            with open(self.datadir / "postgresql.conf", "a") as f:
                f.write("\n# course test server\n")
                f.writelines(f"{k} = '{v}'\n" for k, v in settings.items())
            # Run postgres as our (grand)child rather than via `pg_ctl start`, so it is
            # reaped here and can't linger as an orphan or zombie.
            with open(self.logfile, "ab") as log:
                self._proc = subprocess.Popen(
                    self._cmd("postgres", "-D", str(self.datadir)),
                    cwd=self.tmpdir,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                psycopg.connect(self._conninfo("postgres"), connect_timeout=2).close()
                return
            except psycopg.OperationalError as exc:
                exited = self._proc.poll() is not None
                if exited or time.monotonic() > deadline:
                    why = "exited" if exited else f"timed out after {START_TIMEOUT_S:.0f}s"
                    raise RuntimeError(
                        f"PostgreSQL on {HOST}:{self.port} did not accept connections ({why}: "
                        f"{exc}).\nServer log tail:\n{self._log_tail()}"
                    ) from exc
                time.sleep(0.1)

    def _log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.logfile.read_text(errors="replace").splitlines()[-lines:])
        except OSError as exc:
            return f"(no log: {exc})"

    def stop(self) -> None:
        """Stop the server and remove its files; safe to call more than once."""
        if self.tmpdir is None:
            return
        pidfile = self.datadir / "postmaster.pid"
        if pidfile.exists():
            res = subprocess.run(
                self._cmd("pg_ctl", "-D", str(self.datadir), "-m", "immediate", "-w", "stop"),
                cwd=self.tmpdir,
                capture_output=True,
                check=False,
            )
            if res.returncode != 0 and pidfile.exists():
                # Backstop: kill the postmaster directly; its children exit with it.
                try:
                    os.kill(int(pidfile.read_text().split()[0]), signal.SIGKILL)
                except (OSError, ValueError, IndexError):
                    pass
        if self._proc is not None:
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None
        atexit.unregister(self.stop)

    def _conninfo(self, dbname: str) -> str:
        return f"host={HOST} port={self.port} user={SUPERUSER} dbname={dbname}"

    def url(self, dbname: str) -> str:
        """SQLAlchemy URL for a database on this server."""
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    def create_database(self, name: str | None = None) -> str:
        """Create a fresh database and return its SQLAlchemy URL."""
        name = name or f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self._conninfo("postgres"), autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        return self.url(name)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- pytest fixtures (loaded by tests/conftest.py) ---


@pytest.fixture(scope="session")
def postgres_server():
    """One throwaway server for the whole test session."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """SQLAlchemy URL of a fresh, empty database for this test."""
    return postgres_server.create_database()
