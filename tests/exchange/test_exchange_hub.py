"""The exchange against a real JupyterHub on 127.0.0.1: end to end, authorization, a deadline
spike, a restart of the exchange during uploads, and the attacks on it as a shared resource
(THREATS.md 20-25): a hostile upload racing an honest one, names that would block collection,
large bodies without a token, revoked and expired tokens, malformed names, the quota.

One hub per module (about 20 s to start): the roster has ada, ben, cleo, the instructor ina and
100 more students for the spike. The exchange runs as an external hub service that this module
starts itself (so it can kill and restart it); ``course hub``'s managed mode is covered by
test_exchange_browser.py.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat
import pytest
import requests
from hub_doubles import ScriptedHub
from small_courses import REPO

from autograder.notebooks import solution_cells
from autograder.notebooks import with_cells as answer_notebook
from devhub.hubcourse import build_hub_course
from devhub.localhub import LocalHub, free_port

sys.path.insert(0, str(REPO / "benchmarks"))
from exchange_spike import check_stored, run_spike

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

COURSE, AID, NOTEBOOK = "dl-hub", "01-numpy", "numpy-basics.ipynb"
SPIKE_STUDENTS = [(f"s{i:03d}", "Spike", str(i)) for i in range(1, 101)]
STUDENTS = [("ada", "Ada", "L"), ("ben", "Ben", "B"), ("cleo", "Cleo", "C"), *SPIKE_STUDENTS]
MAX_MB = 2
QUOTA_MB = 6  # per student: three uploads of 1.9 MB fit, a fourth does not


class ExchangeProcess:
    """``course exchange serve`` as the hub would start it, but under this test's control."""

    def __init__(self, hub: LocalHub, course_file: Path, token: str):
        self.hub, self.course_file, self.token = hub, course_file, token
        self.proc: subprocess.Popen | None = None
        self.log = course_file.parent / "exchange.log"

    def start(self) -> None:
        self.launch()
        self.wait()

    def wait(self) -> None:
        self.hub.wait_for(self.hub.exchange_url + "health", timeout=120)

    def launch(self) -> None:
        env = {**os.environ, "JUPYTERHUB_API_TOKEN": self.token,
               "JUPYTERHUB_API_URL": f"http://127.0.0.1:{self.hub.hub_port}/hub/api",
               "JUPYTERHUB_SERVICE_NAME": "exchange",
               "JUPYTERHUB_SERVICE_PREFIX": "/services/exchange/"}
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "commands.main", "exchange", "serve", "--course",
                 str(self.course_file), "--port", str(self.hub.exchange_port),
                 "--max-mb", str(MAX_MB), "--quota-mb", str(QUOTA_MB)], env=env, stdout=log,
                stderr=subprocess.STDOUT)

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """The course (01-numpy generated, released by the instructor through the exchange), the
    hub, the exchange, and tokens for ada, ben, ina."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from course.release import generate
    from course.workspace import open_workspace
    from exchange.client import configure

    tmp = tmp_path_factory.mktemp("exchange-hub")
    course_file = build_hub_course(tmp / "course", students=STUDENTS, release="none")
    ws = open_workspace(course_file)
    generate(ws, AID)
    admin, exchange_token = secrets.token_hex(16), secrets.token_hex(16)
    hub = ScriptedHub(course_file, tmp / "hub", password="test-password", admin_token=admin,
                      exchange_managed=False, exchange_api_token=exchange_token)
    exchange = ExchangeProcess(hub, course_file, exchange_token)
    exchange.launch()  # it imports while the hub starts; it needs the hub only to check tokens
    try:
        hub.start()
        exchange.wait()
        tokens = {user: hub.token_for(user) for user in ("ada", "ben", "cleo", "ina", "s096",
                                                          "s098", "s099", "s100")}

        def instructor_api():
            config = ws.nbgrader_config()
            configure(config, course_id=COURSE, url=hub.exchange_url)
            config.Exchange.api_token = tokens["ina"]
            return NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)

        result = instructor_api().release_assignment(AID)
        assert result["success"], result
        yield {"hub": hub, "exchange": exchange, "tokens": tokens, "ws": ws, "admin": admin,
               "root": course_file.parent, "instructor_api": instructor_api}
    finally:
        exchange.stop()
        hub.stop()


def xapi(env, method, path, user=None, token=None, body=None, params=None, raw=None):
    token = token or (env["tokens"][user] if user else None)
    headers = {"Authorization": f"token {token}"} if token else {}
    data = raw if raw is not None else (json.dumps(body) if body is not None else None)
    return requests.request(method, env["hub"].exchange_url + "api/" + path, headers=headers,
                            data=data, params=params, timeout=60)


def files_body(files: dict[str, bytes], **extra) -> dict:
    return {"files": {n: base64.b64encode(c).decode() for n, c in files.items()}, **extra}


def released_notebook(env) -> bytes:
    return (env["root"] / "exchange" / COURSE / "outbound" / AID / NOTEBOOK).read_bytes()


def start_server(env, user: str) -> str:
    hub = env["hub"]
    hub.api("POST", f"users/{user}/server", env["admin"], expect=(201, 202))
    deadline = time.monotonic() + 150
    while time.monotonic() < deadline:
        model = hub.api("GET", f"users/{user}", env["admin"])
        if model["servers"].get("", {}).get("ready"):
            return f"{hub.url}/user/{user}/"
        time.sleep(0.5)
    raise AssertionError(f"{user}'s server did not start:\n{hub.log_tail()}")


def test_release_fetch_submit_collect_grade_feedback(env):
    """The whole week through the real hub: the student works in her own server (nbgrader's
    Assignments endpoints, as the JupyterLab panel calls them), the instructor uses nbgrader's
    API and command line, both through the exchange."""
    from course.grade import grade

    t0 = time.monotonic()
    server = start_server(env, "ada")
    auth = {"Authorization": f"token {env['tokens']['ada']}"}
    form = {"course_id": COURSE, "assignment_id": AID}
    listing = requests.get(server + "assignments", params={"course_id": COURSE}, headers=auth,
                           timeout=60).json()
    assert listing["success"], listing
    assert [(a["assignment_id"], a["status"]) for a in listing["value"]] == [(AID, "released")]

    reply = requests.post(server + "assignments/fetch", data=form, headers=auth, timeout=60).json()
    assert [(a["assignment_id"], a["status"]) for a in reply["value"]] == [(AID, "fetched")]

    # she works: the solution cells filled in, saved through the server's contents API
    contents = server + f"api/contents/{AID}/{NOTEBOOK}"
    fetched = nbformat.from_dict(requests.get(contents, headers=auth, timeout=60)
                                 .json()["content"])
    source = nbformat.read(env["ws"].source / AID / NOTEBOOK, as_version=4)
    answered = answer_notebook(fetched, solution_cells(source))
    saved = requests.put(contents, headers=auth, timeout=60,
                         data=json.dumps({"type": "notebook", "content": answered}))
    assert saved.status_code == 200, saved.text

    reply = requests.post(server + "assignments/submit", data=form, headers=auth,
                          timeout=60).json()
    assert reply["success"], reply
    submitted = [a for a in reply["value"] if a["status"] == "submitted"]
    assert [s["student_id"] for s in submitted[0]["submissions"]] == ["ada"]
    timestamp = submitted[0]["submissions"][0]["receipt_timestamp"]
    student_seconds = time.monotonic() - t0

    # the instructor: collect (nbgrader's API, our exchange), grade, feedback back
    api = env["instructor_api"]()
    first = api.collect(AID, update=True)
    assert first["success"]
    # one machine: the service wrote into this same course folder, which is news, not a repeat
    assert "Collected submission: ada" in first["log"] and "Already" not in first["log"], first
    again = api.collect(AID, update=True)
    assert "Already collected: ada" in again["log"], again
    collected = env["root"] / "submitted" / "ada" / AID
    assert (collected / "timestamp.txt").read_text() == timestamp  # the server's receipt
    assert json.loads((collected / "receipt.json").read_text())["receipt_id"] > 0
    (outcome,) = grade(env["ws"], AID, students=["ada"], workers=1)
    assert outcome.outcome == "success" and outcome.score == outcome.max_score > 0, outcome
    assert env["instructor_api"]().generate_feedback(AID, "ada")["success"]
    assert env["instructor_api"]().release_feedback(AID, "ada")["success"]

    # nbgrader's command line, unchanged, lists what came in
    cli = subprocess.run(
        [sys.executable, "-m", "nbgrader", "list", "--inbound", f"--course={COURSE}"],
        check=True, cwd=env["root"], capture_output=True, text=True, timeout=120,
        env={**os.environ, "JUPYTERHUB_API_TOKEN": env["tokens"]["ina"],
             "COURSE_EXCHANGE_URL": env["hub"].exchange_url,
             "JUPYTER_CONFIG_PATH": str(REPO / "hub_config" / "singleuser"),
             "COURSE_ID": COURSE})
    assert f"{COURSE} ada {AID} {timestamp}" in cli.stdout + cli.stderr, cli.stderr

    # ada fetches her feedback in her server
    reply = requests.post(server + "assignments/fetch_feedback", data=form, headers=auth,
                          timeout=60).json()
    (mine,) = [a for a in reply["value"] if a["status"] == "submitted"]
    assert mine["submissions"][0]["has_local_feedback"], mine
    home = env["hub"].state / "home" / "ada"
    feedback = home / AID / "feedback" / timestamp / "numpy-basics.html"
    assert "numpy-basics" in feedback.read_text()

    status = subprocess.run([sys.executable, "-m", "commands.main", "status", "--format", "json",
                             "--course", str(env["root"])], capture_output=True, text=True,
                            check=True, timeout=120)
    (ada,) = [s for s in json.loads(status.stdout)["students"] if s["id"] == "ada"]
    assert ada["assignments"][AID]["state"] == "on_time"
    print(f"\ne2e: student part {student_seconds:.1f} s, whole week "
          f"{time.monotonic() - t0:.1f} s")


def test_no_token_or_an_unknown_token_is_rejected(env):
    for method, path in (("GET", "courses"), ("GET", f"courses/{COURSE}/assignments"),
                         ("POST", f"courses/{COURSE}/submissions/{AID}"),
                         ("POST", f"courses/{COURSE}/collect/{AID}")):
        reply = xapi(env, method, path, body=files_body({"a.ipynb": b"{}"}))
        assert reply.status_code == 401 and "no token" in reply.json()["error"], reply.text
        reply = xapi(env, method, path, token="not-a-token")
        assert reply.status_code == 401, reply.text
    # a token in the URL is not accepted either
    url = env["hub"].exchange_url + "api/courses"
    assert requests.get(url, params={"token": env["tokens"]["ada"]}).status_code == 401


def test_a_student_sees_only_her_own_submissions_and_feedback(env):
    nb = released_notebook(env)
    ada = xapi(env, "POST", f"courses/{COURSE}/submissions/{AID}", "ada",
               body=files_body({NOTEBOOK: nb}))
    assert ada.status_code == 201, ada.text
    receipt = ada.json()
    ben_own = xapi(env, "GET", f"courses/{COURSE}/submissions", "ben").json()["submissions"]
    assert all(s["student_id"] == "ben" for s in ben_own)
    for path, params in ((f"courses/{COURSE}/submissions", {"student_id": "ada"}),
                         (f"courses/{COURSE}/feedback", {"student_id": "ada"}),
                         (f"courses/{COURSE}/submissions/{AID}/ada/{receipt['receipt_id']}",
                          None)):
        reply = xapi(env, "GET", path, "ben", params=params)
        assert reply.status_code == 403 and "ben may not see ada" in reply.json()["error"]
    # a receipt id of ada's under ben's name is not ben's either
    reply = xapi(env, "GET", f"courses/{COURSE}/submissions/{AID}/ben/{receipt['receipt_id']}",
                 "ben")
    assert reply.status_code == 404
    # her own is hers
    mine = xapi(env, "GET", f"courses/{COURSE}/submissions/{AID}/ada/{receipt['receipt_id']}",
                "ada")
    assert mine.status_code == 200 and base64.b64decode(mine.json()["files"][NOTEBOOK]) == nb


def test_a_student_cannot_overwrite_anothers_submission_or_feedback(env):
    nb = released_notebook(env)
    first = xapi(env, "POST", f"courses/{COURSE}/submissions/{AID}", "cleo",
                 body=files_body({NOTEBOOK: nb})).json()
    # naming another student is refused; the user is always the token's owner
    forged = xapi(env, "POST", f"courses/{COURSE}/submissions/{AID}", "ben",
                  body=files_body({NOTEBOOK: b"{}"}, student_id="cleo"))
    assert forged.status_code == 400 and "token's owner" in forged.json()["error"]
    for method in ("PUT", "DELETE"):
        reply = xapi(env, method, f"courses/{COURSE}/submissions/{AID}", "ben",
                     body=files_body({NOTEBOOK: b"{}"}))
        assert reply.status_code == 405
    reply = xapi(env, "PUT", f"courses/{COURSE}/feedback/{AID}/cleo", "ben",
                 body=files_body({"numpy-basics.html": b"<p>forged</p>"},
                                 receipt_id=first["receipt_id"]))
    assert reply.status_code == 403 and "only instructors and graders" in reply.json()["error"]
    # cleo's submission is intact, with its hash
    again = xapi(env, "GET", f"courses/{COURSE}/submissions/{AID}/cleo/{first['receipt_id']}",
                 "cleo").json()
    assert again["sha256"] == first["sha256"]
    assert base64.b64decode(again["files"][NOTEBOOK]) == nb


def test_a_student_cannot_release_withdraw_or_collect(env):
    nb = released_notebook(env)
    for method, path, body in (
        ("PUT", f"courses/{COURSE}/assignments/{AID}", files_body({NOTEBOOK: nb}, force=True)),
        ("DELETE", f"courses/{COURSE}/assignments/{AID}", None),
        ("POST", f"courses/{COURSE}/collect/{AID}", None),
    ):
        reply = xapi(env, method, path, "ben", body=body)
        assert reply.status_code == 403, (method, path, reply.text)
        assert "only instructors and graders" in reply.json()["error"]
    # an instructor cannot submit as a student
    reply = xapi(env, "POST", f"courses/{COURSE}/submissions/{AID}", "ina",
                 body=files_body({NOTEBOOK: nb}))
    assert reply.status_code == 403 and "only students" in reply.json()["error"]


def test_a_receipt_time_cannot_be_forged(env):
    nb = released_notebook(env)
    path = f"courses/{COURSE}/submissions/{AID}"
    for body, params in ((files_body({NOTEBOOK: nb}, timestamp="2020-01-01 00:00:00"), None),
                         (files_body({NOTEBOOK: nb}, received_at="2020-01-01T00:00:00Z"), None),
                         (files_body({NOTEBOOK: nb}), {"timestamp": "2020-01-01 00:00:00"})):
        reply = xapi(env, "POST", path, "ben", body=body, params=params)
        assert reply.status_code == 400 and "own clock" in reply.json()["error"], reply.text
    # nbgrader's timestamp.txt among the files is kept as the client's claim, nothing more
    before = time.time()
    reply = xapi(env, "POST", path, "ben", body=files_body(
        {NOTEBOOK: nb, "timestamp.txt": b"2020-01-01 00:00:00.000000 UTC"}))
    assert reply.status_code == 201, reply.text
    receipt = reply.json()
    from exchange.wire import parse_timestamp

    received = parse_timestamp(receipt["timestamp"]).timestamp()
    assert before - 1 <= received <= time.time() + 1
    assert receipt["client_timestamp"] == "2020-01-01 00:00:00.000000 UTC"


def test_unknown_users_unreleased_work_and_oversized_uploads_are_refused(env):
    hub = env["hub"]
    hub.api("POST", "users/mallory", env["admin"], expect=(201, 409))
    mallory = hub.token_for("mallory")
    reply = xapi(env, "GET", f"courses/{COURSE}/assignments", token=mallory)
    assert reply.status_code == 403, reply.text
    reply = xapi(env, "POST", f"courses/{COURSE}/submissions/02-linreg", "ben",
                 body=files_body({NOTEBOOK: b"{}"}))
    assert reply.status_code == 404
    reply = xapi(env, "GET", "courses/other-course/assignments", "ben")
    assert reply.status_code == 404
    big = files_body({NOTEBOOK: b"x" * int(MAX_MB * 1.2e6)})
    reply = xapi(env, "POST", f"courses/{COURSE}/submissions/{AID}", "ben", body=big)
    assert reply.status_code == 413, reply.text
    reply = xapi(env, "POST", f"courses/{COURSE}/submissions/{AID}", "ben", raw="not json")
    assert reply.status_code == 400


def test_deadline_spike_300_submissions_from_100_students(env):
    """300 uploads from 100 students in a 20 s window thickening towards the deadline (the
    benchmark runs the full 60 s): every one stored and in the gradebook."""
    hub = env["hub"]
    tokens = {sid: hub.token_for(sid) for sid, _first, _last in SPIKE_STUDENTS}
    spike = run_spike(hub.exchange_url, COURSE, AID, tokens, NOTEBOOK, released_notebook(env),
                      submissions=300, window=20.0, workers=32)
    summary = spike.summary()
    print(f"\nspike: {json.dumps(summary)}")
    assert spike.errors == [] and summary["acknowledged"] == 300, spike.errors[:5]
    assert check_stored(env["root"], spike.receipts) == []
    assert spike.percentile(99) < 5.0  # the target (< 1 s) is reported by the benchmark


def test_a_restart_during_uploads_loses_nothing_acknowledged(env):
    exchange = env["exchange"]
    nb = released_notebook(env)
    acked, failed, stop = [], [], threading.Event()
    lock = threading.Lock()

    def uploader(student: str) -> None:
        number = 0
        while not stop.is_set():
            number += 1
            document = json.loads(nb)  # a distinct, still valid notebook per upload
            document["metadata"]["upload"] = f"{student} {number}"
            content = (json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False)
                       + "\n").encode()  # the layout nbformat writes, plus one key
            try:
                reply = xapi(env, "POST", f"courses/{COURSE}/submissions/{AID}", student,
                             body=files_body({NOTEBOOK: content}))
            except requests.RequestException:
                with lock:
                    failed.append(student)
                time.sleep(0.05)
                continue
            with lock:
                if reply.status_code == 201:
                    acked.append({**reply.json(), "sent": {NOTEBOOK: content}})
                else:
                    failed.append(reply.status_code)

    threads = [threading.Thread(target=uploader, args=(s,)) for s in ("ada", "ben", "cleo")]
    for thread in threads:
        thread.start()
    try:
        deadline = time.monotonic() + 60
        while len(acked) < 15 and time.monotonic() < deadline:
            time.sleep(0.05)
        exchange.stop(signal.SIGKILL)  # mid-upload, no goodbye
        killed_at = len(acked)
        exchange.start()
        while len(acked) < killed_at + 10 and time.monotonic() < deadline + 60:
            time.sleep(0.05)
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert killed_at >= 15 and len(acked) >= killed_at + 10
    assert failed, "the kill should have interrupted some uploads"
    assert check_stored(env["root"], acked) == []
    # every visible submission folder is complete: only hidden .partial folders can be cut
    # short; a folder renamed into place just before the kill, whose receipt was never
    # committed (nor acknowledged), is complete too, and nothing reads it without a receipt
    inbox = env["root"] / "inbox" / AID
    for folder in (p for s in ("ada", "ben", "cleo") for p in (inbox / s).iterdir()
                   if not p.name.startswith(".")):
        assert (folder / NOTEBOOK).stat().st_size >= len(nb), folder


def test_hub_groups_and_roles_come_from_the_roster(env):
    hub = env["hub"]
    groups = {g["name"]: g for g in hub.api("GET", "groups", env["admin"])}
    assert sorted(groups[f"nbgrader-{COURSE}"]["users"])[:3] == ["ada", "ben", "cleo"]
    assert len(groups[f"nbgrader-{COURSE}"]["users"]) == len(STUDENTS)
    assert groups[f"formgrade-{COURSE}"]["users"] == ["ina"]
    assert groups[f"nbgrader-{COURSE}"]["roles"] == [f"nbgrader-{COURSE}"]
    # free_port is loopback-only: nothing listens beyond 127.0.0.1
    assert free_port() > 0


def test_session_summaries_are_handed_in_through_the_exchange(env):
    from course.summary_rota import course_rotation

    authors = course_rotation(env["ws"].course, {})[1]
    outsider = next(s for s in ("ada", "ben", "cleo") if s not in authors)
    summary = {"summary.md": b"# Session 1\n\nWe built a perceptron.\n"}
    reply = xapi(env, "POST", f"courses/{COURSE}/summaries/1", authors[0],
                 body=files_body(summary))
    assert reply.status_code == 201, reply.text
    assert reply.json()["authors"] == authors
    reply = xapi(env, "POST", f"courses/{COURSE}/summaries/1", outsider,
                 body=files_body(summary))
    assert reply.status_code == 400 and "not an author" in reply.json()["error"]
    reply = xapi(env, "POST", f"courses/{COURSE}/summaries/1", "ina", body=files_body(summary))
    assert reply.status_code == 403


# -- the exchange as a shared resource (THREATS.md 21-25) -----------------------------------------

def answer_to_headers(env, method: str, path: str, token: str | None = None,
                      length: int = 250_000_000) -> tuple[int, str]:
    """Send only the headers of a ``length``-byte request to the exchange's own port and return
    the status and text it answers with: an answer at all proves it did not wait for the body
    (none of which is ever sent)."""
    head = [f"{method} /services/exchange/{path} HTTP/1.1", "Host: 127.0.0.1",
            f"Content-Length: {length}", "Content-Type: application/json"]
    if token:
        head.append(f"Authorization: token {token}")
    with socket.create_connection(("127.0.0.1", env["hub"].exchange_port), timeout=20) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        reply = b""
        while chunk := sock.recv(65536):  # socket.timeout: it waited for the body
            reply += chunk  # until it closes: the unread body cannot be kept alive
    status = int(reply.split(b" ", 2)[1])
    return status, reply.partition(b"\r\n\r\n")[2].decode()


def test_large_bodies_are_refused_from_the_headers_before_the_body_is_read(env):
    """250 MB announced, no byte sent: every route answers from the headers (no token, no such
    method, a role that may not, or a body over the route's cap), so nothing is buffered."""
    tokens = {user: env["tokens"][user] for user in ("ben", "ina")}
    submit, collect = f"api/courses/{COURSE}/submissions/{AID}", f"api/courses/{COURSE}/collect/{AID}"
    for method, path, user, status, message in (
        ("POST", "health", None, 405, "Method Not Allowed"),
        ("POST", "api/courses", None, 405, "Method Not Allowed"),
        ("GET", "api/courses", None, 401, "no token"),
        ("POST", collect, None, 401, "no token"),
        ("POST", submit, None, 401, "no token"),
        ("PUT", f"api/courses/{COURSE}/assignments/{AID}", None, 401, "no token"),
        ("POST", collect, "ben", 413, "at most 65536"),
        ("POST", collect, "ina", 413, "at most 65536"),
        ("GET", f"api/courses/{COURSE}/submissions", "ben", 413, "at most 65536"),
        ("POST", submit, "ben", 413, "this route takes at most"),
    ):
        got, text = answer_to_headers(env, method, path, tokens.get(user))
        assert (got, message in text) == (status, True), (method, path, user, got, text)
    assert requests.get(env["hub"].exchange_url + "health", timeout=10).json()["status"] == "ok"


def test_a_refused_upload_is_answered_on_a_connection_that_stays_open(env):
    """A refused upload under the cap is read (and thrown away) before the answer: the socket
    is not closed on unread bytes (a reset that loses the answer), and the next request on the
    same connection is served. (Over the cap, the test above: answered at once, then closed.)"""
    body = json.dumps(files_body({NOTEBOOK: secrets.token_bytes(900_000)})).encode()
    path = f"/services/exchange/api/courses/{COURSE}/submissions/{AID}"
    with socket.create_connection(("127.0.0.1", env["hub"].exchange_port), timeout=20) as sock:
        stream = sock.makefile("rb")
        for token, status in ((None, 401), ("not-a-token", 401), (env["tokens"]["ben"], 413)):
            head = [f"POST {path} HTTP/1.1", "Host: 127.0.0.1", "Content-Type: application/json",
                    f"Content-Length: {len(body) if status == 401 else 10**9}"]
            if token:
                head.append(f"Authorization: token {token}")
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
            if status == 401:
                sock.sendall(body)
            code, headers = _read_head(stream)
            reply = json.loads(stream.read(int(headers["content-length"])))
            assert (code, reply["status"]) == (status, status), reply
        # the 413 (a billion bytes announced, none sent) is the one answer that closes
        assert stream.read() == b""


def _read_head(stream) -> tuple[int, dict]:
    status = int(stream.readline().split()[1])
    headers = {}
    while (line := stream.readline().strip()):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers


def test_refused_uploads_through_the_hubs_proxy_keep_their_status(env):
    """Through the hub's proxy, as students' servers send: a revoked token's or an outsider's
    upload is told 401 and a roster-less user's 403, never the proxy's 503 (which the client
    would retry as "busy"), and the good hand-in after them on the same session is stored."""
    hub = env["hub"]
    url = f"{hub.url}/services/exchange/api/courses/{COURSE}/submissions/{AID}"
    body = json.dumps(files_body({NOTEBOOK: secrets.token_bytes(1_400_000)}))
    outsider = hub.token_for("s099")  # a hub user; the roster edit below takes s099 out
    course_file = env["root"] / "course.yml"
    text = course_file.read_text()
    statuses = []
    with requests.Session() as session:
        for _ in range(10):
            reply = session.post(url, data=body, timeout=60,
                                 headers={"Authorization": "token not-a-token"})
            statuses.append(reply.status_code)
        course_file.write_text("".join(line for line in text.splitlines(keepends=True)
                                       if "id: s099," not in line))
        try:
            for _ in range(10):
                reply = session.post(url, data=body, timeout=60,
                                     headers={"Authorization": f"token {outsider}"})
                statuses.append(reply.status_code)
        finally:
            course_file.write_text(text)
        good = session.post(url, data=json.dumps(files_body({NOTEBOOK: released_notebook(env)})),
                            headers={"Authorization": f"token {env['tokens']['s096']}"}, timeout=60)
    assert statuses == [401] * 10 + [403] * 10, statuses
    assert good.status_code == 201, good.text


def test_a_hostile_upload_does_not_delay_an_honest_receipt(env):
    """15,000 files (refused: an assignment is a few files) and the widest upload accepted
    (200 files six folders deep, 1.8 MB) sent just before an honest submission: the honest
    receipt is stamped within a second of the moment it was sent."""
    nb = released_notebook(env)
    path = f"courses/{COURSE}/submissions/{AID}"
    flood = files_body({NOTEBOOK: nb, **{f"f{i}.txt": b"" for i in range(15_000)}})
    widest = files_body({NOTEBOOK: nb, **{f"data/a/b/c/d/e/f{i}.bin": secrets.token_bytes(9000)
                                          for i in range(199)}})
    replies = {}

    def hostile(user, body):
        replies[user] = xapi(env, "POST", path, user, body=body)

    threads = [threading.Thread(target=hostile, args=a) for a in (("ada", flood),
                                                                   ("cleo", widest))]
    for thread in threads:
        thread.start()
    time.sleep(0.2)  # their bodies are on the way
    sent = time.time()
    honest = xapi(env, "POST", path, "ben", body=files_body({NOTEBOOK: nb}))
    for thread in threads:
        thread.join(60)
    from exchange.wire import parse_timestamp

    assert honest.status_code == 201, honest.text
    delay = parse_timestamp(honest.json()["timestamp"]).timestamp() - sent
    print(f"\nhonest receipt {delay * 1000:.0f} ms after it was sent, beside a hostile upload")
    assert -0.05 < delay < 1.0
    assert replies["ada"].status_code == 400
    assert "15001 files in one upload; at most 200" in replies["ada"].json()["error"]
    assert replies["cleo"].status_code == 201, replies["cleo"].text


def test_malformed_names_and_deep_json_answer_400_with_a_message(env):
    nb = released_notebook(env)
    path = f"courses/{COURSE}/submissions/{AID}"
    for name, message in (("a\0b.txt", "control characters"),
                          ("x" * 300 + ".txt", "names are at most 255 characters"),
                          ("d/" * 7 + "x.txt", "nested 7 folders deep; at most 6")):
        reply = xapi(env, "POST", path, "ben", body=files_body({NOTEBOOK: nb, name: b"x"}))
        assert reply.status_code == 400 and message in reply.json()["error"], reply.text
    deep = "[" * 200_000 + "]" * 200_000
    for raw in (deep, '{"files": {"x.txt": ' + deep + "}}"):
        reply = xapi(env, "POST", path, "ben", raw=raw)
        assert reply.status_code == 400, reply.text
        assert "nested too deeply" in reply.json()["error"]
    # the staff's uploads are held to the same names
    reply = xapi(env, "PUT", f"courses/{COURSE}/assignments/{AID}", "ina",
                 body=files_body({NOTEBOOK: nb, "a\0b.txt": b"x"}, force=True))
    assert reply.status_code == 400 and "control characters" in reply.json()["error"]


def test_reserved_names_are_refused_and_a_bad_folder_blocks_no_ones_collection(env):
    """timestamp.txt/ and receipt.json are the platform's: refused at submit. A folder stored
    before they were refused is reported by name; everyone else is collected (the service's
    collect and ``course collect``)."""
    from course.gradebook.records import get_receipt

    nb = released_notebook(env)
    path = f"courses/{COURSE}/submissions/{AID}"
    for name in ("timestamp.txt/x", "receipt.json/x", "receipt.json"):
        reply = xapi(env, "POST", path, "s100", body=files_body({NOTEBOOK: nb, name: b"x"}))
        assert reply.status_code == 400, reply.text
        assert f"refusing {name!r}" in reply.json()["error"], reply.text
    for student in ("s100", "s096"):
        assert xapi(env, "POST", path, student, body=files_body({NOTEBOOK: nb})).status_code == 201
    receipt_id = xapi(env, "GET", f"courses/{COURSE}/submissions", "s100",
                      params={"assignment_id": AID}).json()["submissions"][-1]["receipt_id"]
    with env["ws"].gradebook() as gb:
        stored = env["root"] / get_receipt(gb, receipt_id).storage_path
    planted = stored / "timestamp.txt"  # what an upload could store before the names were refused
    (planted / "x").parent.mkdir()
    (planted / "x").write_text("x")
    try:
        reply = xapi(env, "POST", f"courses/{COURSE}/collect/{AID}", "ina")
        assert reply.status_code == 200, reply.text
        (failed,) = reply.json()["failed"]
        assert failed["student_id"] == "s100" and "IsADirectoryError" in failed["error"]
        collected = {item["student_id"] for item in reply.json()["collected"]}
        assert {"ben", "s096"} <= collected and "s100" not in collected
        cli = subprocess.run([sys.executable, "-m", "commands.main", "collect", AID, "--course",
                              str(env["root"])], check=False, capture_output=True, text=True,
                             timeout=120)
        assert cli.returncode == 2, cli.stderr
        assert "not collected: s100 (receipt" in cli.stderr and "IsADirectoryError" in cli.stderr
        assert "collected " in cli.stdout
    finally:
        shutil.rmtree(planted)


def test_revoked_and_expired_tokens_are_refused_at_once(env):
    hub, admin = env["hub"], env["admin"]
    body = files_body({NOTEBOOK: released_notebook(env)})
    path = f"courses/{COURSE}/submissions/{AID}"
    token = hub.api("POST", "users/s097/tokens", admin, {"note": "to revoke"})
    assert xapi(env, "POST", path, token=token["token"], body=body).status_code == 201
    listing = xapi(env, "GET", f"courses/{COURSE}/submissions", token=token["token"])
    assert listing.status_code == 200  # the hub's answer is now cached, for reads only
    hub.api("DELETE", f"users/s097/tokens/{token['id']}", admin)
    reply = xapi(env, "POST", path, token=token["token"], body=body)
    assert reply.status_code == 401 and "expired or revoked" in reply.json()["error"]

    short = hub.api("POST", "users/s097/tokens", admin, {"note": "short", "expires_in": 2})
    made = time.monotonic()
    assert xapi(env, "POST", path, token=short["token"], body=body).status_code == 201
    time.sleep(max(0.0, made + 3.0 - time.monotonic()))  # the hub's expiry has second steps
    reply = xapi(env, "POST", path, token=short["token"], body=body)
    assert reply.status_code == 401 and "expired or revoked" in reply.json()["error"]


def test_a_student_removed_from_the_roster_is_refused_at_once(env):
    body = files_body({NOTEBOOK: released_notebook(env)})
    path = f"courses/{COURSE}/submissions/{AID}"
    token = env["hub"].token_for("s095")
    assert xapi(env, "POST", path, token=token, body=body).status_code == 201
    course_file = env["root"] / "course.yml"
    text = course_file.read_text()
    course_file.write_text("".join(line for line in text.splitlines(keepends=True)
                                   if "id: s095," not in line))
    try:
        reply = xapi(env, "POST", path, token=token, body=body)
        assert reply.status_code == 403 and "s095 is not in the roster" in reply.json()["error"]
    finally:
        course_file.write_text(text)
    assert xapi(env, "POST", path, token=token, body=body).status_code == 201


def test_the_per_student_quota_refuses_with_a_clear_message(env):
    nb = released_notebook(env)
    path = f"courses/{COURSE}/submissions/{AID}"
    upload = files_body({NOTEBOOK: nb, "data.bin": b"\0" * 1_900_000})
    for _ in range(3):
        assert xapi(env, "POST", path, "s099", body=upload).status_code == 201
    reply = xapi(env, "POST", path, "s099", body=upload)
    assert reply.status_code == 413, reply.text
    assert "would pass the per-student quota of 6 MB" in reply.json()["error"]
    # the others are not affected
    assert xapi(env, "POST", path, "s098", body=upload).status_code == 201
