"""A JupyterHub configuration for one course or several, from a few settings (``c.CourseHub.*``).

In ``jupyterhub_config.py``::

    from hub_config import apply
    c.CourseHub.course_file = "/srv/course/course.yml"
    c.CourseHub.spawner = "docker"              # local | docker | kube
    c.CourseHub.authenticator = "generic-oauth" # simple | generic-oauth | lti13
    apply(c)
    # then the provider's own settings, e.g. c.GenericOAuthenticator.client_id = ...

``apply`` fills in the groups and roles from the roster, the exchange, formgrader and idle-culler
services, the authenticator's allowed users and the spawner (with GPU placement for containers).
Anything set after it wins.

Several courses on one hub: ``c.CourseHub.course_files = [".../a/course.yml", ".../b/course.yml"]``.
One exchange serves them all (routed by course id, roles from each roster); each course gets
its own groups, roles, formgrader (``formgrader-<id>``) and dashboard (``dashboard-<id>``), so
the staff of one course reach nothing of another's.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets import Bool, CaselessStrEnum, Dict, Integer, List, Unicode, default
from traitlets.config import Config, Configurable

from course.coursefile import Course, load_course
from course.fresh_course import FreshCourse

from .lti_jwks import DEFAULT_PORT as LTI_JWKS_PORT
from .roles import (
    course_groups,
    course_roles,
    dashboard_names,
    formgrader_name,
    staff_ids,
    student_ids,
)
from .roster_sync import scopes as roster_sync_scopes

__all__ = ["CourseHub", "apply"]

HERE = Path(__file__).resolve().parent
SINGLEUSER_CONFIG = HERE / "singleuser"  # nbgrader_config.py for students' servers
FORMGRADER_CONFIG = HERE / "formgrader"  # nbgrader_config.py for the formgrader service


class CourseHub(Configurable):
    course_file = Unicode(help="the course file whose roster fills the hub's groups").tag(
        config=True)
    course_files = List(Unicode(), help="several courses on one hub: their course files (in "
                        "place of course_file)").tag(config=True)
    authenticator = CaselessStrEnum(
        ["", "simple", "generic-oauth", "lti13"], "",
        help="no default: the hub refuses to start until one is chosen. generic-oauth: "
             "oauthenticator's GenericOAuthenticator; lti13: ltiauthenticator's LTI 1.3; "
             "simple: one shared password for the roster (a local trial only)").tag(
        config=True)
    simple_password = Unicode(help="the shared password of the simple authenticator "
                              "(at least 8 characters)").tag(config=True)
    spawner = CaselessStrEnum(
        ["local", "docker", "kube"], "local",
        help="local: processes on this machine as the hub's user (development, tests); "
             "docker: DockerSpawner on one GPU server; kube: KubeSpawner on a cluster").tag(
        config=True)
    home_root = Unicode(help="local spawner: users' home folders are <home_root>/<name>").tag(
        config=True)
    exchange_service = Unicode("exchange", help="the exchange's service name").tag(config=True)
    exchange_port = Integer(8765, help="port the exchange service listens on").tag(config=True)
    exchange_ip = Unicode("127.0.0.1", help="address the exchange listens on (0.0.0.0 when "
                          "containers reach it directly)").tag(config=True)
    exchange_url = Unicode(help="the exchange's URL as user servers reach it (default: its own "
                           "address; containers: e.g. the proxy's /services/exchange/)").tag(
        config=True)
    exchange_managed = Bool(True, help="the hub starts the exchange; False: it runs on its own "
                            "with exchange_api_token").tag(config=True)
    exchange_api_token = Unicode(help="the exchange's token when it is not managed by the hub"
                                 ).tag(config=True)
    formgrader = Bool(True, help="run nbgrader's formgrader as a service for the staff").tag(
        config=True)
    formgrader_port = Integer(9999, help="port of the formgrader service (several courses: "
                              "the first; the next course's is one higher, ...)").tag(config=True)
    formgrader_urls = Dict(Unicode(), help="courses whose formgrader runs on its own (a pod "
                           "or container of its own, hub_config.formgrader.external): course "
                           "id -> the URL the proxy reaches it at; the hub starts the others"
                           ).tag(config=True)
    formgrader_api_tokens = Dict(Unicode(), help="the hub API token of each formgrader in "
                                 "formgrader_urls, by course id").tag(config=True)
    dashboard = Bool(True, help="run the course dashboard (dashboard/) as a service: "
                     "instructors' overview, each student's own standing").tag(config=True)
    dashboard_port = Integer(8767, help="port of the dashboard service (several courses: as "
                             "formgrader_port)").tag(config=True)
    lti_jwks_port = Integer(LTI_JWKS_PORT, help="port of the lti-jwks service, which publishes the LTI "
                            "tool's public keys (started when a course registers an LMS "
                            "platform under lti:)").tag(config=True)
    service_ports = Dict(Integer(), help="a port per service name (formgrader-<id>, "
                         "dashboard-<id>, ...), in place of the ports counted up above").tag(
        config=True)
    idle_timeout = Integer(3600, help="seconds of inactivity after which the idle culler stops "
                           "a user's server (0: no culler)").tag(config=True)
    gpu_devices = Dict(help="GPU device ids per node for container spawners, e.g. "
                       "{'gpu01': ['0', '1', ...]}; empty: no GPUs").tag(config=True)
    gpus_per_user = Integer(1, help="GPUs each user's server gets when gpu_devices is set").tag(
        config=True)
    users_per_gpu = Integer(1, help="users sharing one GPU (TF grows its memory as needed)").tag(
        config=True)
    extra_env = Dict(help="more environment variables for every user's server").tag(config=True)
    admin_users = List(Unicode(), help="hub admins (not needed for teaching)").tag(config=True)

    @default("home_root")
    def _home_root(self):
        return str(self.courses()[0][1].parent / "hub-home")

    @default("exchange_url")
    def _exchange_url(self):
        return f"http://127.0.0.1:{self.exchange_port}/services/{self.exchange_service}/"

    def courses(self) -> list[tuple[Course, Path]]:
        """Each course on the hub and its course file (resolved), in the order configured."""
        files = self.course_files or ([self.course_file] if self.course_file else [])
        if not files:
            raise ValueError("set c.CourseHub.course_file (or course_files) to the course.yml")
        loaded, seen = [], {}
        for file in files:
            course, path = load_course(file)
            if course.id in seen:
                raise ValueError(f"{seen[course.id]} and {path} are both course {course.id!r}: "
                                 "every course on a hub needs an id of its own")
            seen[course.id] = path
            loaded.append((course, path.resolve()))
        return loaded

    def load_course(self) -> Course:
        return self.courses()[0][0]

    def port(self, service: str, base: int, index: int) -> int:
        return self.service_ports.get(service, base + index)


def _services(hub: CourseHub, courses: list[tuple[Course, Path]]) -> tuple[list[dict], list[dict]]:
    python = sys.executable
    exchange = {"name": hub.exchange_service,
                "url": f"http://{hub.exchange_ip}:{hub.exchange_port}",
                "display": False}
    if hub.exchange_managed:
        course_args = [arg for _, path in courses for arg in ("--course", str(path))]
        exchange["command"] = [python, "-m", "commands.main", "exchange", "serve", *course_args,
                               "--ip", hub.exchange_ip]
        # each formgrader acts as a grader of its own course only
        exchange["environment"] = {"COURSE_EXCHANGE_STAFF_SERVICES": ",".join(
            f"{formgrader_name(course)}={course.id}" for course, _ in courses)
            if hub.formgrader else ""}
    else:
        exchange["api_token"] = hub.exchange_api_token or os.environ["COURSE_EXCHANGE_API_TOKEN"]
    services, roles = [exchange], []
    dashboards = dashboard_names([course for course, _ in courses])
    for index, (course, path) in enumerate(courses):
        root = str(path.parent)
        if hub.formgrader and course.id in hub.formgrader_urls:  # it runs on its own
            services.append({"name": formgrader_name(course),
                             "url": hub.formgrader_urls[course.id],
                             "api_token": hub.formgrader_api_tokens[course.id],
                             "oauth_no_confirm": True})
        elif hub.formgrader:
            name = formgrader_name(course)
            services.append({
                "name": name, "url": f"http://127.0.0.1:"
                f"{hub.port(name, hub.formgrader_port, index)}",
                # as the course folder's owner, never root (hub_config.formgrader.launch)
                "command": [python, "-m", "hub_config.formgrader.launch",
                            "--ServerApp.root_dir=" + root],
                "cwd": root, "oauth_no_confirm": True,
                "environment": {"JUPYTERHUB_DEFAULT_URL": "/lab", "COURSE_FILE": str(path),
                                "COURSE_EXCHANGE_URL": hub.exchange_url,
                                "JUPYTER_CONFIG_PATH": str(FORMGRADER_CONFIG)}})
        if hub.dashboard:  # browser logins through the hub's OAuth, no confirmation page
            name = dashboards[course.id]
            services.append({
                "name": name, "url": f"http://127.0.0.1:"
                f"{hub.port(name, hub.dashboard_port, index)}",
                "command": [python, "-m", "commands.main", "dashboard", "serve", "--course",
                            str(path)],
                "oauth_no_confirm": True, "display": True})
    if any(course.lti.platforms for course, _ in courses):  # public keys: no login, no API
        services.append({"name": "lti-jwks",
                         "url": f"http://127.0.0.1:{hub.port('lti-jwks', hub.lti_jwks_port, 0)}",
                         "command": [python, "-m", "hub_config.lti_jwks",
                                     *(arg for _, path in courses for arg in ("--course",
                                                                              str(path)))],
                         # a service's environment is not the hub's: pass the key folder on
                         "environment": {key: os.environ[key] for key in ("COURSE_LTI_KEY_DIR",)
                                         if key in os.environ},
                         "display": False})
    # the course groups follow the course files both ways (load_groups only adds, at start)
    groups = [name for course, _ in courses for name in course_groups(course)]
    services.append({"name": "roster-sync", "command": [
        python, "-m", "hub_config.roster_sync",
        *(arg for _, path in courses for arg in ("--course", str(path)))]})
    roles.append({"name": "roster-sync", "description": "course groups follow the rosters; "
                  "servers of people dropped from every roster stop",
                  "scopes": roster_sync_scopes(groups), "services": ["roster-sync"]})
    if hub.idle_timeout:
        services.append({"name": "idle-culler",
                         "command": [python, "-m", "jupyterhub_idle_culler",
                                     f"--timeout={hub.idle_timeout}"]})
        roles.append({"name": "idle-culler", "description": "stop idle servers",
                      "scopes": ["list:users", "read:users:activity", "read:servers",
                                 "delete:servers"], "services": ["idle-culler"]})
    return services, roles


def user_environment(hub: CourseHub, courses: list[Course],
                     course_files: list[Path] | None = None) -> dict:
    """Every user's server environment; what depends on the user (their courses, their role,
    the formgraders they may open) is a function of the spawner, which JupyterHub calls when
    the server starts. With ``course_files``, the rosters are those files as they are then
    (a student added mid-term gets their course; a file that does not load counts as
    ``courses`` has it)."""
    fresh = [FreshCourse(path) for path in course_files or []]

    def now() -> list[Course]:
        return [f.course() or course for f, course in zip(fresh, courses)] if fresh else courses

    def mine(spawner, *, staff_only: bool = False) -> list[Course]:
        name = spawner.user.name
        return [course for course in now() if name in staff_ids(course)
                or (not staff_only and name in student_ids(course))]

    def only_course(spawner) -> str:  # several: nbgrader asks the exchange for the list
        ids = [course.id for course in mine(spawner)]
        return ids[0] if len(ids) == 1 else ""

    def role(spawner) -> str:  # the Lab's nbgrader parts (hub_config.singleuser.student)
        return "staff" if mine(spawner, staff_only=True) else "student"

    def zone(spawner) -> str:  # nbgrader's timestamps: the courses' zone, if they share one
        zones = {course.timezone for course in mine(spawner)}
        return zones.pop() if len(zones) == 1 else ""

    env = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "COURSE_EXCHANGE_URL": hub.exchange_url,
           "JUPYTER_CONFIG_PATH": str(SINGLEUSER_CONFIG), "COURSE_ID": only_course,
           "COURSE_IDS": lambda spawner: ",".join(course.id for course in mine(spawner)),
           "COURSE_ROLE": role, "COURSE_TIMEZONE": zone}
    if hub.formgrader:  # the staff's Course List leads there (hub_config.singleuser)
        env["COURSE_FORMGRADER_SERVICE"] = lambda spawner: ",".join(
            formgrader_name(course) for course in mine(spawner, staff_only=True))
    return {**env, **hub.extra_env}


def apply(c: Config) -> CourseHub:
    """Fill ``c`` (a jupyterhub_config.py's config) for the courses named by c.CourseHub."""
    from .authenticators import configure_authenticator
    from .spawners import configure_spawner

    hub = CourseHub(config=c)
    loaded = hub.courses()
    courses = [course for course, _ in loaded]
    dashboards = dashboard_names(courses)
    c.JupyterHub.load_groups = {name: group for course in courses
                                for name, group in course_groups(course).items()}
    services, service_roles = _services(hub, loaded)
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = [
        *(role for course in courses for role in course_roles(
            course, exchange=hub.exchange_service, formgrader=hub.formgrader,
            dashboard=dashboards[course.id] if hub.dashboard else None)),
        *service_roles]
    c.Authenticator.allowed_users = {user for course in courses
                                     for user in (*student_ids(course), *staff_ids(course))}
    if hub.admin_users:
        c.Authenticator.admin_users = set(hub.admin_users)
    # the token in each user's server may reach the exchange (if the user's roles allow it)
    c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server",
                                     f"access:services!service={hub.exchange_service}"]
    c.Spawner.default_url = "/lab"
    c.Spawner.environment = user_environment(hub, courses, [path for _, path in loaded])
    configure_authenticator(c, hub)
    configure_spawner(c, hub)
    return hub
