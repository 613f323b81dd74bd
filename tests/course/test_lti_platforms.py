"""The course file's ``lti:`` section (course.lti_platforms): the platform registrations, each
mistake named at its line, and the key folder that is never the course file."""

import pytest
from small_courses import BASE_COURSE

from course.coursefile import CourseFileError, parse_course
from course.lti_platforms import key_folder

PLATFORM = """\
    - name: moodle
      issuer: https://moodle.example.edu
      client_id: kT8s2rVq
      deployment_ids: ["3"]
      auth_login_url: https://moodle.example.edu/mod/lti/auth.php
      auth_token_url: https://moodle.example.edu/mod/lti/token.php
      key_set_url: https://moodle.example.edu/mod/lti/certs.php
      contexts:
        - 42
        - {id: "43", lineitems_url: "https://moodle.example.edu/li?type_id=3"}
"""


def course(platforms: str) -> str:
    return BASE_COURSE + "lti:\n  platforms:\n" + platforms


def test_a_registration_reads_with_its_contexts():
    lti = parse_course(course(PLATFORM)).lti
    platform = lti.platform("https://moodle.example.edu", "kT8s2rVq")
    assert platform is not None and platform.label == "moodle"
    assert [c.id for c in platform.contexts] == ["42", "43"]  # a bare number is a context id
    assert platform.context("43").lineitems_url.endswith("?type_id=3")
    assert platform.context("44") is None
    assert lti.platform("https://moodle.example.edu", "another-client") is None
    assert parse_course(BASE_COURSE).lti.platforms == []  # optional


@pytest.mark.parametrize(("change", "message"), [
    (("      client_id: kT8s2rVq\n", ""), "lti.platforms[0].client_id: required but missing"),
    (("https://moodle.example.edu/mod/lti/token.php", "ftp://x/token"), "an https:// URL"),
    # tokens, keys and grades never travel in the clear: plain http only to loopback
    (("https://moodle.example.edu/mod/lti/token.php", "http://moodle.example.edu/token"),
     "lti.platforms[0].auth_token_url: should be an https:// URL"),
    (("issuer: https://moodle.example.edu", "issuer: http://moodle.example.edu"),
     "lti.platforms[0].issuer: should be an https:// URL"),
    (("https://moodle.example.edu/mod/lti/certs.php", "http://10.0.0.5/certs.php"),
     "lti.platforms[0].key_set_url: should be an https:// URL"),
    (("https://moodle.example.edu/li?type_id=3", "http://127.0.0.1.evil.example/li"),
     "lineitems_url: should be an https:// URL"),
    (('deployment_ids: ["3"]', "deployment_ids: []"), "at least 1"),
    (("        - 42\n", "        - 43\n"), "context id(s) listed twice: 43"),
    (("      contexts:", "      secret_key: abc\n      contexts:"), "lti.platforms[0].secret_key: unknown key"),
])
def test_mistakes_are_named_at_their_line(change, message):
    with pytest.raises(CourseFileError) as error:
        parse_course(course(PLATFORM.replace(*change)))
    assert message in str(error.value)
    assert "course.yml:" in str(error.value)


def test_plain_http_is_taken_on_loopback_only():
    for host in ("127.0.0.1:8000", "localhost", "[::1]:9"):
        lti = parse_course(course(PLATFORM.replace("https://moodle.example.edu",
                                                   f"http://{host}"))).lti
        assert lti.platforms[0].key_set_url == f"http://{host}/mod/lti/certs.php"


def test_a_platform_registered_twice_is_refused():
    with pytest.raises(CourseFileError, match="registered twice"):
        parse_course(course(PLATFORM + PLATFORM.replace("name: moodle", "name: again")))


def test_the_keys_live_outside_the_course_file(tmp_path, monkeypatch):
    monkeypatch.delenv("COURSE_LTI_KEY_DIR", raising=False)
    (tmp_path / "dl").mkdir()
    # beside the course folder, never in it: the formgrader lets graders read that folder
    assert key_folder(tmp_path / "dl" / "course.yml") == tmp_path / "dl-lti-keys"
    monkeypatch.setenv("COURSE_LTI_KEY_DIR", "/run/secrets/lti")
    assert str(key_folder(tmp_path / "course.yml")) == "/run/secrets/lti"
