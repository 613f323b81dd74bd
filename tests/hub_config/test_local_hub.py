"""The launcher of ``course hub`` (devhub/localhub.py) and its test double (tests/hub_doubles.py):
what the generated jupyterhub_config.py holds, without starting a hub."""

import runpy

import pytest
from hub_doubles import ScriptedHub
from traitlets.config import Config

from course.errors import UserError
from devhub.hubcourse import build_hub_course
from devhub.localhub import LocalHub, require_proxy


def test_the_proxy_is_the_one_make_hub_installs_from_the_lock(tmp_path):
    with pytest.raises(UserError, match=r"run `make hub`.*package-lock\.json") as missing:
        require_proxy(tmp_path)
    assert str(tmp_path / "node_modules" / ".bin" / "configurable-http-proxy") in str(missing.value)
    assert list(tmp_path.iterdir()) == []  # nothing was installed
    proxy = tmp_path / "node_modules" / ".bin" / "configurable-http-proxy"
    proxy.parent.mkdir(parents=True)
    proxy.touch()
    assert require_proxy(tmp_path) == proxy


def _loaded(hub: LocalHub) -> Config:
    c = Config()
    runpy.run_path(str(hub.write_config()), init_globals={"get_config": lambda: c})
    return c


def test_course_hub_has_no_admin_service_the_test_double_adds_one(tmp_path):
    course_file = build_hub_course(tmp_path / "course", release="none")
    plain = _loaded(LocalHub(course_file, tmp_path / "plain", password="password-123"))
    assert [s["name"] for s in plain.JupyterHub.services] == ["exchange", "roster-sync"]
    assert not [s for s in plain.JupyterHub.services if "api_token" in s]
    assert not [r for r in plain.JupyterHub.load_roles if "admin:users" in r["scopes"]]

    scripted = _loaded(ScriptedHub(course_file, tmp_path / "scripted", password="password-123",
                                   admin_token="a" * 32))
    services = {s["name"]: s for s in scripted.JupyterHub.services}
    assert services["local-admin"] == {"name": "local-admin", "api_token": "a" * 32}
    roles = {r["name"]: r for r in scripted.JupyterHub.load_roles}
    assert roles["local-admin"]["services"] == ["local-admin"]
    assert {"admin:users", "tokens"} <= set(roles["local-admin"]["scopes"])
