"""LTI 1.3 launches from a running platform into a real JupyterHub (127.0.0.1, the lti13
authenticator configured from the course files alone, two courses), issue 25 items 1 and 5.

Two LMSs (``tests/lti_platform.py`` with its launch side, ``tests/lti_platform_launch.py``):
"moodle" is registered by both courses (dl-a: LMS course m-101, ml-b: m-202), "canvas" by ml-b
only (c-303). A launch in chromium ends with ada logged in as her roster id; the attacks go
through the tool's real login initiation with ``requests`` and answer it with tokens of their
own: another key, a replayed launch, a wrong audience, an expired token, an unknown deployment,
another course's context, an Instructor claim from a platform not registered for the course
(and from the registered one: the roster's role counts), a person not on the roster.
Each refusal is checked against the same request made right, which logs in.
"""

from __future__ import annotations

import re
import secrets
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import jwt
import pytest
import requests
from hub_doubles import ScriptedHub
from lti_platform import (
    INSTRUCTOR,
    LEARNER,
    Context,
    LtiPlatform,
    Member,
    ToolRegistration,
    new_rsa_key,
)
from lti_platform_launch import (
    LAUNCH_HANDLERS,
    authorize_url,
    begin_launch,
    launch_claims,
    launch_link,
    platform_answer,
    post_form,
)

from devhub.hubcourse import build_hub_course
from devhub.localhub import require_proxy

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "lti"
A, B = "dl-a", "ml-b"
COURSES = {A: (("ina", "Ina", "Structor"), [("ada", "Ada", "Lovelace"), ("ben", "Ben", "B")]),
           B: (("ivo", "Ivo", "Vector"), [("cleo", "Cleo", "Codd"), ("dora", "Dora", "E")])}

# the LMSs' people: their own user ids and emails; ada is matched by her sis_id only
ADA = Member("u-1", "ada.lovelace@lms.example.edu", "Ada Lovelace", (LEARNER,), sis_id="S-ada")
BEN_AS_INSTRUCTOR = Member("u-2", "ben@example.org", "Ben B", (INSTRUCTOR,))
ZED = Member("u-9", "zed@example.org", "Zed Outsider", (LEARNER,))
INA = Member("u-5", "ina@example.org", "Ina Structor", (INSTRUCTOR,))
ADA_AS_INSTRUCTOR = Member("c-1", "ada@example.org", "Ada Lovelace", (INSTRUCTOR,))
DORA = Member("c-4", "dora@example.org", "Dora E", (LEARNER,))


