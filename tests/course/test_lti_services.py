"""LTI 1.3 Advantage services against a running platform (tests/lti_platform.py with its
services side, tests/lti_platform_services.py): the tool's keys and its JWKS service (the real
``hub_config.lti_jwks`` in a process of its own), client credentials with a signed JWT, the
roster pulled over Names and Role Provisioning, grades pushed over Assignment and Grade
Services and read back from the platform. Real keys and signatures throughout."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import textwrap
import time
from contextlib import contextmanager

import jwt
import pytest
import requests
from lti_platform import (
    INSTRUCTOR,
    LEARNER,
    TEACHING_ASSISTANT,
    Context,
    LtiPlatform,
    Member,
    ToolRegistration,
    free_port,
)
from lti_platform_services import (
    SERVICE_HANDLERS,
    lineitems_url,
    memberships_url,
    results_of,
    token_url,
)
from small_courses import REPO, utc

from commands.main import main
from course import calendar
from course.coursefile import load_course
from course.errors import UserError
from course.gradebook.models import LmsGradePush
from course.gradebook.records import grant_excuse, record_release, set_override
from course.lms.lti.client import ServiceClient, ServiceError
from course.lms.lti.grade_push import push_grades
from course.lms.lti.keys import list_keys, rotate, signing_key
from course.lms.lti.roster_pull import lms_role, pull_roster
from course.workspace import open_workspace

CLIENT_ID = "tool-dl"
CONTEXT, OTHER_CONTEXT = "ctx-dl", "ctx-other"
PRIVATE_PARTS = {"d", "p", "q", "dp", "dq", "qi"}
NOW = utc(2026, 11, 2, 12)  # after 01-numpy's deadline (2026-10-25 18:00 Berlin)

MEMBERS = [
    Member("u-ada", "ada@example.org", "Ada Lovelace", (LEARNER,), sis_id="S-1"),
    Member("u-ben", "ben@example.org", "Ben Bit", (LEARNER,)),
    Member("u-cleo", "cleo@example.org", "Cleo Patra", (LEARNER,), sis_id="S-3"),
    Member("u-ina", "ina@example.org", "Ina Structor", (INSTRUCTOR,)),
    Member("u-tom", "tom@example.org", "Tom Assist", (INSTRUCTOR, TEACHING_ASSISTANT)),
    Member("u-dora", "dora.new@example.org", "Dora Explorer", (LEARNER,), sis_id="S-9"),
]
HUB_NAMES = frozenset({"ivo", "root"})  # the hub's other courses' people and its admins
OTHER_MEMBERS = [Member("u-eve", "eve@example.org", "Eve Other", (LEARNER,), sis_id="S-5")]


def course_text(platform: LtiPlatform) -> str:
    return textwrap.dedent(f"""\
        id: dl-test
        title: Deep Learning (test)
        timezone: Europe/Berlin
        withdrawal_deadline: 2026-12-01
        sessions:
          - {{date: 2026-10-20, start: "10:15", topic: Intro}}
          - {{date: 2026-10-27, start: "10:15", topic: MLP}}
        assignments:
          - {{id: 01-numpy, title: NumPy, for_session: 2}}
          - {{id: 02-linreg, title: Linear regression, due: 2026-11-08 18:00}}
        policy: {{excused_misses: 1}}
        roster:
          instructors:
            - {{id: ina, first_name: Ina, last_name: Structor, email: ina@example.org}}
          students:
            - {{id: ada, first_name: Ada, last_name: Lovelace, sis_id: S-1}}
            - {{id: ben, first_name: Ben, email: ben@example.org}}
            - {{id: cleo, first_name: Cleo, sis_id: S-3}}
            - {{id: eve, first_name: Eve, email: eve@example.org}}
        lti:
          platforms:
            - name: testlms
              issuer: {platform.issuer}
              client_id: {CLIENT_ID}
              deployment_ids: ["1"]
              auth_login_url: {platform.url}/auth
              auth_token_url: {token_url(platform)}
              key_set_url: {platform.jwks_url}
              contexts:
                - id: {CONTEXT}
                  memberships_url: {memberships_url(platform, CONTEXT)}
                  lineitems_url: {lineitems_url(platform, CONTEXT)}
        """)


@pytest.fixture
def keys_dir(tmp_path, monkeypatch):
    folder = tmp_path / "secret-keys"
    monkeypatch.setenv("COURSE_LTI_KEY_DIR", str(folder))
    rotate(folder, utc(2026, 10, 1))
    return folder


@contextmanager
def jwks_running(course_files, env=None):
    """The hub's lti-jwks service for ``course_files``, started as the hub starts it (its own
    process); yields its base URL (``.../services/lti-jwks/``)."""
    port = free_port()
    prefix = "/services/lti-jwks/"
    env = {**(os.environ if env is None else env), "JUPYTERHUB_SERVICE_PREFIX": prefix,
           "JUPYTERHUB_SERVICE_URL": f"http://127.0.0.1:{port}"}
    process = subprocess.Popen([sys.executable, "-m", "hub_config.lti_jwks",
                                *(arg for path in course_files for arg in ("--course", str(path)))],
                               cwd=REPO, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}{prefix}"
    try:
        for _ in range(200):
            try:
                requests.get(base, timeout=2)
                break
            except requests.ConnectionError:
                time.sleep(0.05)
        else:
            raise RuntimeError(f"lti-jwks did not start: {process.stdout.read()}")
        yield base
    finally:
        process.terminate()
        process.wait(10)


@pytest.fixture
def jwks_service(tmp_path, keys_dir):
    """The course's JWKS URL (``<prefix><course id>/jwks.json``) of a running lti-jwks."""
    root = tmp_path / "course"
    root.mkdir()
    (root / "course.yml").write_text(course_text_stub())  # the platform's URLs come later
    with jwks_running([root / "course.yml"]) as base:
        yield f"{base}dl-test/jwks.json"


def course_text_stub() -> str:
    """A course file the JWKS service can read before the platform's URLs are known."""
    return textwrap.dedent("""\
        id: dl-test
        title: Deep Learning (test)
        timezone: Europe/Berlin
        withdrawal_deadline: 2026-12-01
        """)


@pytest.fixture
def lms(jwks_service):
    platform = LtiPlatform(handlers=SERVICE_HANDLERS)
    platform.register_tool(ToolRegistration(CLIENT_ID, "1", "http://127.0.0.1:1/login",
                                            "http://127.0.0.1:1/launch", jwks_service))
    platform.add_context(Context(CONTEXT, "Deep Learning", list(MEMBERS)))
    platform.add_context(Context(OTHER_CONTEXT, "Another course", list(OTHER_MEMBERS)))
    with platform:
        yield platform


