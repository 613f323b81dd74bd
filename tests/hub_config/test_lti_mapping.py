"""The LTI launch's mapping (hub_config/lti_launch.py): a verified id_token's claims to a course
(context id, registered by this platform) and a roster person (sis_id, else email); the roster
decides the role. No hub here: tests/hub_config/test_lti_launch.py runs the real launch."""

from __future__ import annotations

import pytest
from small_courses import configured, course_text

from course.coursefile import parse_course
from hub_config.lti_launch import CLAIM, LaunchRefused, launch_user

MOODLE, CANVAS = "https://moodle.example.edu", "https://canvas.example.edu"
INSTRUCTOR = "http://purl.imsglobal.org/vocab/lis/v2/membership#Instructor"
LEARNER = "http://purl.imsglobal.org/vocab/lis/v2/membership#Learner"


def platform(issuer: str, client: str, contexts: list[str], deployment: str = "1") -> str:
    return (f"    - {{issuer: {issuer}, client_id: {client}, deployment_ids: ['{deployment}'],"
            f" auth_login_url: {issuer}/auth, auth_token_url: {issuer}/token,"
            f" key_set_url: {issuer}/jwks, contexts: {contexts}}}\n")


def course(course_id: str, students: str, platforms: str) -> object:
    text = course_text(course_id, title=f"Course {course_id}").replace(
        "  students: [{id: ada}, {id: ben}]\n", f"  students:\n{students}").replace(
        "[{id: ina}]", "[{id: ina, email: ina@example.org}]")
    return parse_course(text + "lti:\n  platforms:\n" + platforms)


A = course("dl-a", "    - {id: ada, email: Ada@Example.org, sis_id: S-1}\n"
                   "    - {id: ben, email: ben@example.org}\n",
           platform(MOODLE, "tool-1", ["ctx-a"]))
B = course("dl-b", "    - {id: cleo, email: cleo@example.org}\n",
           platform(MOODLE, "tool-1", ["ctx-b"]) + platform(CANVAS, "tool-9", ["c-77"]))


def claims(*, iss=MOODLE, aud="tool-1", deployment="1", context="ctx-a", sourcedid=None,
           email="ada@example.org", roles=(LEARNER,)) -> dict:
    token = {"iss": iss, "aud": aud, "email": email, CLAIM + "deployment_id": deployment,
             CLAIM + "context": {"id": context}, CLAIM + "roles": list(roles)}
    if sourcedid:
        token[CLAIM + "lis"] = {"person_sourcedid": sourcedid}
    return token


def refused(token: dict) -> LaunchRefused:
    with pytest.raises(LaunchRefused) as error:
        launch_user(token, [A, B])
    return error.value


def test_the_person_is_found_by_sis_id_else_by_email_without_case():
    by_sis = launch_user(claims(sourcedid="S-1", email="someone@lms.example.edu"), [A, B])
    assert (by_sis.name, by_sis.course_id, by_sis.role) == ("ada", "dl-a", "student")
    assert launch_user(claims(email="ADA@example.ORG"), [A, B]).name == "ada"
    assert launch_user(claims(email="ben@example.org", aud=["tool-1"]), [A, B]).name == "ben"
    assert launch_user(claims(context="ctx-b", email="cleo@example.org"), [A, B]).course_id \
        == "dl-b"
    assert launch_user(claims(iss=CANVAS, aud="tool-9", context="c-77",
                              email="cleo@example.org"), [A, B]).name == "cleo"


def test_the_roster_decides_the_role_never_the_launch():
    user = launch_user(claims(roles=(INSTRUCTOR,)), [A, B])
    assert (user.name, user.role) == ("ada", "student")
    staff = launch_user(claims(email="ina@example.org", roles=(LEARNER,)), [A, B])
    assert (staff.name, staff.role) == ("ina", "instructor")


def test_someone_not_on_the_roster_is_refused_with_a_sentence_they_understand():
    error = refused(claims(email="zed@example.org"))
    assert "You are not on the list of students of Course dl-a" in error.message
    assert "ask your instructor to add you" in error.message
    assert "zed@example.org" in error.reason and "zed" not in error.message


def test_an_email_match_whose_sis_id_the_launch_contradicts_is_someone_else():
    error = refused(claims(sourcedid="S-2", email="ada@example.org"))
    assert "not on the list" in error.message