def registration(platform: LtiPlatform, tool: ToolRegistration, contexts: list[str]) -> str:
    return (f"    - {{name: {tool.client_id}, issuer: '{platform.issuer}', "
            f"client_id: {tool.client_id}, deployment_ids: ['{tool.deployment_id}'], "
            f"auth_login_url: '{authorize_url(platform)}', "
            f"auth_token_url: '{platform.url}/token', key_set_url: '{platform.jwks_url}', "
            f"contexts: {contexts}}}\n")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    require_proxy()
    tmp = tmp_path_factory.mktemp("lti-launch")
    files = {course_id: build_hub_course(tmp / course_id, course_id=course_id,
                                         instructor=instructor, students=students,
                                         release="none")
             for course_id, (instructor, students) in COURSES.items()}
    hub = ScriptedHub(list(files.values()), tmp / "hub", password="unused-password",
                      admin_token=secrets.token_hex(16), settings={"authenticator": "lti13"})
    hub.settings["lti_jwks_port"] = hub.free_port()  # the tool's key service: no fixed port
    hub.settings["admin_users"] = ["hubroot"]  # on no roster: an admin a launch never logs in
    with LtiPlatform(handlers=LAUNCH_HANDLERS) as moodle, \
            LtiPlatform(handlers=LAUNCH_HANDLERS) as canvas:
        tools = {}
        # each registration's key set: one course's (the service calls are not tested here)
        for platform, client, keys_of in ((moodle, "hub-on-moodle", A),
                                          (canvas, "hub-on-canvas", B)):
            tools[client] = platform.register_tool(ToolRegistration(
                client_id=client, deployment_id="1",
                login_url=f"{hub.url}/hub/lti13/oauth_login",
                launch_url=f"{hub.url}/hub/home",
                jwks_url=f"{hub.url}/services/lti-jwks/{keys_of}/jwks.json",
                redirect_uris=(f"{hub.url}/hub/lti13/oauth_callback",)))
        contexts = {
            "m-101": moodle.add_context(Context("m-101", "Deep Learning", [
                ADA, BEN_AS_INSTRUCTOR, ZED, INA])),
            "m-202": moodle.add_context(Context("m-202", "Machine Learning", [ADA])),
            "m-999": moodle.add_context(Context("m-999", "Not on the hub", [ADA])),
            # canvas has an LMS course with the same id as dl-a's on moodle
            "canvas:m-101": canvas.add_context(Context("m-101", "Deep Learning (copy)", [
                ADA_AS_INSTRUCTOR])),
            "c-303": canvas.add_context(Context("c-303", "Machine Learning", [DORA])),
        }
        moodle_tool, canvas_tool = tools["hub-on-moodle"], tools["hub-on-canvas"]
        with open(files[A], "a") as course_a:
            course_a.write("lti:\n  platforms:\n" + registration(moodle, moodle_tool, ["m-101"]))
        with open(files[B], "a") as course_b:
            course_b.write("lti:\n  platforms:\n" + registration(moodle, moodle_tool, ["m-202"])
                           + registration(canvas, canvas_tool, ["c-303"]))
        files[B].write_text(files[B].read_text().replace("title: Deep Learning (local hub)",
                                                         "title: Machine Learning"))
        text = files[A].read_text()  # ada's sis_id; ina's email (the LMS's are the others)
        files[A].write_text(text.replace("email: ada@example.org}", "email: ada@example.org, "
                                         "sis_id: S-ada}").replace(
            "{id: ina, first_name: Ina, last_name: Structor}",
            "{id: ina, first_name: Ina, last_name: Structor, email: ina@example.org}"))
        try:
            hub.start(timeout=180)
            yield {"hub": hub, "moodle": moodle, "canvas": canvas, "contexts": contexts,
                   "moodle_tool": moodle_tool, "canvas_tool": canvas_tool, "files": files}
        finally:
            hub.stop()


def launch(env, platform: str, context: str, member: Member) -> tuple[requests.Response,
                                                                       requests.Session]:
    """A whole launch as a browser makes it, without JavaScript: the tool's login initiation,
    the platform's authorization answer, its form posted to the tool."""
    session = requests.Session()
    auth = begin_launch(session, env[platform], env["contexts"][context], member,
                        env[f"{platform}_tool"])
    action, fields = platform_answer(session, auth)
    return post_form(session, action, fields), session


def logged_in_as(env, session: requests.Session) -> str | None:
    """Whose hub session ``session`` holds (None: none): the hub's home page names the user."""
    home = session.get(f"{env['hub'].url}/hub/home", allow_redirects=False, timeout=30)
    if home.status_code != 200:
        return None
    found = re.search(r'<span id="login_widget">\s*<span class="me-1">([^<]+)</span>',
                      home.text)
    return found.group(1) if found else "?"


def hub_user(env, name: str) -> dict:
    return env["hub"].api("GET", f"users/{name}", env["hub"].admin_token)


def crafted(env, claims_change: dict | None = None, *, member: Member = ADA, **sign):
    """Begin a real launch of ``member`` in m-101, answer it with a token made here (its
    claims changed by ``claims_change``, signed with ``sign``), post it as the browser would."""
    session = requests.Session()
    moodle, tool = env["moodle"], env["moodle_tool"]
    auth = begin_launch(session, moodle, env["contexts"]["m-101"], member, tool)
    claims = {**launch_claims(moodle, env["contexts"]["m-101"], member, tool,
                              nonce=auth.nonce), **(claims_change or {})}
    reply = post_form(session, auth.redirect_uri,
                      {"id_token": moodle.sign(claims, **sign), "state": auth.state})
    return reply, session


def test_a_launch_logs_a_student_in_as_her_roster_id(env):
    started = time.perf_counter()
    reply, session = launch(env, "moodle", "m-101", ADA)
    print(f"one launch (login initiation, authorization, id_token posted): "
          f"{time.perf_counter() - started:.3f} s")
    assert reply.status_code == 302, reply.text[:500]
    assert reply.headers["Location"] == "/hub/home"
    assert logged_in_as(env, session) == "ada"
    recorded = env["moodle"].state["launches"][-1]  # as the platform recorded the launch
    assert recorded["sub"] == "u-1" and recorded["iss"] == env["moodle"].issuer
    assert recorded["https://purl.imsglobal.org/spec/lti/claim/context"]["id"] == "m-101"
    print("the platform's record of the launch:", {k: v for k, v in recorded.items()
                                                    if "nrps" not in k and "ags" not in k})


