"""A real JupyterHub on 127.0.0.1, for ``course hub`` (``make hub``), the tests and benchmarks.

``LocalHub`` writes a jupyterhub_config.py that calls ``hub_config.apply`` for the course, or
for several (``course_file`` a list: one exchange for all, a formgrader and dashboard each; local
process spawner, the simple authenticator, the exchange as a managed service unless told
otherwise), picks free loopback ports, starts ``jupyterhub`` with the configurable-http-proxy
that ``make hub`` installs from ``deploy/node/package-lock.json``, waits until it answers and,
on ``stop()``, ends it and every process it started (the services stop on JupyterHub's SIGINT
at once, even when the caller runs with SIGINT ignored). ``extra_config`` is appended to the
generated file; a subclass adds settings by overriding ``config_lines``.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from course.errors import UserError

__all__ = ["NODE_PREFIX", "LocalHub", "free_port", "require_proxy"]

REPO = Path(__file__).resolve().parent.parent
NODE_PREFIX = REPO / "deploy" / "node"
# started as root, each course folder of a local hub goes to a user of its own: these uids
# (no account, no login) are the first course's, the next one's, ...
THROWAWAY_UID = 64100


def require_proxy(prefix: Path = NODE_PREFIX) -> Path:
    """configurable-http-proxy as ``make hub`` installs it (``npm ci`` against the lock file in
    ``prefix``); a UserError that says so when it is not there. Nothing is installed here."""
    proxy = prefix / "node_modules" / ".bin" / "configurable-http-proxy"
    if not proxy.exists():
        raise UserError(f"{proxy} is missing: run `make hub`, which installs "
                        f"configurable-http-proxy from {prefix / 'package-lock.json'} "
                        f"(npm ci --prefix {prefix})")
    return proxy


def _from_pid_file(path: Path) -> list[psutil.Process]:
    try:
        return [psutil.Process(int(path.read_text().strip()))]
    except (OSError, ValueError, psutil.NoSuchProcess):
        return []


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalHub:
    def __init__(self, course_file: Path | str | list, state_dir: Path | str, *, password: str,
                 port: int | None = None, formgrader: bool = False, idle_timeout: int = 0,
                 dashboard: bool = False,
                 exchange_managed: bool = True, exchange_api_token: str = "",
                 extra_config: str = "", settings: dict | None = None):
        files = course_file if isinstance(course_file, list) else [course_file]
        self.course_files = [Path(path).resolve() for path in files]
        self.course_file = self.course_files[0]
        self.state = Path(state_dir).resolve()
        self.password = password
        self._ports: set[int] = set()
        self.port = port or self.free_port()
        self.hub_port, self.proxy_api_port = self.free_port(), self.free_port()
        self.exchange_port = self.free_port()
        self.formgrader_port = self.free_port()
        self.formgrader, self.idle_timeout = formgrader, idle_timeout
        self.dashboard, self.dashboard_port = dashboard, self.free_port()
        self.exchange_managed, self.exchange_api_token = exchange_managed, exchange_api_token
        self.extra_config = extra_config
        self.settings = settings or {}
        self.proc: subprocess.Popen | None = None
        self.proc_returncode: int | None = None
        self.log_path = self.state / "jupyterhub.log"

    def free_port(self) -> int:
        """A free loopback port that none of this hub's services was given yet (the kernel may
        hand a port just released to two callers in a row)."""
        while (port := free_port()) in self._ports:
            pass
        self._ports.add(port)
        return port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def exchange_url(self) -> str:
        return f"http://127.0.0.1:{self.exchange_port}/services/exchange/"

    def config_lines(self) -> list[str]:
        """The lines of the generated jupyterhub_config.py."""
        courses = ({"course_file": str(self.course_file)} if len(self.course_files) == 1 else
                   {"course_files": [str(path) for path in self.course_files],
                    "service_ports": self.course_service_ports()})
        settings = {**courses, "authenticator": "simple", "simple_password": self.password,
                    "exchange_port": self.exchange_port, "formgrader": self.formgrader,
                    "formgrader_port": self.formgrader_port, "idle_timeout": self.idle_timeout,
                    "dashboard": self.dashboard, "dashboard_port": self.dashboard_port,
                    "home_root": str(self.state / "home"),
                    "exchange_managed": self.exchange_managed,
                    "exchange_api_token": self.exchange_api_token, **self.settings}
        lines = [f"# written by {type(self).__module__}.{type(self).__name__}",
                 "import signal", "", "from hub_config import apply", "",
                 "c = get_config()  # noqa: F821",
                 # JupyterHub stops each service with SIGINT (SIGTERM 30 s later) and starts
                 # them before it handles SIGINT itself: a hub started with SIGINT ignored (a
                 # script's background job, as CI runs) would pass that on to every service
                 "if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:",
                 "    signal.signal(signal.SIGINT, signal.default_int_handler)"]
        lines += [f"c.CourseHub.{key} = {value!r}" for key, value in settings.items()]
        return [*lines, "apply(c)",
                f"c.JupyterHub.bind_url = {self.url + '/'!r}",
                f"c.JupyterHub.hub_bind_url = 'http://127.0.0.1:{self.hub_port}'",
                f"c.ConfigurableHTTPProxy.api_url = 'http://127.0.0.1:{self.proxy_api_port}'",
                f"c.ConfigurableHTTPProxy.command = [{str(require_proxy())!r}]",
                f"c.JupyterHub.db_url = 'sqlite:///{self.state / 'jupyterhub.sqlite'}'",
                f"c.JupyterHub.cookie_secret_file = {str(self.state / 'cookie_secret')!r}",
                f"c.JupyterHub.pid_file = {str(self.state / 'jupyterhub.pid')!r}",
                "c.JupyterHub.cleanup_servers = True",
                "c.Spawner.start_timeout = 120",
                "c.Spawner.http_timeout = 120",
                self.extra_config]

    def course_service_ports(self) -> dict[str, int]:
        """Free ports for every course's formgrader and dashboard but the first's (which get
        ``formgrader_port`` and ``dashboard_port``), so nothing counts up into a taken port."""
        from course.coursefile import load_course
        from hub_config.roles import dashboard_names, formgrader_name

        courses = [load_course(path)[0] for path in self.course_files[1:]]
        ports = {formgrader_name(course): self.free_port() for course in courses}
        names = dashboard_names([load_course(self.course_file)[0], *courses])
        return {**ports, **{names[course.id]: self.free_port() for course in courses}}

    def write_config(self) -> Path:
        self.state.mkdir(parents=True, exist_ok=True)
        path = self.state / "jupyterhub_config.py"
        path.write_text("\n".join(self.config_lines()) + "\n")
        return path

    def hand_course_folders(self) -> None:
        """As root, give each root-owned course folder a throwaway user of its own, so that its
        formgrader runs as that user (``hub_config.settings.formgrader_identity``), never as
        root and never as another course's user. Folders someone already owns stay theirs."""
        if os.geteuid() != 0 or not self.formgrader:
            return
        from course.gradebook.database import upgrade_database
        from course.workspace import open_workspace

        for index, path in enumerate(self.course_files):
            root = path.parent
            if root.stat().st_uid != 0:
                continue
            for parent in root.parents:  # the formgrader must be able to reach its folder
                if not parent.stat().st_mode & 0o001:
                    raise UserError(f"{parent} is closed to other users, so the formgrader of "
                                    f"{root} could not reach it: chmod o+x {parent}, or keep "
                                    f"the course elsewhere")
            uid = THROWAWAY_UID + index
            # made now if it is missing (as `course upgrade` would), so that it is the course's too
            upgrade_database(open_workspace(path).db_url)
            for folder, dirs, files in os.walk(root):
                for name in (folder, *(os.path.join(folder, n) for n in (*dirs, *files))):
                    os.lchown(name, uid, uid)

    def start(self, timeout: float = 90) -> LocalHub:
        self.hand_course_folders()
        config = self.write_config()
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        if self.exchange_api_token:
            env["COURSE_EXCHANGE_API_TOKEN"] = self.exchange_api_token
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "jupyterhub", "-f", str(config)], cwd=self.state,
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                self.stop()
                raise RuntimeError(f"jupyterhub exited ({self.proc_returncode}):\n"
                                   f"{self.log_tail()}")
            try:
                if requests.get(f"{self.url}/hub/api/", timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(f"jupyterhub did not answer in {timeout:.0f} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def wait_for(self, url: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if requests.get(url, timeout=2).status_code < 500:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"{url} did not answer in {timeout:.0f} s:\n{self.log_tail()}")

    def spawned(self) -> list[psutil.Process]:
        """The processes this hub started: its children, and (should it have died, leaving
        them to init) every service and server whose hub API is this hub's."""
        try:
            family = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        api = f"http://127.0.0.1:{self.hub_port}/"
        for process in psutil.process_iter():
            try:
                if process.environ().get("JUPYTERHUB_API_URL", "").startswith(api):
                    family.append(process)
            except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
                pass
        return list(set(family))

    def stop(self, timeout: float = 30) -> None:
        """Stop the hub (it stops the servers and services it started), then anything left,
        even if the hub died first."""
        if self.proc is None:
            return
        family = [*self.spawned(), *_from_pid_file(self.state / "jupyterhub-proxy.pid")]
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for child in family:
            try:
                child.terminate()
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(family, timeout=5)
        for child in alive:
            try:
                child.kill()
            except psutil.NoSuchProcess:
                pass
        try:  # the hub's own process group: the proxy, if the hub died before stopping it
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc_returncode, self.proc = self.proc.returncode, None