def test_a_launch_for_another_course_is_refused():
    # ada is on dl-a's roster; ctx-b is dl-b's LMS course, where she is not on the list
    assert "not on the list of students of Course dl-b" in refused(claims(context="ctx-b")).message
    # a context no course registers
    assert "not connected to any course" in refused(claims(context="ctx-zz")).message


def test_a_platform_not_registered_for_the_context_cannot_speak_for_it():
    # canvas is registered (for dl-b's c-77) but not for ctx-a: an Instructor claim changes nothing
    error = refused(claims(iss=CANVAS, aud="tool-9", context="ctx-a", roles=(INSTRUCTOR,)))
    assert "not connected to any course" in error.message
    assert "registered for no course (by this platform)" in error.reason


def test_unknown_platforms_clients_and_deployments_are_refused():
    assert "not connected to this JupyterHub" in refused(claims(iss="https://evil.example")).message
    assert "not connected to this JupyterHub" in refused(claims(aud="tool-2")).message
    error = refused(claims(deployment="7"))
    assert "link to JupyterHub is not registered" in error.message
    assert "deployment id '7'" in error.reason
    no_context = claims()
    del no_context[CLAIM + "context"]
    assert "from your course's page" in refused(no_context).message


def test_lti13_needs_a_registered_platform_to_start(tmp_path):
    bare = tmp_path / "bare" / "course.yml"
    bare.parent.mkdir()
    bare.write_text(course_text("dl-bare"))
    with pytest.raises(ValueError, match="no course file lists an LMS under lti: platforms:"):
        configured(bare, authenticator="lti13")
    registered = tmp_path / "reg" / "course.yml"
    registered.parent.mkdir()
    registered.write_text(course_text("dl-reg") + "lti:\n  platforms:\n"
                          + platform(MOODLE, "tool-1", ["ctx-a"]))
    c = configured(registered, authenticator="lti13")
    assert c.JupyterHub.authenticator_class == \
        "hub_config.authenticators.RosterLTI13Authenticator"
    assert "LTI13Authenticator" not in c  # nothing set by hand: the course file says it all


def test_a_nonce_logs_in_once_and_is_forgotten_when_its_token_has_expired():
    from ltiauthenticator.lti13.error import TokenError

    from hub_config.lti_login import CourseLTI13Authenticator

    login = CourseLTI13Authenticator()
    login.spend_nonce({"nonce": "n-1", "exp": 1000}, now=900)
    with pytest.raises(TokenError, match="replayed nonce"):
        login.spend_nonce({"nonce": "n-1", "exp": 1000}, now=999)
    login.spend_nonce({"nonce": "n-2", "exp": 2000}, now=1001)  # n-1's token is refused by now
    assert list(login._spent) == ["n-2"]


def test_a_launch_reads_the_course_file_as_it_is_and_a_broken_edit_as_it_last_loaded(tmp_path):
    from hub_config.authenticators import RosterLTI13Authenticator

    course_file = tmp_path / "course.yml"
    text = course_text("dl-live") + "lti:\n  platforms:\n" + platform(MOODLE, "tool-1", ["c-1"])
    course_file.write_text(text)
    login = RosterLTI13Authenticator(course_files=[str(course_file)])
    ada = claims(context="c-1", email="ada@example.org")
    assert "not on the list" in pytest.raises(
        LaunchRefused, launch_user, ada, login.courses_now()).value.message
    added = text.replace("{id: ada}", "{id: ada, email: ada@example.org}")
    course_file.write_text(added)  # added mid-term: the next launch lets her in
    assert launch_user(ada, login.courses_now()).name == "ada"
    course_file.write_text(added + "  - this line breaks the file\n")
    assert launch_user(ada, login.courses_now()).name == "ada"  # as it last loaded
    course_file.write_text(text)  # taken out again
    with pytest.raises(LaunchRefused):
        launch_user(ada, login.courses_now())


# the registration that verified the token is the one that maps it

def test_the_client_id_is_the_one_audience_or_azp_among_several():
    from hub_config.lti_launch import token_client

    assert token_client({"aud": "tool-1"}) == "tool-1"
    assert token_client({"aud": ["tool-1"], "azp": "tool-1"}) == "tool-1"
    assert token_client({"aud": ["tool-1", "tool-9"], "azp": "tool-9"}) == "tool-9"
    assert token_client({"aud": "tool-1", "azp": "tool-9"}) is None  # azp is not its audience
    assert token_client({"aud": ["tool-1", "tool-9"]}) is None  # several: azp says which
    assert token_client({"aud": ["tool-1", "tool-9"], "azp": "tool-2"}) is None
    assert token_client({"aud": []}) is None and token_client({}) is None