def test_a_second_platform_logs_in_the_students_of_the_course_it_is_registered_for(env):
    reply, session = launch(env, "canvas", "c-303", DORA)
    assert reply.status_code == 302, reply.text[:500]
    assert logged_in_as(env, session) == "dora"


def test_an_instructor_launch_logs_the_instructor_in(env):
    reply, session = launch(env, "moodle", "m-101", INA)
    assert reply.status_code == 302, reply.text[:500]
    assert logged_in_as(env, session) == "ina"


def test_a_crafted_token_made_right_logs_in(env):
    """The harness of the attacks below: the same request, made right, is let in."""
    reply, session = crafted(env)
    assert reply.status_code == 302, reply.text[:500]
    assert logged_in_as(env, session) == "ada"


def test_a_token_signed_with_another_key_is_refused(env):
    for sign, why in (({"key": new_rsa_key()}, "signature verification failed"),
                      ({"key": new_rsa_key(), "kid": "attacker"}, "unable to find a signing key")):
        reply, session = crafted(env, **sign)
        assert reply.status_code == 400 and why in reply.text.lower(), reply.text[-800:]
        assert logged_in_as(env, session) is None


def test_a_replayed_launch_is_refused(env):
    session = requests.Session()
    auth = begin_launch(session, env["moodle"], env["contexts"]["m-101"], ADA,
                        env["moodle_tool"])
    cookies = session.cookies.copy()  # the state and nonce cookies of this login
    action, fields = platform_answer(session, auth)
    assert post_form(session, action, fields).status_code == 302  # used once
    for replay in (cookies, requests.cookies.RequestsCookieJar()):  # with its cookies, without
        again = requests.Session()
        again.cookies.update(replay)
        reply = post_form(again, action, fields)
        assert reply.status_code == 400, reply.status_code
        assert logged_in_as(env, again) is None
    # the same token sent with a new login's state and nonce
    other = requests.Session()
    fresh = begin_launch(other, env["moodle"], env["contexts"]["m-101"], ADA, env["moodle_tool"])
    reply = post_form(other, action, {**fields, "state": fresh.state})
    assert reply.status_code == 400 and "nonce" in reply.text
    assert logged_in_as(env, other) is None


def test_a_token_for_another_audience_is_refused(env):
    # a client id no course registers: nothing verifies it
    reply, session = crafted(env, {"aud": "another-tool", "azp": "another-tool"})
    assert reply.status_code == 403 and "not connected to this JupyterHub" in reply.text
    assert logged_in_as(env, session) is None
    # this client's token naming another in azp; several audiences without azp
    for change in ({"azp": "another-tool"}, {"aud": [env["moodle_tool"].client_id, "x"],
                                             "azp": None}):
        reply, session = crafted(env, change)
        assert reply.status_code == 401, reply.status_code
        assert logged_in_as(env, session) is None


def test_an_expired_token_is_refused(env):
    # the hub checks exp against its clock: this token's ran out an hour ago
    reply, session = crafted(env, now=env["moodle"].clock() - 3600, lifetime=300)
    assert reply.status_code == 400 and "expired" in reply.text.lower()
    assert logged_in_as(env, session) is None


def test_a_deployment_not_registered_is_refused(env):
    reply, session = crafted(env, {"https://purl.imsglobal.org/spec/lti/claim/deployment_id":
                                   "999"})
    assert reply.status_code == 403
    assert "link to JupyterHub is not registered here" in reply.text
    assert logged_in_as(env, session) is None


def test_a_launch_for_another_course_is_refused(env):
    reply, session = launch(env, "moodle", "m-202", ADA)  # ml-b's LMS course; ada is in dl-a
    assert reply.status_code == 403
    assert "You are not on the list of students of Machine Learning" in reply.text
    assert logged_in_as(env, session) is None
    reply, session = launch(env, "moodle", "m-999", ADA)  # an LMS course no course registers
    assert reply.status_code == 403
    assert "This LMS course (Not on the hub, context id m-999) is not connected to any " \
        "course on this JupyterHub" in reply.text  # what the instructor registers
    assert logged_in_as(env, session) is None


