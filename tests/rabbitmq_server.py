"""A throwaway RabbitMQ node for the test suite (Debian's ``rabbitmq-server``).

Everything listens on 127.0.0.1 only (AMQP, Erlang distribution, its own epmd) on ports picked
here, under a unique node name, so it clashes with nothing else on the machine. As root the node
runs as the ``rabbitmq`` user, who owns its folders (data, logs, cookie). ``stop()`` stops it with
``rabbitmqctl -n NODE stop``, then its epmd, and removes the folder; ``restart()`` keeps the data
(durable queues and persistent messages survive it, as on a real broker).
"""

from __future__ import annotations

import atexit
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Self

import pytest

from course.time_limits import BROKER_CONSUMER_TIMEOUT

HOST = "127.0.0.1"
BIN = Path("/usr/lib/rabbitmq/bin")
START_TIMEOUT_S = 60.0
# above the longest grading job (15 min backstop + cleanup): a slow job is not redelivered
CONSUMER_TIMEOUT_MS = int(BROKER_CONSUMER_TIMEOUT * 1000)  # as the deployment sets it


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def available() -> bool:
    return (BIN / "rabbitmq-server").exists()


class RabbitServer:
    def __init__(self) -> None:
        self.tmpdir: Path | None = None
        self.node = f"course{secrets.token_hex(4)}@localhost"
        self.port = self.dist_port = self.epmd_port = 0
        self.user = "rabbitmq" if os.geteuid() == 0 else None
        self._proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{HOST}:{self.port}//"

    def _env(self) -> dict[str, str]:
        base = self.tmpdir
        return {**{k: v for k, v in os.environ.items() if not k.startswith("RABBITMQ_")},
                "HOME": str(base), "RABBITMQ_NODENAME": self.node,
                "RABBITMQ_NODE_IP_ADDRESS": HOST, "RABBITMQ_NODE_PORT": str(self.port),
                "RABBITMQ_DIST_PORT": str(self.dist_port), "ERL_EPMD_ADDRESS": HOST,
                "ERL_EPMD_PORT": str(self.epmd_port),
                "RABBITMQ_CONFIG_FILE": str(base / "rabbitmq.conf"),
                "RABBITMQ_CONF_ENV_FILE": str(base / "rabbitmq-env.conf"),
                "RABBITMQ_ENABLED_PLUGINS_FILE": str(base / "enabled_plugins"),
                "RABBITMQ_MNESIA_BASE": str(base / "mnesia"), "RABBITMQ_LOG_BASE": str(base / "log"),
                "RABBITMQ_PID_FILE": str(base / "rabbit.pid"), "RABBITMQ_LOGS": str(base / "log" / "node.log")}

    def _cmd(self, name: str, *args: str) -> list[str]:
        # env: runuser would reset HOME (the folder with the node's cookie) to the user's own
        command = ["env", f"HOME={self.tmpdir}", str(BIN / name), *args]
        return ["runuser", "-u", self.user, "--", *command] if self.user else command

    def ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self._cmd("rabbitmqctl", "-n", self.node, *args), env=self._env(),
                              cwd=self.tmpdir, capture_output=True, text=True, timeout=timeout,
                              check=False)

    def start(self) -> Self:
        if self.tmpdir is None:
            self.tmpdir = Path(tempfile.mkdtemp(prefix="course-rabbit-"))
            atexit.register(self.stop)
            self.port, self.dist_port, self.epmd_port = _free_port(), _free_port(), _free_port()
            (self.tmpdir / "rabbitmq.conf").write_text(
                f"listeners.tcp.1 = {HOST}:{self.port}\n"
                f"consumer_timeout = {CONSUMER_TIMEOUT_MS}\n"
                "loopback_users.guest = true\n")
            (self.tmpdir / "rabbitmq-env.conf").write_text("")
            (self.tmpdir / "enabled_plugins").write_text("[].\n")
            cookie = self.tmpdir / ".erlang.cookie"
            cookie.write_text(secrets.token_hex(16))
            cookie.chmod(0o400)
            (self.tmpdir / "log").mkdir()
            if self.user:
                uid, gid = pwd.getpwnam(self.user).pw_uid, pwd.getpwnam(self.user).pw_gid
                for path in [self.tmpdir, *self.tmpdir.rglob("*")]:
                    os.chown(path, uid, gid)
        try:
            with open(self.tmpdir / "log" / "server.out", "ab") as log:
                # the node starts a session of its own: it is stopped by rabbitmqctl, not killpg
                self._proc = subprocess.Popen(self._cmd("rabbitmq-server"), env=self._env(),
                                              cwd=self.tmpdir, stdin=subprocess.DEVNULL,
                                              stdout=log, stderr=log)
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:  # the AMQP listener opens once the broker's applications have booted
            try:
                socket.create_connection((HOST, self.port), timeout=1).close()
                break
            except OSError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"RabbitMQ did not start:\n{self._log_tail()}") from None
                time.sleep(0.2)
        done = self.ctl("await_startup", "--timeout", str(int(START_TIMEOUT_S)))
        if done.returncode != 0:
            raise RuntimeError(f"RabbitMQ did not start: {done.stdout}{done.stderr}")

    def _log_tail(self) -> str:
        text = ""
        for path in sorted((self.tmpdir / "log").glob("*")):
            text += f"--- {path.name}\n" + path.read_text(errors="replace")[-3000:]
        return text

    def _stop_node(self) -> None:
        if self.ctl("stop", timeout=60).returncode != 0:  # a node that never came up
            pidfile = self.tmpdir / "rabbit.pid"
            if pidfile.exists():
                try:
                    os.kill(int(pidfile.read_text().split()[0]), 9)
                except (OSError, ValueError, IndexError):
                    pass
        if self._proc is not None:
            try:
                self._proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
            self._proc = None

    def restart(self) -> None:
        """Stop the node and start it again on the same ports and data."""
        self._stop_node()
        self.start()

    def stop(self) -> None:
        """Stop the node and its epmd and remove its files; safe to call more than once."""
        if self.tmpdir is None:
            return
        self._stop_node()
        subprocess.run(["epmd", "-port", str(self.epmd_port), "-kill"], env=self._env(),
                       capture_output=True, check=False, timeout=30)
        shutil.rmtree(self.tmpdir, ignore_errors=True)
        self.tmpdir = None
        atexit.unregister(self.stop)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@pytest.fixture(scope="session")
def rabbitmq():
    """One throwaway RabbitMQ node for the session (tests that restart it restart it)."""
    with RabbitServer() as server:
        yield server
