"""hub_config registers the dashboard like the exchange: a managed service with browser login
through the hub's OAuth, opened by both course groups; LocalHub (course hub) turns it on."""

import runpy

from small_courses import configured
from traitlets.config import Config

from devhub.hubcourse import build_hub_course
from devhub.localhub import LocalHub


def test_the_dashboard_is_a_service_both_groups_may_open(tmp_path):
    course_file = build_hub_course(tmp_path / "course", release="none")
    c = configured(course_file, dashboard_port=9123)
    services = {s["name"]: s for s in c.JupyterHub.services}
    dashboard = services["dashboard"]
    assert dashboard["url"] == "http://127.0.0.1:9123"
    assert dashboard["command"][-4:] == ["dashboard", "serve", "--course",
                                         str(course_file.resolve())]
    assert dashboard["oauth_no_confirm"] is True and "api_token" not in dashboard
    roles = {r["name"]: r for r in c.JupyterHub.load_roles}
    for group_role in ("nbgrader-dl-hub", "formgrade-dl-hub"):
        assert "access:services!service=dashboard" in roles[group_role]["scopes"]
    assert "access:services!service=dashboard" not in c.Spawner.server_token_scopes
    off = configured(course_file, dashboard=False)
    assert "dashboard" not in {s["name"] for s in off.JupyterHub.services}
    assert not [r for r in off.JupyterHub.load_roles
                if "access:services!service=dashboard" in r["scopes"]]


def test_course_hub_turns_the_dashboard_on(tmp_path):
    course_file = build_hub_course(tmp_path / "course", release="none")
    hub = LocalHub(course_file, tmp_path / "state", password="password-123", dashboard=True)
    c = Config()
    runpy.run_path(str(hub.write_config()), init_globals={"get_config": lambda: c})
    (dashboard,) = [s for s in c.JupyterHub.services if s["name"] == "dashboard"]
    assert dashboard["url"] == f"http://127.0.0.1:{hub.dashboard_port}"