def test_an_instructor_claim_from_a_platform_not_registered_for_the_course_is_refused(env):
    # canvas is registered for ml-b only; its m-101 is not dl-a's, whatever role it claims
    reply, session = launch(env, "canvas", "canvas:m-101", ADA_AS_INSTRUCTOR)
    assert reply.status_code == 403
    assert "not connected to any course on this JupyterHub" in reply.text
    assert logged_in_as(env, session) is None


def test_an_instructor_claim_from_the_registered_platform_gets_the_roster_role(env):
    reply, session = launch(env, "moodle", "m-101", BEN_AS_INSTRUCTOR)
    assert reply.status_code == 302, reply.text[:500]
    assert logged_in_as(env, session) == "ben"
    ben = hub_user(env, "ben")
    assert ben["admin"] is False and ben["roles"] == ["user"]
    assert ben["groups"] == [f"nbgrader-{A}"]  # a student's group, not formgrade-dl-a


def test_someone_not_on_the_roster_gets_a_page_saying_so(env):
    reply, session = launch(env, "moodle", "m-101", ZED)
    assert reply.status_code == 403
    assert "You are not on the list of students of Deep Learning" in reply.text
    assert "ask your instructor to add you" in reply.text
    assert "zed@example.org" not in reply.text  # what the log says stays in the log
    assert logged_in_as(env, session) is None
    assert "zed" not in [user["name"] for user in env["hub"].api(
        "GET", "users", env["hub"].admin_token)]


def test_a_login_from_an_unregistered_issuer_goes_nowhere(env):
    session = requests.Session()
    tool = env["moodle_tool"]
    reply = session.post(tool.login_url, allow_redirects=False, timeout=30, data={
        "iss": "https://evil.example", "login_hint": "u-1", "target_link_uri": tool.launch_url,
        "client_id": tool.client_id})
    assert reply.status_code == 403 and "Location" not in reply.headers
    assert "not connected to this JupyterHub" in reply.text


def test_the_hubs_own_login_button_says_to_start_from_the_lms(env):
    reply = requests.get(f"{env['hub'].url}/hub/lti13/oauth_login", timeout=30,
                         allow_redirects=False)
    assert reply.status_code == 400 and "Location" not in reply.headers
    assert "Please open JupyterHub from your course" in reply.text


def test_an_unsigned_token_is_refused(env):
    session = requests.Session()
    moodle, tool = env["moodle"], env["moodle_tool"]
    auth = begin_launch(session, moodle, env["contexts"]["m-101"], ADA, tool)
    claims = launch_claims(moodle, env["contexts"]["m-101"], ADA, tool, nonce=auth.nonce)
    now = int(moodle.clock())
    unsigned = jwt.encode({**claims, "iss": moodle.issuer, "iat": now, "exp": now + 300},
                          None, algorithm="none", headers={"kid": moodle.kid})
    reply = post_form(session, auth.redirect_uri, {"id_token": unsigned, "state": auth.state})
    assert reply.status_code == 400 and "alg value is not allowed" in reply.text, reply.text
    assert logged_in_as(env, session) is None