@pytest.fixture
def course(lms, tmp_path, monkeypatch):
    """The course folder, its course file registered with ``lms``, a gradebook with: ada
    8/10 by hand, ben excused, cleo and eve missing 01-numpy; 02-linreg pending."""
    from small_courses import create_gradebook

    monkeypatch.delenv("COURSE_DB_URL", raising=False)
    monkeypatch.setenv("COURSE_USER", "ina")
    root = tmp_path / "course"
    (root / "course.yml").write_text(course_text(lms))
    create_gradebook(root)
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        record_release(gb, "01-numpy", "x", now=utc(2026, 10, 20), by="ina")
        set_override(gb, "ada", "01-numpy", 8, "on paper", now=utc(2026, 10, 26), max_score=10,
                     by="ina")
        grant_excuse(gb, "ben", "01-numpy", "ill (a private reason)", by="ina")
        gb.commit()
    return root


def push(root, now=NOW, **kwargs):
    return push_grades(open_workspace(root), now, **kwargs)


# the JWKS service: public by design, and nothing private in it

def test_the_jwks_service_publishes_the_public_keys_only_to_anyone(jwks_service, keys_dir):
    reply = requests.get(jwks_service, timeout=5)  # an outsider: no login, no token
    assert reply.status_code == 200 and reply.headers["Content-Type"].startswith(
        "application/json")
    keys = reply.json()["keys"]
    assert [k["kid"] for k in keys] == [k.kid for k in list_keys(keys_dir)]
    for key in keys:
        assert set(key) == {"kty", "n", "e", "kid", "alg", "use"}
        assert not PRIVATE_PARTS & set(key) and key["alg"] == "RS256"
    pem = next(keys_dir.glob("*.pem")).read_text()
    assert "PRIVATE" not in reply.text and pem.splitlines()[1] not in reply.text
    # the key files and anything else under the prefix are not served; nor is any other method
    base = jwks_service.rsplit("/", 1)[0]
    for path in (f"/{next(keys_dir.glob('*.pem')).name}", "/", "/../../jwks.json",
                 "/jwks.json/../secret-keys", "/../no-such-course/jwks.json"):
        assert requests.get(base + path, timeout=5).status_code == 404, path
    assert requests.post(jwks_service, data="x", timeout=5).status_code == 405


def test_each_course_has_its_own_jwks_url_listing_its_own_keys_only(tmp_path):
    """One course's key holder cannot get tokens for another course's client id: each course's
    registrations paste a URL that lists that course's keys alone."""
    files = []
    for course_id in ("dl-a", "dl-b"):
        (tmp_path / course_id).mkdir()
        (tmp_path / course_id / "course.yml").write_text(
            course_text_stub().replace("id: dl-test", f"id: {course_id}"))
        files.append(tmp_path / course_id / "course.yml")
    env = {k: v for k, v in os.environ.items() if k != "COURSE_LTI_KEY_DIR"}
    key_a, _ = rotate(tmp_path / "dl-a-lti-keys", utc(2026, 10, 1))  # each course's folder
    key_b, _ = rotate(tmp_path / "dl-b-lti-keys", utc(2026, 10, 1))
    with jwks_running(files, env) as base:
        listed = {course_id: [k["kid"] for k in requests.get(
            f"{base}{course_id}/jwks.json", timeout=5).json()["keys"]]
            for course_id in ("dl-a", "dl-b")}
        assert listed == {"dl-a": [key_a.kid], "dl-b": [key_b.kid]}
        # the URL without a course would list whose? none, on a hub of two courses
        assert requests.get(f"{base}jwks.json", timeout=5).status_code == 404
        assert requests.get(f"{base}dl-c/jwks.json", timeout=5).status_code == 404
    with jwks_running(files[:1], env) as base:  # a hub of one course keeps the old URL
        assert [k["kid"] for k in requests.get(f"{base}jwks.json", timeout=5).json()[
            "keys"]] == [key_a.kid]


def test_a_rotation_keeps_the_previous_key_published_and_the_service_follows(
        jwks_service, keys_dir):
    first = signing_key(keys_dir)
    second, retired = rotate(keys_dir, utc(2026, 10, 2))
    # new signatures: the newest, once it is published long enough
    assert retired == [] and signing_key(keys_dir, utc(2026, 10, 2, 1)) == second
    kids = [k["kid"] for k in requests.get(jwks_service, timeout=5).json()["keys"]]
    assert kids == [first.kid, second.kid]  # no restart: the service reads the folder again
    third, retired = rotate(keys_dir, utc(2026, 10, 3))
    assert [k.kid for k in retired] == [first.kid]
    assert (keys_dir / "retired" / first.path.name).exists()  # kept, not published
    kids = [k["kid"] for k in requests.get(jwks_service, timeout=5).json()["keys"]]
    assert kids == [second.kid, third.kid]
    assert oct(keys_dir.stat().st_mode & 0o777) == "0o700"
    assert oct(third.path.stat().st_mode & 0o777) == "0o600"


# client credentials: the tool's side (the platform's own checks:
# tests/test_lti_platform_selftest.py)

def test_a_key_the_platform_does_not_know_is_refused_with_its_reason(course, lms, tmp_path):
    platform = load_course(course / "course.yml")[0].lti.platforms[0]
    stranger, _ = rotate(tmp_path / "unpublished", utc(2026, 10, 1))  # not in the tool's JWKS
    client = ServiceClient(platform, stranger)
    with pytest.raises(ServiceError) as refused:
        client.token()
    assert refused.value.status == 401
    assert str(refused.value) == (f"POST {token_url(lms)}: HTTP 401: invalid_client (no key of "
                                  "that kid in the tool's JWKS)")
    assert lms.state.get("tokens", {}) == {}


def test_a_token_url_answering_html_or_nonsense_is_a_service_error(course, lms, keys_dir):
    platform = load_course(course / "course.yml")[0].lti.platforms[0]
    lms.state["token_html"] = "<html><body>Please log in</body></html>"
    with pytest.raises(ServiceError, match="not JSON"):
        ServiceClient(platform, signing_key(keys_dir)).token()
    del lms.state["token_html"]
    for lifetime in ("soon", -5, 0, True, [1]):
        lms.state["token_lifetime"] = lifetime
        with pytest.raises(ServiceError, match="expires_in"):
            ServiceClient(platform, signing_key(keys_dir)).token()
    lms.state["token_lifetime"] = "600"  # a number sent quoted: taken
    start = float(int(lms.clock()))  # the platform checks the assertion against its clock
    client = ServiceClient(platform, signing_key(keys_dir), clock=lambda: start)
    assert client.token() and client._token.expires == start + 600


