"""The hub starts the lti-jwks service (the LTI tool's public keys) for a course registered with
an LMS platform, and only then; it holds no hub token, role or secret but the key folder's
path."""

from small_courses import LTI_PLATFORM, configured, course_text


def test_a_course_with_a_platform_gets_the_jwks_service(tmp_path, monkeypatch):
    plain, registered = tmp_path / "a" / "course.yml", tmp_path / "b" / "course.yml"
    plain.parent.mkdir()
    registered.parent.mkdir()
    plain.write_text(course_text("dl-a"))
    registered.write_text(course_text("dl-b") + LTI_PLATFORM)
    monkeypatch.delenv("COURSE_LTI_KEY_DIR", raising=False)
    assert "lti-jwks" not in {s["name"] for s in configured(plain).JupyterHub.services}
    monkeypatch.setenv("COURSE_LTI_KEY_DIR", "/run/secrets/lti")
    c = configured([plain, registered], lti_jwks_port=9123)
    service = {s["name"]: s for s in c.JupyterHub.services}["lti-jwks"]
    assert service["url"] == "http://127.0.0.1:9123"
    assert service["command"][1:] == ["-m", "hub_config.lti_jwks",
                                      "--course", str(plain.resolve()),
                                      "--course", str(registered.resolve())]
    assert service["environment"] == {"COURSE_LTI_KEY_DIR": "/run/secrets/lti"}
    assert "api_token" not in service and not service["display"]
    assert not any("lti-jwks" in str(role) for role in c.JupyterHub.load_roles)