def test_over_https_the_login_cookies_come_back_with_the_platforms_cross_site_post(env):
    """The platform (another site) POSTs the launch; a browser sends a SameSite=Lax cookie
    with no such POST, so over https the state and nonce cookies are SameSite=None; Secure."""
    tool = env["moodle_tool"]
    params = {"iss": env["moodle"].issuer, "login_hint": "u-1", "client_id": tool.client_id,
              "target_link_uri": tool.launch_url, "lti_message_hint": "m-101"}
    for scheme, cross_site in (("https", True), ("http", False)):
        reply = requests.post(tool.login_url, data=params, allow_redirects=False, timeout=30,
                              headers={"X-Forwarded-Proto": scheme})  # as a TLS proxy says
        assert reply.status_code == 302
        cookies = [c for c in reply.raw.headers.get_all("Set-Cookie")
                   if c.startswith("lti13authenticator")]
        assert len(cookies) == 2, cookies
        for cookie in cookies:
            assert ("SameSite=None" in cookie and "Secure" in cookie) is cross_site, cookie


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium")
def test_a_launch_in_the_browser_ends_in_the_hub(env):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    ignore = ARTIFACTS.parent / ".gitignore"
    if not ignore.exists():
        ignore.write_text("*\n")  # screenshots are test output, never committed
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--no-sandbox", "--disable-gpu", "--no-first-run"])
        try:
            page = browser.new_context().new_page()
            page.set_default_timeout(60_000)
            # ada clicks the link on her LMS course page
            page.goto(launch_link(env["moodle"], env["contexts"]["m-101"], ADA,
                                  env["moodle_tool"]))
            page.wait_for_url(f"{env['hub'].url}/hub/home")
            assert page.locator("#login_widget").inner_text().split()[0] == "ada"
            page.screenshot(path=str(ARTIFACTS / "launched.png"), full_page=True)
            # zed, not on the roster, lands on the hub's page saying so
            page = browser.new_context().new_page()
            page.goto(launch_link(env["moodle"], env["contexts"]["m-101"], ZED,
                                  env["moodle_tool"]))
            page.wait_for_url(f"{env['hub'].url}/hub/lti13/oauth_callback")
            page.wait_for_selector("text=You are not on the list of students")
            page.screenshot(path=str(ARTIFACTS / "not-on-roster.png"), full_page=True)
        finally:
            browser.close()


# a course file is its instructor's to edit: what dl-a's instructor writes there cannot log
# anyone in as ml-b's people

@contextmanager
def course_file_edit(env, course_id: str, change):
    """``course_id``'s course file changed by ``change(text)`` while the block runs (the hub
    reads the course files at each launch), then put back."""
    path = env["files"][course_id]
    before = path.read_text()
    path.write_text(change(before))
    try:
        yield
    finally:
        path.write_text(before)


def forged_as_dora(env, evil: LtiPlatform, client_id: str, **claims_change):
    """dl-a's instructor, who runs the platform ``evil``, starts a launch through dl-a's own
    (real) registration for the state and nonce, then posts a token signed with evil's key
    claiming canvas's issuer and ml-b's deployment, context and student dora."""
    session = requests.Session()
    auth = begin_launch(session, env["moodle"], env["contexts"]["m-101"], ADA,
                        env["moodle_tool"])
    claims = {**launch_claims(env["canvas"], env["contexts"]["c-303"], DORA,
                              env["canvas_tool"], nonce=auth.nonce),
              "iss": env["canvas"].issuer, "aud": client_id, "azp": client_id,
              **claims_change}
    reply = post_form(session, auth.redirect_uri,
                      {"id_token": evil.sign(claims), "state": auth.state})
    return reply, session


def evil_registration(env, evil: LtiPlatform, client_id: str) -> str:
    """canvas's issuer (and its login URL, copied) with the key set of evil, in dl-a's file."""
    canvas = env["canvas"]
    return (f"    - {{name: evil-{client_id}, issuer: '{canvas.issuer}', client_id: {client_id},"
            f" deployment_ids: ['1'], auth_login_url: '{authorize_url(canvas)}', "
            f"auth_token_url: '{canvas.url}/token', key_set_url: '{evil.jwks_url}', "
            "contexts: ['c-303']}\n")


def test_a_course_registering_another_courses_platform_with_its_own_keys_logs_no_one_in(env):
    with LtiPlatform(handlers=LAUNCH_HANDLERS) as evil:
        client = env["canvas_tool"].client_id  # ml-b's very client id, with evil's key set
        with course_file_edit(env, A, lambda text: text + evil_registration(env, evil, client)):
            reply, session = forged_as_dora(env, evil, client)
            assert reply.status_code == 403, reply.status_code
            assert "registered on this JupyterHub twice" in reply.text
            assert logged_in_as(env, session) is None
            # nor does ml-b's canvas log anyone in while the course files disagree about it
            tool = env["canvas_tool"]
            reply = requests.post(tool.login_url, allow_redirects=False, timeout=30, data={
                "iss": env["canvas"].issuer, "login_hint": "c-4", "client_id": client,
                "target_link_uri": tool.launch_url})
            assert reply.status_code == 403 and "Location" not in reply.headers
        reply, session = launch(env, "canvas", "c-303", DORA)  # dl-a's entry gone: works again
        assert reply.status_code == 302 and logged_in_as(env, session) == "dora"