def test_the_client_caches_its_token_until_it_nearly_expires(course, lms, keys_dir):
    platform = load_course(course / "course.yml")[0].lti.platforms[0]
    lms.state["token_lifetime"] = 32  # seconds; the client stops using it 30 s before
    clock = [lms.clock()]  # the assertions must hold at the platform's clock
    client = ServiceClient(platform, signing_key(keys_dir), clock=lambda: clock[0])
    first = client.token()
    clock[0] += 1
    assert client.token() == first and lms.state["issued"] == [CLIENT_ID]
    clock[0] += 2  # within the margin before its end: a new one
    assert client.token() != first and len(lms.state["issued"]) == 2


def test_during_a_rotation_both_keys_verify_and_a_retired_one_no_longer(course, lms, keys_dir):
    platform = load_course(course / "course.yml")[0].lti.platforms[0]
    old = signing_key(keys_dir)
    rotate(keys_dir, utc(2026, 10, 2))
    new = signing_key(keys_dir, utc(2026, 10, 2, 1))
    assert new != old
    old_client = ServiceClient(platform, old)  # e.g. a push that began before the rotation
    assert old_client.token() and ServiceClient(platform, new).token()
    assert jwt.get_unverified_header(ServiceClient(platform, new).assertion())["kid"] == new.kid
    rotate(keys_dir, utc(2026, 10, 3))
    old_client._token = None  # its next token needs a new assertion, signed by the old key
    with pytest.raises(ServiceError) as refused:
        old_client.token()
    assert refused.value.status == 401


# the roster over Names and Role Provisioning

def test_roles_map_as_the_roster_models_staff():
    assert lms_role([LEARNER]) == "student" and lms_role(["Learner"]) == "student"
    assert lms_role([INSTRUCTOR]) == "instructor"
    assert lms_role([INSTRUCTOR, TEACHING_ASSISTANT]) == "grader"
    assert lms_role([LEARNER, INSTRUCTOR]) == "instructor"
    assert lms_role(["http://purl.imsglobal.org/vocab/lis/v2/institution/person#Student"]) is None
    assert lms_role(["http://purl.imsglobal.org/vocab/lis/v2/membership#Mentor"]) is None


def test_roster_pull_dry_run_lists_and_writes_nothing_then_merges(course, lms):
    """Where the hub's other user names are known (``hub_names``), new people are added."""
    lms.state["page_size"] = 2  # three pages, followed by Link: rel="next"
    before = (course / "course.yml").read_text()
    change = pull_roster(course / "course.yml", dry_run=True, hub_names=HUB_NAMES)
    assert (course / "course.yml").read_text() == before
    out = "\n".join(change.details)
    assert "add tom (grader, Tom Assist (testlms context ctx-dl, user u-tom))" in out
    assert "add dora.new (student, Dora Explorer" in out and "sis_id S-9" in out
    assert "update ada (" in out and "email '' -> 'ada@example.org'" in out
    assert "update ben (" in out and "last_name '' -> 'Bit'" in out
    assert (change.added, change.updated, change.unchanged, change.conflicts) == (2, 3, 1, [])
    change = pull_roster(course / "course.yml", hub_names=HUB_NAMES)
    assert (change.added, change.updated, change.unchanged) == (2, 3, 1)
    roster = load_course(course / "course.yml")[0].roster
    assert [p.id for p in roster.graders] == ["tom"]
    assert [p.id for p in roster.students] == ["ada", "ben", "cleo", "eve", "dora.new"]
    assert roster.students[0].email == "ada@example.org" and roster.students[4].sis_id == "S-9"
    text = (course / "course.yml").read_text()
    # only the people's lines change, in the style around them; the rest stays as it was
    assert "    - {id: dora.new, first_name: Dora, last_name: Explorer, email: " \
        "dora.new@example.org, sis_id: S-9}\n  graders:\n    - {id: tom," in text
    assert [line for line in before.splitlines() if "{id: " not in line] == \
        [line for line in text.splitlines() if "{id: " not in line and line != "  graders:"]
    change = pull_roster(course / "course.yml", hub_names=HUB_NAMES)  # again: nothing new
    assert (change.added, change.updated, change.unchanged) == (0, 0, 6)


def test_roster_pull_never_mints_an_id_that_is_another_hub_users_name(course, lms):
    # LMS students whose emails' local parts are a hub admin's and another course's
    # instructor's names: as roster ids they would log in as those users
    lms.contexts[CONTEXT].members += [
        Member("u-x1", "ivo@elsewhere.example", "Ivo Other", (LEARNER,)),
        Member("u-x2", "Root@elsewhere.example", "Rooty", (LEARNER,))]
    change = pull_roster(course / "course.yml", hub_names={"ivo", "root", "ina"})
    assert "add ivo-2 (student, Ivo Other" in "\n".join(change.details)
    assert "add root-2 (student, Rooty" in "\n".join(change.details)
    ids = {p.id for p in load_course(course / "course.yml")[0].roster.students}
    assert {"ivo-2", "root-2"} <= ids and not {"ivo", "root"} & ids


def test_from_the_command_line_a_new_person_is_a_conflict_with_a_suggested_id(course, lms,
                                                                             capsys):
    """The command line cannot see the hub's other courses and admins: it adds no one whose
    id might be someone else's, but says what to add; once added, the pull merges them."""
    before = (course / "course.yml").read_text()
    assert main(["roster", "pull-lti", "--dry-run", "--course", str(course)]) == 2
    captured = capsys.readouterr()
    assert "dry run: 0 to add, 3 to update, 1 unchanged, 2 conflicts" in captured.out
    assert "suggested id 'dora.new'" in captured.err and "suggested id 'tom'" in captured.err
    assert "{id: dora.new, first_name: Dora, last_name: Explorer, email: " \
        "dora.new@example.org, sis_id: S-9} under students:" in " ".join(captured.err.split())
    assert main(["roster", "pull-lti", "--course", str(course)]) == 2
    assert (course / "course.yml").read_text() == before  # a conflict writes nothing
    # the instructor confirms the ids and adds them by hand
    (course / "course.yml").write_text(before.replace(
        "  students:\n", "  graders:\n    - {id: tom, email: tom@example.org}\n  students:\n"
        "    - {id: dora, sis_id: S-9}\n"))
    assert main(["roster", "pull-lti", "--course", str(course)]) == 0
    assert "roster: 0 added, 5 updated, 1 unchanged" in capsys.readouterr().out
    dora = next(p for p in load_course(course / "course.yml")[0].roster.students
                if p.id == "dora")
    assert dora.email == "dora.new@example.org"