def test_courses_that_list_one_client_with_different_keys_trust_neither():
    from hub_config.lti_launch import launch_registrations

    assert [c.id for c, _ in launch_registrations([A, B], MOODLE, "tool-1")] == ["dl-a", "dl-b"]
    # course C lists moodle's issuer and dl-a's client id with a key set of its own choosing
    evil = course("dl-c", "    - {id: cleo, email: cleo@example.org}\n",
                  platform(MOODLE, "tool-1", ["ctx-a"]).replace(f"{MOODLE}/jwks",
                                                                "https://evil.example/jwks"))
    with pytest.raises(LaunchRefused) as error:
        launch_registrations([A, B, evil], MOODLE, "tool-1")
    assert "registered on this JupyterHub twice" in error.value.message
    assert "dl-a, dl-b, dl-c" in error.value.reason
    with pytest.raises(LaunchRefused):  # and the mapping looks up the same way
        launch_user(claims(), [A, B, evil])


def test_the_registration_given_maps_the_launch_and_is_not_looked_up_again():
    canvas_of_b = [(B, B.lti.platforms[1])]
    # a token whose claims name moodle's client, mapped with the canvas registration that
    # verified it: the context of dl-a is not canvas's, so nobody is logged in
    error = pytest.raises(LaunchRefused, launch_user, claims(), [A, B], canvas_of_b).value
    assert "not connected to any course" in error.message


# a course's registration logs in that course's people only

EVIL = "https://lms.evil.example"


def test_a_registration_never_logs_in_a_hub_admin():
    admin_on_roster = course("dl-c", "    - {id: root, email: mallory@example.org}\n",
                             platform(EVIL, "tool-x", ["ctx-c"]))
    token = claims(iss=EVIL, aud="tool-x", context="ctx-c", email="mallory@example.org")
    assert launch_user(token, [A, B, admin_on_roster]).name == "root"  # the harness is right
    error = pytest.raises(LaunchRefused, launch_user, token, [A, B, admin_on_roster],
                          is_admin=lambda name: name == "root").value
    assert "may not use" in error.message and "a hub admin" in error.reason


def test_a_registration_never_logs_in_a_name_of_a_course_that_does_not_register_it():
    # dl-c's instructor runs EVIL and lists dl-b's student cleo with their own email
    taken = course("dl-c", "    - {id: cleo, email: mallory@example.org}\n",
                   platform(EVIL, "tool-x", ["ctx-c"]))
    token = claims(iss=EVIL, aud="tool-x", context="ctx-c", email="mallory@example.org")
    error = pytest.raises(LaunchRefused, launch_user, token, [A, B, taken]).value
    assert "may not use" in error.message
    assert "on course dl-b's roster, which does not register this platform" in error.reason
    # and ina, on both dl-a's and dl-b's rosters, launches from canvas (dl-b's only): refused
    error = refused(claims(iss=CANVAS, aud="tool-9", context="c-77", email="ina@example.org"))
    assert "course dl-a's roster" in error.reason


def test_a_name_of_a_course_sharing_the_platform_logs_in_only_if_its_roster_agrees():
    # dl-c registers moodle's tool-1 as dl-a and dl-b do, and lists ben (dl-a's) with another
    # email: the same platform, but dl-a's roster says that launch is not ben
    shared = course("dl-c", "    - {id: ben, email: mallory@example.org}\n",
                    platform(MOODLE, "tool-1", ["ctx-c"]))
    error = pytest.raises(LaunchRefused, launch_user, claims(context="ctx-c",
                          email="mallory@example.org"), [A, B, shared]).value
    assert "course dl-a's roster has another 'ben'" in error.reason
    # the same person on both rosters, by the same email: let in
    agreeing = course("dl-c", "    - {id: ben, email: ben@example.org}\n",
                      platform(MOODLE, "tool-1", ["ctx-c"]))
    user = launch_user(claims(context="ctx-c", email="ben@example.org"), [A, B, agreeing])
    assert (user.name, user.course_id) == ("ben", "dl-c")


def test_a_platforms_key_set_is_fetched_by_one_cached_client_with_a_short_timeout():
    from hub_config.lti_login import JWKS_TIMEOUT_S, key_set

    url = "https://moodle.example.edu/jwks-cache-test"
    client = key_set(url)
    assert key_set(url) is client and key_set(url + "2") is not client  # one per URL
    assert client.timeout == JWKS_TIMEOUT_S <= 5 and client.jwk_set_cache is not None