def test_a_token_for_one_client_cannot_name_another_in_azp(env):
    # dl-a registers canvas's issuer with a client id of its own and evil's key set; the
    # token is for that client but names ml-b's in azp
    evil = LtiPlatform(handlers=LAUNCH_HANDLERS)
    with evil, course_file_edit(env, A, lambda text: text + evil_registration(env, evil,
                                                                              "evil-client")):
        reply, session = forged_as_dora(env, evil, "evil-client",
                                        azp=env["canvas_tool"].client_id)
        assert reply.status_code == 401, reply.status_code
        assert logged_in_as(env, session) is None
        reply, session = forged_as_dora(env, evil, "evil-client", aud=[
            "evil-client", env["canvas_tool"].client_id], azp=env["canvas_tool"].client_id)
        assert reply.status_code == 400, reply.status_code  # ml-b's key set: not evil's
        assert logged_in_as(env, session) is None


def test_an_instructor_cannot_put_another_courses_instructor_on_their_roster_to_launch_as(env):
    # zed, a member of dl-a's LMS course, is listed in dl-a's roster as "ivo" (ml-b's
    # instructor), with zed's own email; ml-b registers the same moodle
    def add_ivo(text: str) -> str:
        return text.replace("  students:\n", "  students:\n    - {id: ivo, email: "
                            "zed@example.org}\n", 1)

    with course_file_edit(env, A, add_ivo):
        reply, session = launch(env, "moodle", "m-101", ZED)
        assert reply.status_code == 403, reply.status_code
        assert "LMS link may not use" in reply.text
        assert logged_in_as(env, session) is None


def test_a_course_registration_never_logs_in_a_hub_admin(env):
    # dl-a's instructor lists the hub's admin "hubroot" with zed's email: zed's launch does not
    # log in as hubroot; the same edit with a name of nobody else's logs zed in (the harness)
    for name, logged_in in (("someone-new", True), ("hubroot", False)):
        def add(text: str, name=name) -> str:
            return text.replace("  students:\n", f"  students:\n    - {{id: {name}, email: "
                                "zed@example.org}\n", 1)

        with course_file_edit(env, A, add):
            reply, session = launch(env, "moodle", "m-101", ZED)
            if logged_in:
                assert reply.status_code == 302 and logged_in_as(env, session) == name
                continue
            assert reply.status_code == 403, reply.status_code
            assert "LMS link may not use" in reply.text
            assert logged_in_as(env, session) is None


def test_a_key_set_that_never_answers_does_not_stop_the_hub(env):
    """The platform's keys are fetched off the hub's event loop, with a short timeout: an
    outsider's token naming a registered issuer whose key set hangs stops no one else."""
    with socket.socket() as silent:  # accepts connections (the backlog), never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        issuer = f"http://127.0.0.1:{silent.getsockname()[1]}"
        entry = (f"    - {{name: silent, issuer: '{issuer}', client_id: silent-client, "
                 f"deployment_ids: ['1'], auth_login_url: '{issuer}/auth', auth_token_url: "
                 f"'{issuer}/token', key_set_url: '{issuer}/jwks', contexts: ['m-101']}}\n")
        with course_file_edit(env, A, lambda text: text + entry), \
                ThreadPoolExecutor(1) as pool:
            session = requests.Session()
            auth = begin_launch(session, env["moodle"], env["contexts"]["m-101"], ADA,
                                env["moodle_tool"])
            claims = {**launch_claims(env["moodle"], env["contexts"]["m-101"], ADA,
                                      env["moodle_tool"], nonce=auth.nonce),
                      "iss": issuer, "aud": "silent-client", "azp": "silent-client"}
            started = time.monotonic()
            pending = pool.submit(post_form, session, auth.redirect_uri, {
                "id_token": env["moodle"].sign(claims), "state": auth.state})
            time.sleep(1)  # the launch is waiting for the silent key set by now
            asked = time.monotonic()
            other = requests.get(f"{env['hub'].url}/hub/api/", timeout=60)
            answered = time.monotonic() - asked
            reply = pending.result(timeout=60)
            waited = time.monotonic() - started
    assert other.status_code == 200 and answered < 3, answered  # the hub went on serving
    assert reply.status_code == 400 and waited < 15, (reply.status_code, waited)
    assert logged_in_as(env, session) is None