def test_naming_the_hubs_other_courses_and_admins_adds_new_people_from_the_command_line(
        course, lms, capsys, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "course.yml").write_text(textwrap.dedent("""\
        id: other
        title: Other
        timezone: Europe/Berlin
        withdrawal_deadline: 2026-12-01
        assignments: []
        roster:
          instructors: [{id: tom, first_name: Tom}]
        """))
    assert main(["roster", "pull-lti", "--course", str(course), "--hub-courses", str(other),
                 "--hub-admins", "root,dora.new"]) == 0
    assert "roster: 2 added, 3 updated, 1 unchanged" in capsys.readouterr().out
    roster = load_course(course / "course.yml")[0].roster
    # tom is the other course's instructor, dora.new an admin's name: neither id is taken
    assert [p.id for p in roster.graders] == ["tom-2"]
    assert roster.students[-1].id == "dora.new-2" and roster.students[-1].sis_id == "S-9"


def test_roster_pull_merges_no_one_whose_sis_id_contradicts_or_who_matches_twice(course, lms):
    text = (course / "course.yml").read_text()
    (course / "course.yml").write_text(text.replace(
        "{id: eve, first_name: Eve, email: eve@example.org}",
        "{id: eve, first_name: Eve, email: eve@example.org, sis_id: S-5}"))
    members = lms.contexts[CONTEXT].members
    # eve's email with another sis_id: someone else, never merged into eve
    members.append(Member("u-imp", "eve@example.org", "Eve Impostor", (LEARNER,),
                          sis_id="S-666"))
    # two LMS accounts with ben's email (ben has no sis_id): neither is merged
    members.append(Member("u-ben2", "ben@example.org", "Ben Two", (LEARNER,), sis_id="S-77"))
    change = pull_roster(course / "course.yml", dry_run=True, hub_names=HUB_NAMES)
    details, conflicts = "\n".join(change.details), "\n".join(change.conflicts)
    assert "update eve" not in details and "S-666" not in details.split("add eve-2")[0]
    assert "eve and eve-2 would share the email 'eve@example.org'" in conflicts
    assert "update ben" not in details and "ben-2" not in details
    assert "ben matches 2 LMS accounts" in conflicts
    with pytest.raises(UserError):
        pull_roster(course / "course.yml", hub_names=HUB_NAMES)


def test_roster_pull_refuses_a_role_the_course_file_contradicts(course, lms, capsys):
    lms.contexts[CONTEXT].members[1] = Member("u-ben", "ben@example.org", "Ben Bit",
                                              (INSTRUCTOR,))
    before = (course / "course.yml").read_text()
    assert main(["roster", "pull-lti", "--course", str(course)]) == 2
    err = capsys.readouterr().err
    assert "ben is a student in the course file" in err and "the LMS says instructor" in err
    assert (course / "course.yml").read_text() == before


# grades over Assignment and Grade Services

def test_push_makes_one_line_item_each_and_the_platform_records_the_scores(course, lms,
                                                                           keys_dir):
    report = push(course)
    assert report.ok, report.failures
    items = list(lms.state["lineitems"][CONTEXT].values())
    assert sorted(i["resourceId"] for i in items) == ["dl-test:01-numpy",
                                                      "dl-test:policy-status"]  # 02: pending
    numpy = results_of(lms, CONTEXT, "dl-test:01-numpy")
    assert numpy["u-ada"]["scoreGiven"] == 8 and numpy["u-ada"]["scoreMaximum"] == 10
    assert numpy["u-ada"]["gradingProgress"] == "FullyGraded"
    assert numpy["u-ada"]["activityProgress"] == "Submitted"
    assert "scoreGiven" not in numpy["u-ben"] and numpy["u-ben"]["gradingProgress"] == "NotReady"
    assert numpy["u-ben"]["comment"] == "excused"  # never the excuse's private reason
    assert numpy["u-cleo"]["scoreGiven"] == 0 and numpy["u-cleo"]["activityProgress"] == \
        "Initialized" and numpy["u-cleo"]["comment"].startswith("missed")
    status = results_of(lms, CONTEXT, "dl-test:policy-status")
    # the misses left before exclusion: higher is better, as in every line item
    assert status["u-cleo"]["scoreGiven"] == 1 and status["u-cleo"]["scoreMaximum"] == 2
    assert status["u-cleo"]["comment"] == "one more miss means exclusion"
    assert status["u-ada"]["scoreGiven"] == 2 and status["u-ada"]["comment"] == "ok"
    # read back through the service as the tool reads it
    platform = load_course(course / "course.yml")[0].lti.platforms[0]
    client = ServiceClient(platform, signing_key(keys_dir))
    item = client.line_items(lineitems_url(lms, CONTEXT), "dl-test:01-numpy")
    assert len(item) == 1 and item[0]["label"] == "NumPy" and item[0]["scoreMaximum"] == 10
    results = {r["userId"]: r for r in client.results(item[0]["id"])}
    assert results["u-ada"]["resultScore"] == 8 and results["u-ada"]["resultMaximum"] == 10
    assert set(results) == {"u-ada", "u-ben", "u-cleo"}


def test_a_score_for_a_student_of_another_course_is_never_pushed(course, lms):
    report = push(course)
    assert any("eve is not a student of it" in line for line in report.not_members)
    pushed_users = {user for per_item in lms.state["scores"].values() for user in per_item}
    assert "u-eve" not in pushed_users and "u-ina" not in pushed_users
    assert OTHER_CONTEXT not in lms.state["lineitems"]  # never reached
    assert all(context == CONTEXT for context, _ in lms.state["scores"])


def test_a_student_is_never_pushed_to_an_account_the_sis_id_says_is_someone_else(course, lms):
    # one LMS account with ada's sis_id and ben's email: it is ada (sis_id first); ben, who
    # matched it by email, is no member of this context and gets nothing pushed to it
    members = lms.contexts[CONTEXT].members
    members[0] = Member("u-ada", "ben@example.org", "Ada Lovelace", (LEARNER,), sis_id="S-1")
    del members[1]  # u-ben
    report = push(course)
    assert report.ok, report.failures
    numpy = results_of(lms, CONTEXT, "dl-test:01-numpy")
    assert numpy["u-ada"]["scoreGiven"] == 8  # ada's, never ben's "excused"
    assert all(len(per_item["u-ada"]) == 1 for per_item in lms.state["scores"].values())
    assert "ben" not in {sent.student for sent in report.sent}
    assert any("ben is not a student of it" in line for line in report.not_members)


