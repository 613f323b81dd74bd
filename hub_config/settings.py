"""A JupyterHub configuration for one course, from a few settings (``c.CourseHub.*``).

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
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from traitlets import Bool, CaselessStrEnum, Dict, Integer, List, Unicode, default
from traitlets.config import Config, Configurable

from course.coursefile import Course, load_course

from .roles import (
    DASHBOARD,
    course_groups,
    course_roles,
    formgrader_name,
    staff_ids,
    student_ids,
)

__all__ = ["CourseHub", "apply"]

HERE = Path(__file__).resolve().parent
SINGLEUSER_CONFIG = HERE / "singleuser"  # nbgrader_config.py for students' servers
FORMGRADER_CONFIG = HERE / "formgrader"  # nbgrader_config.py for the formgrader service


class CourseHub(Configurable):
    course_file = Unicode(help="the course file whose roster fills the hub's groups").tag(
        config=True)
    authenticator = CaselessStrEnum(
        ["simple", "generic-oauth", "lti13"], "simple",
        help="simple: one shared password for the roster (local use only); generic-oauth: "
             "oauthenticator's GenericOAuthenticator; lti13: ltiauthenticator's LTI 1.3").tag(
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
    formgrader_port = Integer(9999, help="port of the formgrader service").tag(config=True)
    dashboard = Bool(True, help="run the course dashboard (dashboard/) as a service: "
                     "instructors' overview, each student's own standing").tag(config=True)
    dashboard_port = Integer(8767, help="port of the dashboard service").tag(config=True)
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
        return str(Path(self.course_file).resolve().parent / "hub-home")

    @default("exchange_url")
    def _exchange_url(self):
        return f"http://127.0.0.1:{self.exchange_port}/services/{self.exchange_service}/"

    def load_course(self) -> Course:
        return load_course(self.course_file)[0]


def _course_root(hub: CourseHub) -> Path:
    return load_course(hub.course_file)[1].resolve().parent


def _services(hub: CourseHub, course: Course) -> tuple[list[dict], list[dict]]:
    course_file = str(load_course(hub.course_file)[1].resolve())
    python = sys.executable
    exchange = {"name": hub.exchange_service,
                "url": f"http://{hub.exchange_ip}:{hub.exchange_port}",
                "display": False}
    if hub.exchange_managed:
        exchange["command"] = [python, "-m", "course.cli", "exchange", "serve",
                               "--course", course_file, "--ip", hub.exchange_ip]
        exchange["environment"] = {"COURSE_EXCHANGE_STAFF_SERVICES": formgrader_name(course)
                                   if hub.formgrader else ""}
    else:
        exchange["api_token"] = hub.exchange_api_token or os.environ["COURSE_EXCHANGE_API_TOKEN"]
    services, roles = [exchange], []
    if hub.formgrader:
        args = ["--allow-root"] if os.geteuid() == 0 else []
        services.append({
            "name": formgrader_name(course), "url": f"http://127.0.0.1:{hub.formgrader_port}",
            "command": [python, "-m", "jupyterhub.singleuser", *args,
                        "--ServerApp.root_dir=" + str(_course_root(hub))],
            "cwd": str(_course_root(hub)), "oauth_no_confirm": True,
            "environment": {"JUPYTERHUB_DEFAULT_URL": "/lab", "COURSE_FILE": course_file,
                            "COURSE_EXCHANGE_URL": hub.exchange_url,
                            "JUPYTER_CONFIG_PATH": str(FORMGRADER_CONFIG)}})
    if hub.dashboard:  # browser logins through the hub's OAuth, no confirmation page
        services.append({
            "name": DASHBOARD, "url": f"http://127.0.0.1:{hub.dashboard_port}",
            "command": [python, "-m", "course.cli", "dashboard", "serve", "--course", course_file],
            "oauth_no_confirm": True, "display": True})
    if hub.idle_timeout:
        services.append({"name": "idle-culler",
                         "command": [python, "-m", "jupyterhub_idle_culler",
                                     f"--timeout={hub.idle_timeout}"]})
        roles.append({"name": "idle-culler", "description": "stop idle servers",
                      "scopes": ["list:users", "read:users:activity", "read:servers",
                                 "delete:servers"], "services": ["idle-culler"]})
    return services, roles


def user_environment(hub: CourseHub, course: Course) -> dict:
    env = {"TF_FORCE_GPU_ALLOW_GROWTH": "true", "COURSE_ID": course.id,
           "COURSE_EXCHANGE_URL": hub.exchange_url, "JUPYTER_CONFIG_PATH": str(SINGLEUSER_CONFIG)}
    if hub.formgrader:  # the staff's Course List leads there (hub_config.singleuser)
        staff, service = set(staff_ids(course)), formgrader_name(course)
        env["COURSE_FORMGRADER_SERVICE"] = (
            lambda spawner: service if spawner.user.name in staff else "")
    return {**env, **hub.extra_env}


def apply(c: Config) -> CourseHub:
    """Fill ``c`` (a jupyterhub_config.py's config) for the course named by c.CourseHub."""
    from .authenticators import configure_authenticator
    from .spawners import configure_spawner

    hub = CourseHub(config=c)
    if not hub.course_file:
        raise ValueError("set c.CourseHub.course_file to the course's course.yml")
    course = hub.load_course()
    c.JupyterHub.load_groups = course_groups(course)
    services, service_roles = _services(hub, course)
    c.JupyterHub.services = services
    c.JupyterHub.load_roles = [*course_roles(course, exchange=hub.exchange_service,
                                             formgrader=hub.formgrader,
                                             dashboard=DASHBOARD if hub.dashboard else None),
                               *service_roles]
    c.Authenticator.allowed_users = set(student_ids(course)) | set(staff_ids(course))
    if hub.admin_users:
        c.Authenticator.admin_users = set(hub.admin_users)
    # the token in each user's server may reach the exchange (if the user's roles allow it)
    c.Spawner.server_token_scopes = ["users:activity!user", "access:servers!server",
                                     f"access:services!service={hub.exchange_service}"]
    c.Spawner.default_url = "/lab"
    c.Spawner.environment = user_environment(hub, course)
    configure_authenticator(c, hub)
    configure_spawner(c, hub)
    return hub