def test_an_ambiguous_match_is_reported_and_pushed_to_nobody(course, lms):
    # two Learner accounts both match ben (by email; ben has no sis_id to tell them apart)
    lms.contexts[CONTEXT].members.append(Member("u-ben2", "BEN@example.org", "Ben Two",
                                                (LEARNER,), sis_id="S-77"))
    report = push(course)
    assert report.ok, report.failures
    pushed = {user for per_item in lms.state["scores"].values() for user in per_item}
    assert "u-ben" not in pushed and "u-ben2" not in pushed and "u-ada" in pushed
    assert any("ben matches 2 LMS accounts (LMS user u-ben, LMS user u-ben2): not pushed"
               in line for line in report.not_members), report.not_members
    assert not any("ben is not a student" in line for line in report.not_members)


def test_a_second_push_sends_nothing_and_a_changed_score_is_sent_again(course, lms, capsys):
    first = push(course)
    sent = len(first.sent)
    assert sent == 3 + 3  # 01-numpy and the status of ada, ben, cleo (eve: not a member)
    histories = {k: {u: len(h) for u, h in v.items()} for k, v in lms.state["scores"].items()}
    again = push(course, utc(2026, 11, 2, 13))
    assert again.sent == [] and again.created == [] and again.unchanged == sent
    assert {k: {u: len(h) for u, h in v.items()} for k, v in lms.state["scores"].items()} == \
        histories
    ws = open_workspace(course)
    with ws.gradebook() as gb:
        set_override(gb, "ada", "01-numpy", 9.5, "re-marked", now=utc(2026, 11, 3),
                     max_score=10, by="ina")
        gb.commit()
    third = push(course, utc(2026, 11, 3, 12))
    assert [(s.student, s.item, s.score["scoreGiven"]) for s in third.sent] == [
        ("ada", "dl-test:01-numpy", 9.5)]
    assert results_of(lms, CONTEXT, "dl-test:01-numpy")["u-ada"]["scoreGiven"] == 9.5
    assert len(lms.state["lineitems"][CONTEXT]) == 2  # found again by resource id


def test_a_failure_for_one_student_is_reported_kept_and_retried(course, lms, capsys):
    lms.state["fail_users"] = {"u-cleo"}
    assert main(["lti", "push", "--course", str(course), "--as-of", "2026-11-02 13:00"]) == 1
    captured = capsys.readouterr()
    assert "failed:" in captured.err and "cleo dl-test:01-numpy" in captured.err
    assert "HTTP 500" in captured.err and "retried next push" in captured.err
    assert "sent: testlms context ctx-dl: ada dl-test:01-numpy 8/10" in captured.out
    ws = open_workspace(course)
    with ws.gradebook() as gb:
        rows = gb.session.query(LmsGradePush).filter_by(student_id="cleo").all()
        assert rows and all(row.error and row.digest is None for row in rows)
    assert "u-cleo" not in results_of(lms, CONTEXT, "dl-test:01-numpy")
    lms.state["fail_users"] = set()
    assert main(["lti", "push", "--course", str(course), "--as-of", "2026-11-02 14:00"]) == 0
    out = capsys.readouterr().out
    assert "cleo dl-test:01-numpy 0/10" in out and "ada dl-test:01-numpy" not in out
    assert "2 sent" in out and "0 failed" in out
    assert results_of(lms, CONTEXT, "dl-test:01-numpy")["u-cleo"]["scoreGiven"] == 0


def test_returning_feedback_pushes_to_the_lms_and_a_failed_push_fails_the_step(
        course, lms, capsys, monkeypatch):
    monkeypatch.setattr(calendar, "utcnow", lambda: utc(2026, 11, 2, 13))  # "now", injected
    (course / "exchange" / "dl-test" / "outbound" / "01-numpy").mkdir(parents=True)  # released
    lms.state["fail_users"] = {"u-cleo"}
    assert main(["feedback", "01-numpy", "--course", str(course)]) == 1
    captured = capsys.readouterr()
    assert "LMS grades after feedback on 01-numpy: 4 sent, 0 unchanged, 2 failed" in captured.out
    assert "course lti push" in captured.out and "cleo dl-test:01-numpy" in captured.err
    assert results_of(lms, CONTEXT, "dl-test:01-numpy")["u-ada"]["scoreGiven"] == 8
    lms.state["fail_users"] = set()
    assert main(["feedback", "01-numpy", "--course", str(course)]) == 0  # the retry
    out = capsys.readouterr().out
    assert "LMS grades after feedback on 01-numpy: 2 sent, 4 unchanged, 0 failed" in out
    assert results_of(lms, CONTEXT, "dl-test:01-numpy")["u-cleo"]["scoreGiven"] == 0


def test_a_context_for_the_launch_only_gets_no_grades_and_fails_no_step(course, lms, capsys,
                                                                         monkeypatch, keys_dir):
    monkeypatch.setattr(calendar, "utcnow", lambda: utc(2026, 11, 2, 13))
    (course / "exchange" / "dl-test" / "outbound" / "01-numpy").mkdir(parents=True)
    text = (course / "course.yml").read_text()
    start = text.index("contexts:")  # the last key of the course file: its list replaced
    (course / "course.yml").write_text(text[:start] + f'contexts: ["{CONTEXT}"]\n')
    assert main(["feedback", "01-numpy", "--course", str(course)]) == 0
    assert "LMS" not in capsys.readouterr().out  # nothing to push to
    assert main(["lti", "push", "--course", str(course)]) == 0
    assert f"skipped: testlms context {CONTEXT}: no lineitems_url" in capsys.readouterr().out
    assert lms.state.get("scores", {}) == {}


def test_without_a_key_grading_steps_say_the_push_failed(course, lms, capsys, monkeypatch,
                                                         tmp_path):
    monkeypatch.setattr(calendar, "utcnow", lambda: utc(2026, 11, 2, 13))
    monkeypatch.setenv("COURSE_LTI_KEY_DIR", str(tmp_path / "no-keys"))
    (course / "exchange" / "dl-test" / "outbound" / "01-numpy").mkdir(parents=True)
    assert main(["feedback", "01-numpy", "--course", str(course)]) == 1
    captured = capsys.readouterr()
    assert "feedback on 01-numpy:" in captured.out  # the step itself ran
    assert "LMS grades after feedback on 01-numpy not pushed" in captured.err
    assert "course lti keys rotate" in captured.err


def test_a_dry_run_sends_and_creates_nothing(course, lms, capsys):
    assert main(["lti", "push", "--dry-run", "--course", str(course), "--as-of",
                 "2026-11-02 13:00"]) == 0
    out = capsys.readouterr().out
    assert "would create line item 'NumPy' (dl-test:01-numpy, out of 10)" in out
    assert "to send: testlms context ctx-dl: ada dl-test:01-numpy 8/10" in out
    assert "dry run: 6 to send, 0 unchanged, 0 failed; nothing written" in out
    assert lms.state.get("lineitems", {}).get(CONTEXT, {}) == {}
    assert lms.state.get("scores", {}) == {}


def test_a_platform_that_refuses_the_tool_is_reported_and_nothing_is_lost(course, lms,
                                                                          keys_dir, tmp_path):
    other = tmp_path / "other-keys"
    rotate(other, utc(2026, 10, 1))
    platform = load_course(course / "course.yml")[0].lti.platforms[0]
    report = push(course, client_for=lambda p: ServiceClient(p, signing_key(other)))
    (failure,) = report.failures
    assert (failure.platform, failure.what, failure.context) == (
        "testlms", "no access token, nothing sent", "")
    assert "HTTP 401" in failure.error and lms.state.get("scores", {}) == {}
    assert push(course).ok and results_of(lms, CONTEXT, "dl-test:01-numpy")  # next time it goes
    assert platform.client_id == CLIENT_ID


def test_the_jwks_command_prints_what_the_service_serves(course, keys_dir, jwks_service, capsys,
                                                        monkeypatch):
    assert main(["lti", "jwks", "--course", str(course)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == requests.get(jwks_service, timeout=5).json()
    assert main(["lti", "keys", "list", "--course", str(course)]) == 0
    assert f"{signing_key(keys_dir).kid}  signs" in capsys.readouterr().out
    first = signing_key(keys_dir)
    now = utc(2026, 11, 2, 12)
    monkeypatch.setattr(calendar, "utcnow", lambda: now)
    assert main(["lti", "keys", "rotate", "--course", str(course)]) == 0
    new = list_keys(keys_dir)[-1]
    assert (f"new signing key {new.kid} in {keys_dir}: published now, signs from 2026-11-02 "
            "13:00 UTC") in capsys.readouterr().out
    assert [k["kid"] for k in requests.get(jwks_service, timeout=5).json()["keys"]] == \
        [first.kid, new.kid]
    assert main(["lti", "keys", "list", "--course", str(course)]) == 0
    out = capsys.readouterr().out
    assert f"{first.kid}  signs" in out and f"{new.kid}  published, signs from 2026-11-02" in out


def _platform_entry(platform, name: str, client_id: str, context_id: str) -> str:
    return textwrap.indent(textwrap.dedent(f"""\
        - name: {name}
          issuer: {platform.issuer}
          client_id: {client_id}
          deployment_ids: ["7"]
          auth_login_url: {platform.url}/auth
          auth_token_url: {token_url(platform)}
          key_set_url: {platform.jwks_url}
          contexts:
            - id: {context_id}
              memberships_url: {memberships_url(platform, context_id)}
              lineitems_url: {lineitems_url(platform, context_id)}
        """), "    ")


def test_several_platforms_in_one_push_and_one_down_stops_no_other(course, lms, jwks_service):
    second = LtiPlatform(handlers=SERVICE_HANDLERS)
    second.register_tool(ToolRegistration("tool-canvas", "7", "http://127.0.0.1:1/login",
                                          "http://127.0.0.1:1/launch", jwks_service))
    second.add_context(Context("canvas-dl", "DL in Canvas", [MEMBERS[0], MEMBERS[2]]))
    gone = LtiPlatform()  # registered, but nothing listens there any more
    with second:
        text = (course / "course.yml").read_text()
        (course / "course.yml").write_text(
            text + _platform_entry(second, "canvas", "tool-canvas", "canvas-dl")
            + _platform_entry(gone, "gone", "tool-gone", "gone-dl"))
        report = push(course)
        assert [(f.platform, f.what) for f in report.failures] == [
            ("gone", "no access token, nothing sent")]
        canvas = results_of(second, "canvas-dl", "dl-test:01-numpy")
        assert canvas["u-ada"]["scoreGiven"] == 8 and canvas["u-cleo"]["scoreGiven"] == 0
        assert set(canvas) == {"u-ada", "u-cleo"}  # ben is no member there: not pushed
        assert results_of(lms, CONTEXT, "dl-test:01-numpy")["u-ada"]["scoreGiven"] == 8
        assert second.state["issued"] == ["tool-canvas"]  # one token for the whole push


def test_without_a_registration_or_a_key_the_commands_say_what_to_do(make_course, tmp_path,
                                                                     monkeypatch, capsys):
    monkeypatch.setenv("COURSE_LTI_KEY_DIR", str(tmp_path / "no-keys-yet"))
    root = make_course()  # BASE_COURSE: no lti section
    assert main(["lti", "push", "--course", str(root)]) == 2
    assert "registers no LMS platform (lti: platforms:)" in capsys.readouterr().err
    assert main(["roster", "pull-lti", "--course", str(root)]) == 2
    assert "names no LMS context with a memberships_url" in capsys.readouterr().err
    assert main(["lti", "keys", "list", "--course", str(root)]) == 0
    assert "`course lti keys rotate` makes the first" in capsys.readouterr().out
    (root / "course.yml").write_text((root / "course.yml").read_text() + textwrap.dedent("""\
        lti:
          platforms:
            - {issuer: "https://lms.example.org", client_id: c, deployment_ids: ["1"],
               auth_login_url: "https://lms.example.org/a", auth_token_url:
               "https://lms.example.org/t", key_set_url: "https://lms.example.org/k",
               contexts: [{id: "1", memberships_url: "https://lms.example.org/m"}]}
        """))
    assert main(["roster", "pull-lti", "--course", str(root)]) == 2
    assert "no LTI key in" in capsys.readouterr().err
    assert not (tmp_path / "no-keys-yet").exists()  # nothing made by asking


# robustness: one platform's nonsense stops no other; concurrent pushes; paging; keys

def test_a_platform_whose_token_url_answers_html_stops_no_other(course, lms, jwks_service):
    second = LtiPlatform(handlers=SERVICE_HANDLERS)
    second.register_tool(ToolRegistration("tool-canvas", "7", "http://127.0.0.1:1/login",
                                          "http://127.0.0.1:1/launch", jwks_service))
    second.add_context(Context("canvas-dl", "DL in Canvas", [MEMBERS[0], MEMBERS[2]]))
    lms.state["token_html"] = "<html><body>Sign in to continue</body></html>"
    with second:
        text = (course / "course.yml").read_text()
        (course / "course.yml").write_text(
            text + _platform_entry(second, "canvas", "tool-canvas", "canvas-dl"))
        report = push(course)
        (failure,) = report.failures
        assert (failure.platform, failure.what) == ("testlms", "no access token, nothing sent")
        assert failure.error.startswith("POST ") and failure.error.endswith(": not JSON")
        assert results_of(second, "canvas-dl", "dl-test:01-numpy")["u-ada"]["scoreGiven"] == 8
        assert lms.state.get("scores", {}) == {}
        del lms.state["token_html"]
        assert push(course).ok  # next time it goes
        assert results_of(lms, CONTEXT, "dl-test:01-numpy")["u-ada"]["scoreGiven"] == 8


def test_a_line_item_listed_without_an_id_is_a_failure_not_a_crash(course, lms):
    assert push(course).ok
    lms.state["lineitems_without_id"] = True
    ws = open_workspace(course)
    with ws.gradebook() as gb:
        set_override(gb, "ada", "01-numpy", 9, "re-marked", now=utc(2026, 11, 3), max_score=10,
                     by="ina")
        gb.commit()
    report = push(course, utc(2026, 11, 3, 12))
    assert report.sent == [] and report.created == []
    (failure,) = report.failures
    assert (failure.context, failure.student, failure.item, failure.what) == (
        CONTEXT, "ada", "dl-test:01-numpy", "the line item could not be read")
    assert "has no id" in failure.error
    assert len(lms.state["lineitems"][CONTEXT]) == 2  # no second one made


def test_two_pushes_at_once_make_one_line_item_each(course, lms):
    import threading

    # a push that lists the line items waits (up to 2 s) for the other to list too: without
    # the lock both find none and both make one
    lms.state["lineitems_rendezvous"] = threading.Barrier(2)
    reports, errors = [], []

    def one_push():
        try:
            reports.append(push(course))
        except Exception as exc:  # noqa: BLE001 - the test reports it below
            errors.append(exc)

    threads = [threading.Thread(target=one_push) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(reports) == 2
    assert all(report.ok for report in reports), [r.failures for r in reports]
    items = list(lms.state["lineitems"][CONTEXT].values())
    assert sorted(i["resourceId"] for i in items) == ["dl-test:01-numpy", "dl-test:policy-status"]
    assert sorted(len(r.sent) for r in reports) == [0, 6]  # the second found it all sent
    ws = open_workspace(course)
    with ws.gradebook() as gb:
        assert gb.session.query(LmsGradePush).count() == 6


def test_a_ledger_row_another_push_just_wrote_is_updated_not_a_crash(course, lms, monkeypatch):
    from course.lms.lti import grade_push

    assert push(course).ok
    ws = open_workspace(course)
    platform = ws.course.lti.platforms[0]
    with ws.gradebook() as gb:
        ledger = grade_push._Ledger(gb, platform, platform.contexts[0])
        real_row = grade_push._Ledger.row
        calls = []

        def row_not_seen_once(self, resource_id, student_id):
            calls.append(student_id)  # the first read misses the row another push committed
            return None if len(calls) == 1 else real_row(self, resource_id, student_id)

        monkeypatch.setattr(grade_push._Ledger, "row", row_not_seen_once)
        ledger.record("dl-test:01-numpy", "ada", "u-ada", "x", digest="d", score=7.0,
                      error=None, now=utc(2026, 11, 4))
        monkeypatch.undo()
        rows = gb.session.query(LmsGradePush).filter_by(student_id="ada",
                                                        resource_id="dl-test:01-numpy").all()
        assert len(rows) == 1 and rows[0].score_given == 7.0 and rows[0].digest == "d"


def test_line_items_and_results_are_read_on_every_page(course, lms, keys_dir):
    assert push(course).ok
    lms.state["lineitems_page_size"] = 1
    lms.state["lineitems_unfiltered"] = True  # ours is on the second page only
    platform = load_course(course / "course.yml")[0].lti.platforms[0]
    client = ServiceClient(platform, signing_key(keys_dir))
    found = client.line_items(lineitems_url(lms, CONTEXT), "dl-test:policy-status")
    assert [item["label"] for item in found] == ["Policy status"]
    numpy = client.line_items(lineitems_url(lms, CONTEXT), "dl-test:01-numpy")[0]
    assert {r["userId"] for r in client.results(numpy["id"])} == {"u-ada", "u-ben", "u-cleo"}
    ws = open_workspace(course)
    with ws.gradebook() as gb:  # the ledger forgets: the push must find them again
        gb.session.query(LmsGradePush).delete()
        gb.commit()
    report = push(course, utc(2026, 11, 2, 13))
    assert report.ok and report.created == [], report.created
    assert len(lms.state["lineitems"][CONTEXT]) == 2


def test_a_new_key_is_published_first_and_signs_an_hour_later(tmp_path):
    from course.lms.lti.keys import PUBLISH_DELAY, jwks

    folder = tmp_path / "keys"
    t0 = utc(2026, 10, 1)
    first, _ = rotate(folder, t0)
    assert signing_key(folder, t0) == first  # a first key signs at once: nobody knows any
    t1 = utc(2026, 10, 20)
    second, retired = rotate(folder, t1)
    assert retired == [] and [k["kid"] for k in jwks(folder)["keys"]] == [first.kid, second.kid]
    assert signing_key(folder, t1) == first  # published, but platforms may not know it yet
    assert signing_key(folder, t1 + PUBLISH_DELAY - dt.timedelta(seconds=1)) == first
    assert signing_key(folder, t1 + PUBLISH_DELAY) == second
    with pytest.raises(UserError, match=f"rotating now would retire {first.kid}"):
        rotate(folder, t1 + dt.timedelta(minutes=30))  # it would retire the key that signs
    assert [k.kid for k in list_keys(folder)] == [first.kid, second.kid]
    third, retired = rotate(folder, t1 + 2 * PUBLISH_DELAY)
    assert retired == [first] and signing_key(folder, t1 + 2 * PUBLISH_DELAY) == second
    assert signing_key(folder, t1 + 3 * PUBLISH_DELAY) == third


def test_a_key_file_is_never_seen_half_written(tmp_path, monkeypatch):
    folder = tmp_path / "keys"
    first, _ = rotate(folder, utc(2026, 10, 1))
    seen = []

    def replace_and_look(source, target):  # the moment before the rename
        seen.append(([k.kid for k in list_keys(folder)], oct(os.stat(source).st_mode & 0o777)))
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", replace_and_look)
    with pytest.raises(OSError):
        rotate(folder, utc(2026, 10, 20))
    monkeypatch.undo()
    assert seen == [([first.kid], "0o600")]  # written under a name the key list skips
    assert [k.kid for k in list_keys(folder)] == [first.kid]
    assert sorted(p.name for p in folder.iterdir()) == [first.path.name]  # nothing left over
    second, _ = rotate(folder, utc(2026, 10, 20))
    assert oct(second.path.stat().st_mode & 0o777) == "0o600"


def test_the_policy_status_counts_misses_left_never_below_zero(make_course):
    from course.lms.lti.grade_push import status_score

    course = load_course(make_course() / "course.yml")[0]
    out_of = course.policy.excused_misses + 1
    scores = [status_score({"misses": misses, "status_text": "", "status": "x"}, course)
              for misses in (0, out_of, out_of + 2)]
    assert [s["scoreGiven"] for s in scores] == [out_of, 0, 0]
    assert {s["scoreMaximum"] for s in scores} == {out_of}


def test_a_hand_in_with_cells_left_to_grade_by_hand_is_pending_not_final():
    from course.lms.lti.grade_push import score_for

    entry = {"state": "on_time", "points": 3.0, "max_points": 10.0, "counts_as_miss": False,
             "override": None}
    pending = score_for(entry, 10.0, hand_grading_left=True)
    assert pending == {"activityProgress": "Submitted", "gradingProgress": "PendingManual",
                       "comment": "awaiting grading by hand"}  # no partial score as final
    done = score_for(entry, 10.0)
    assert done["gradingProgress"] == "FullyGraded" and done["scoreGiven"] == 3.0
    # a grade set by hand is final whatever nbgrader still waits for
    assert score_for({**entry, "override": 8.0}, 10.0, hand_grading_left=True)[
        "gradingProgress"] == "FullyGraded"


@pytest.mark.parametrize("db_url", ["sqlite", pytest.param("postgres",
                                                           marks=pytest.mark.postgres)],
                         indirect=True)
def test_the_push_lock_lets_one_push_of_a_course_in_at_a_time(make_course, db_url):
    import threading

    from course.lms.lti.push_lock import push_lock

    ws = open_workspace(make_course(db_url=db_url))
    order = []

    def second_push():
        with ws.gradebook() as gb, push_lock(gb, ws.course.id):
            order.append("second in")

    with ws.gradebook() as gb, push_lock(gb, ws.course.id):
        waiting = threading.Thread(target=second_push)
        waiting.start()
        waiting.join(1.5)  # it waits for this one
        assert waiting.is_alive()
        order.append("first out")
    waiting.join(10)
    assert order == ["first out", "second in"]


def test_only_a_graded_hand_in_waiting_for_hand_grading_is_held_back(make_course):
    from course.lms.lti.grade_push import _items

    course = load_course(make_course() / "course.yml")[0]
    first = course.assignments[0].id
    entry = {"state": "on_time", "points": 3.0, "max_points": 10.0, "counts_as_miss": False,
             "override": None}
    missed = {**entry, "state": "missing", "points": 0.0}
    asked = []

    def hand_grading_left(student_id, assignment_id):
        asked.append((student_id, assignment_id))
        return student_id == "ada"

    data = {"max_points": {first: 10.0}, "students": [
        {"id": sid, "misses": 0, "status": "ok", "status_text": "",
         "assignments": {a.id: (entry if sid != "cleo" else missed) if a.id == first else
                         {**entry, "points": None, "state": "pending"}
                         for a in course.assignments}}
        for sid in ("ada", "ben", "cleo")]}
    (item, _status) = _items(course, data, hand_grading_left)
    assert item.scores["ada"]["gradingProgress"] == "PendingManual"
    assert "scoreGiven" not in item.scores["ada"]
    assert item.scores["ben"]["gradingProgress"] == "FullyGraded"
    assert item.scores["cleo"]["scoreGiven"] == 0  # a miss has nothing to grade by hand
    assert asked == [("ada", first), ("ben", first)]  # nbgrader asked only about hand-ins


def test_no_hand_in_in_nbgrader_is_not_waiting_for_hand_grading(make_course):
    from course.lms.lti.grade_push import _hand_grading_left

    ws = open_workspace(make_course())
    with ws.gradebook() as gb:  # nbgrader's real gradebook: no submission of ada's
        assert _hand_grading_left(gb)("ada", ws.course.assignments[0].id) is False


def test_the_cli_words_the_reports_records():
    from commands.lti import failure_line, sent_line
    from course.lms.lti.grade_push import PushFailure, SentScore

    score = {"scoreGiven": 0.0, "scoreMaximum": 10.0, "gradingProgress": "FullyGraded"}
    assert sent_line(SentScore("lms", "c1", "cleo", "dl:01", score)) == \
        "lms context c1: cleo dl:01 0/10"
    assert sent_line(SentScore("lms", "c1", "ada", "dl:01", {
        "gradingProgress": "PendingManual"})) == \
        "lms context c1: ada dl:01 awaiting grading by hand"
    assert failure_line(PushFailure("lms", "not sent, retried next push", "HTTP 500", "c1",
                                    "cleo", "dl:01", score)) == \
        "lms context c1: cleo dl:01 0/10: not sent, retried next push: HTTP 500"
    assert failure_line(PushFailure("lms", "no access token, nothing sent", "HTTP 401")) == \
        "lms: no access token, nothing sent: HTTP 401"


def test_an_unexpected_error_on_one_platform_is_reported_and_stops_no_other(
        course, lms, jwks_service, keys_dir):
    second = LtiPlatform(handlers=SERVICE_HANDLERS)
    second.register_tool(ToolRegistration("tool-canvas", "7", "http://127.0.0.1:1/login",
                                          "http://127.0.0.1:1/launch", jwks_service))
    second.add_context(Context("canvas-dl", "DL in Canvas", [MEMBERS[0], MEMBERS[2]]))

    class Broken(ServiceClient):
        def line_items(self, *args):
            raise RuntimeError("a bug in the reading of this platform's answer")

    def client_for(platform):
        kind = Broken if platform.label == "testlms" else ServiceClient
        return kind(platform, signing_key(keys_dir))

    with second:
        text = (course / "course.yml").read_text()
        (course / "course.yml").write_text(
            text + _platform_entry(second, "canvas", "tool-canvas", "canvas-dl"))
        report = push(course, client_for=client_for)
        assert [(f.platform, f.context, f.what) for f in report.failures] == [
            ("testlms", CONTEXT, "stopped by RuntimeError, retried next push")]
        assert results_of(second, "canvas-dl", "dl-test:01-numpy")["u-ada"]["scoreGiven"] == 8
        assert push(course).ok  # the next push sends what was left
        assert results_of(lms, CONTEXT, "dl-test:01-numpy")["u-ada"]["scoreGiven"] == 8
