"""Two exchange processes on one PostgreSQL gradebook and one course folder (issue 26, item 2):
both serve the same course at once, on one shared port (SO_REUSEPORT) and each on a private port
(``token_table_exchange.py``: the real service, tokens checked from a table as
``exchange_requests.AsUser`` does in one process).

The attacks, as a student: one hand-in sent to both processes (one after the other, and at the
same moment) gives one receipt; a retry key reused for other content is refused; another
student's key, replayed with or without her content, names nothing of hers; the submission
limit holds across both processes, and a retry of a counted hand-in is not refused by it. As
staff: collect and feedback from both processes at once never show a half-written folder. Then
the spike: 300 hand-ins from 50 students spread across both, one process SIGKILLed mid-spike:
every acknowledged hand-in is in the gradebook and on disk exactly once, the client's retries
land the rest on the survivor, and collect sees only complete folders.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from exchange_requests import publish
from small_courses import REPO, create_gradebook

from course.collect import collected_files
from course.inbox import IDEMPOTENCY_HEADER, digest, read_submission_folder
from course.receipt_files import RECEIPT_FILE, TIMESTAMP_FILE
from course.store import CourseExchange
from devhub.localhub import free_port

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

COURSE, AID, NOTEBOOK = "dl-two", "01-numpy", "numpy-basics.ipynb"
LIMITED, LIMITED_NOTEBOOK = "02-linreg", "linear-regression.ipynb"  # max_submissions: 1
SPIKE = [f"s{i:02d}" for i in range(1, 51)]
PEOPLE = ["ada", "ben", "cleo", "dora", *SPIKE]
SCRIPT = Path(__file__).with_name("token_table_exchange.py")
PREFIX = "/services/exchange/"
SUPERVISE = ("import sys\nfrom exchange.service import supervise\n"
             "sys.exit(supervise(sys.argv[1:], 2, restart_delay=0.2))")


def course_yaml(db_url: str) -> str:
    students = ", ".join(f"{{id: {sid}}}" for sid in PEOPLE)
    return (f"id: {COURSE}\ntitle: Two exchanges\ntimezone: Europe/Berlin\n"
            f"withdrawal_deadline: 2027-03-01\ngradebook: {{url: '{db_url}'}}\n"
            f"assignments:\n  - {{id: {AID}, due: 2027-01-10 18:00}}\n"
            f"  - {{id: {LIMITED}, due: 2027-01-17 18:00, max_submissions: 1}}\n"
            f"roster:\n  instructors: [{{id: ina}}]\n  students: [{students}]\n")


class Process:
    """One exchange process (a copy under the supervisor): its pid and private port."""

    def __init__(self, pid: int, port: int):
        self.pid, self.port = pid, port
        self.url = f"http://127.0.0.1:{port}{PREFIX}"


class Pair:
    """``exchange.service.supervise`` running two copies of ``token_table_exchange.py``, as
    ``course exchange serve --processes 2`` runs two of itself."""

    def __init__(self, root: Path):
        self.root, self.course_file = root, root / "course.yml"
        self.tokens = {user: f"tok-{user}-{secrets.token_hex(8)}" for user in [*PEOPLE, "ina"]}
        self.tokens_file = root / "tokens.json"
        self.tokens_file.write_text(json.dumps({t: u for u, t in self.tokens.items()}))
        self.ports = root / "ports"
        self.ports.mkdir()
        self.shared_port = free_port()
        self.shared = f"http://127.0.0.1:{self.shared_port}{PREFIX}"
        self.log = root / "exchanges.log"
        self.supervisor: subprocess.Popen | None = None
        self.a = self.b = None

    def start(self) -> None:
        command = [sys.executable, str(SCRIPT), str(self.tokens_file), str(self.course_file),
                   str(self.shared_port), str(self.ports)]
        with open(self.log, "ab") as log:
            self.supervisor = subprocess.Popen(
                [sys.executable, "-c", SUPERVISE, *command],
                cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONPATH": str(REPO)})
        self.a, self.b = self.serving(2)

    def children(self) -> set[int]:
        pid = self.supervisor.pid
        return {int(n) for n in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}

    def serving(self, count: int, timeout: float = 120) -> list[Process]:
        """The supervisor's copies once ``count`` of them serve (each on its private port)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.supervisor.poll() is not None:
                raise AssertionError(self.log.read_text()[-3000:])
            children = self.children()
            ready = [Process(pid, int((self.ports / str(pid)).read_text()))
                     for pid in sorted(children) if (self.ports / str(pid)).is_file()]
            if len(ready) == count == len(children):
                return ready
            time.sleep(0.1)
        raise AssertionError(f"{count} exchanges did not start:\n{self.log.read_text()[-3000:]}")

    def stop(self) -> int | None:
        if self.supervisor is None or self.supervisor.poll() is not None:
            return None if self.supervisor is None else self.supervisor.returncode
        self.supervisor.send_signal(signal.SIGTERM)
        try:
            return self.supervisor.wait(60)
        except subprocess.TimeoutExpired:
            self.supervisor.kill()
            return self.supervisor.wait()

    def post(self, url: str, user: str, path: str, body: dict, key: str | None = None):
        headers = {"Authorization": f"token {self.tokens[user]}"}
        if key is not None:
            headers[IDEMPOTENCY_HEADER] = key
        return requests.post(f"{url}api/courses/{COURSE}/{path}", data=json.dumps(body),
                             headers=headers, timeout=60)

    def rows(self, student: str | None = None, assignment: str = AID) -> list:
        exchange = CourseExchange(self.course_file)
        try:
            return exchange.receipts(student_id=student, assignment_id=assignment)
        finally:
            exchange.close()


@pytest.fixture(scope="module")
def pair(postgres_server, tmp_path_factory):
    import shutil

    root = tmp_path_factory.mktemp("two-exchanges") / "course"
    root.mkdir()
    (root / "course.yml").write_text(course_yaml(postgres_server.create_database()))
    for assignment in (AID, LIMITED):
        shutil.copytree(REPO / "assignments" / assignment, root / "assignments" / assignment)
        publish(root, assignment, COURSE)
    create_gradebook(root)
    pair = Pair(root)
    try:
        pair.start()
        yield pair
    finally:
        pair.stop()


def notebook(root: Path, label: str, assignment: str = AID, name: str = NOTEBOOK) -> bytes:
    """The released notebook, made distinct by ``label`` (still a valid notebook)."""
    document = json.loads((root / "exchange" / COURSE / "outbound" / assignment / name)
                          .read_bytes())
    document["metadata"]["upload"] = label
    return (json.dumps(document, indent=1, sort_keys=True) + "\n").encode()


def body(files: dict[str, bytes]) -> dict:
    return {"files": {n: base64.b64encode(c).decode() for n, c in files.items()}}


def visible_folders(root: Path, student: str, assignment: str = AID) -> list[Path]:
    parent = root / "inbox" / assignment / student
    return sorted(p for p in parent.iterdir() if not p.name.startswith(".")) \
        if parent.is_dir() else []


def new_key() -> str:
    return secrets.token_urlsafe(24)


# -- a student's attacks --------------------------------------------------------------------

def test_a_retry_at_the_other_process_returns_the_first_receipt(pair):
    files, key = {NOTEBOOK: notebook(pair.root, "ada retry")}, new_key()
    first = pair.post(pair.a.url, "ada", f"submissions/{AID}", body(files), key)
    again = pair.post(pair.b.url, "ada", f"submissions/{AID}", body(files), key)
    assert first.status_code == again.status_code == 201, (first.text, again.text)
    assert again.json()["receipt_id"] == first.json()["receipt_id"]
    assert again.json()["timestamp"] == first.json()["timestamp"]  # the first arrival's time
    rows = [r for r in pair.rows("ada") if r.sha256 == digest(files)]
    assert [r.id for r in rows] == [first.json()["receipt_id"]]
    assert [p.as_posix() for p in visible_folders(pair.root, "ada")] == \
        [(pair.root / rows[0].storage_path).as_posix()]


def test_one_hand_in_at_both_processes_at_once_is_stored_once(pair):
    with ThreadPoolExecutor(2) as pool:
        for round_ in range(6):
            files, key = {NOTEBOOK: notebook(pair.root, f"ben race {round_}")}, new_key()
            replies = list(pool.map(
                lambda url, files=files, key=key: pair.post(url, "ben", f"submissions/{AID}",
                                                            body(files), key),
                (pair.a.url, pair.b.url)))
            assert [r.status_code for r in replies] == [201, 201], [r.text for r in replies]
            assert replies[0].json()["receipt_id"] == replies[1].json()["receipt_id"]
    rows = pair.rows("ben")
    assert len(rows) == 6 and len({r.sha256 for r in rows}) == 6
    assert len(visible_folders(pair.root, "ben")) == 6


def test_a_key_reused_for_other_content_or_malformed_is_refused(pair):
    key = new_key()
    first = pair.post(pair.a.url, "cleo", f"submissions/{AID}",
                      body({NOTEBOOK: notebook(pair.root, "cleo 1")}), key)
    assert first.status_code == 201, first.text
    other = pair.post(pair.b.url, "cleo", f"submissions/{AID}",
                      body({NOTEBOOK: notebook(pair.root, "cleo 2, overwriting 1?")}), key)
    assert other.status_code == 409 and "another hand-in" in other.json()["error"]
    for bad in ("short", "x" * 65, "key with spaces and more", "ü" * 20):
        reply = pair.post(pair.b.url, "cleo", f"submissions/{AID}",
                          body({NOTEBOOK: notebook(pair.root, "cleo 3")}),
                          bad.encode().decode("latin-1"))
        assert reply.status_code == 400, (bad, reply.text)
    assert [r.id for r in pair.rows("cleo")] == [first.json()["receipt_id"]]
    assert len(visible_folders(pair.root, "cleo")) == 1


def test_another_students_key_names_nothing_of_hers(pair):
    """Ben learned Dora's key (a shared notebook, a log): replaying it, with her content or his
    own, neither returns her receipt nor touches her hand-in; he gets receipts of his own."""
    hers, key = {NOTEBOOK: notebook(pair.root, "dora's work")}, new_key()
    dora = pair.post(pair.a.url, "dora", f"submissions/{AID}", body(hers), key)
    assert dora.status_code == 201
    before = pair.rows("dora")
    replay = pair.post(pair.b.url, "ben", f"submissions/{AID}", body(hers), key)
    assert replay.status_code == 201, replay.text
    assert replay.json()["student_id"] == "ben"
    assert replay.json()["receipt_id"] != dora.json()["receipt_id"]
    own = pair.post(pair.a.url, "ben", f"submissions/{AID}",
                    body({NOTEBOOK: notebook(pair.root, "ben's own")}), key)
    assert own.status_code == 409  # now his key too, naming his replay: not hers
    assert [(r.id, r.sha256, r.storage_path) for r in pair.rows("dora")] == \
        [(r.id, r.sha256, r.storage_path) for r in before]
    assert read_submission_folder(pair.root / before[0].storage_path) == hers
    listing = requests.get(f"{pair.b.url}api/courses/{COURSE}/submissions",
                           headers={"Authorization": f"token {pair.tokens['ben']}"}, timeout=30)
    assert {row["student_id"] for row in listing.json()["submissions"]} == {"ben"}


def race_for_the_limit(pair, students: list[str], *, keyed: bool) -> dict:
    """Each student sends two different hand-ins of 02-linreg (one allowed), one to each
    process, at the same moment; the replies by student, with what each sent."""

    def race(student: str) -> list:
        files = [{LIMITED_NOTEBOOK: notebook(pair.root, f"{student} {n}", LIMITED,
                                             LIMITED_NOTEBOOK)} for n in (0, 1)]
        keys = [new_key(), new_key()] if keyed else [None, None]
        with ThreadPoolExecutor(2) as pool:
            replies = list(pool.map(lambda n: pair.post((pair.a.url, pair.b.url)[n], student,
                                                         f"submissions/{LIMITED}", body(files[n]),
                                                         keys[n]), (0, 1)))
        return [(reply, files[n], keys[n]) for n, reply in enumerate(replies)]

    with ThreadPoolExecutor(4) as pool:
        return dict(zip(students, pool.map(race, students), strict=True))


def test_the_submission_limit_holds_across_both_processes(pair):
    """02-linreg takes one hand-in: eight students each send two different ones at both
    processes at once, and one of each pair lands; the retry of the one that landed is
    answered with its receipt, not refused as a second."""
    students = SPIKE[:8]  # the spike hands in 01-numpy only
    races = race_for_the_limit(pair, students, keyed=True)
    for student, replies in races.items():
        codes = sorted(reply.status_code for reply, _files, _key in replies)
        assert codes == [201, 400], (student, [reply.text for reply, _f, _k in replies])
        assert len(pair.rows(student, LIMITED)) == 1
        assert len(visible_folders(pair.root, student, LIMITED)) == 1
    refused = next(r for r, _f, _k in races[students[0]] if r.status_code == 400)
    assert "the most this course accepts" in refused.json()["error"]
    won, files, key = next(item for item in races[students[0]] if item[0].status_code == 201)
    for url in (pair.a.url, pair.b.url):
        retry = pair.post(url, students[0], f"submissions/{LIMITED}", body(files), key)
        assert retry.status_code == 201 and retry.json()["receipt_id"] == won.json()["receipt_id"]
    assert len(pair.rows(students[0], LIMITED)) == 1


def test_the_submission_limit_holds_for_hand_ins_without_a_key(pair):
    """The same race without idempotency keys (a raw API call, not the client)."""
    races = race_for_the_limit(pair, SPIKE[8:16], keyed=False)
    for student, replies in races.items():
        codes = sorted(reply.status_code for reply, _files, _key in replies)
        assert codes == [201, 400], (student, [reply.text for reply, _f, _k in replies])
        assert len(pair.rows(student, LIMITED)) == 1


# -- staff on both processes at once ----------------------------------------------------------

def complete(folder: Path) -> bool:
    """A collected folder as nbgrader reads it: every file there, the notebook's content the
    receipt's (the listing is of one folder, whatever replaces the path meanwhile)."""
    try:
        names = set(os.listdir(folder))
    except FileNotFoundError:
        return True  # between two collections: absent, never half there
    return {NOTEBOOK, RECEIPT_FILE, TIMESTAMP_FILE} <= names


def check_collected(reply: dict, errors: list) -> None:
    for item in reply["collected"]:
        files = base_decoded(item["files"])
        receipt = json.loads(files.pop(RECEIPT_FILE))
        files.pop(TIMESTAMP_FILE)
        if receipt["receipt_id"] != item["receipt_id"] or digest(files) != receipt["sha256"]:
            errors.append(f"collected {item['student_id']}: files are not receipt "
                          f"{item['receipt_id']}'s")


def base_decoded(files: dict[str, str]) -> dict[str, bytes]:
    return {n: base64.b64decode(c) for n, c in files.items()}


def test_collect_and_feedback_from_both_processes_at_once(pair):
    for student in ("ada", "ben", "cleo"):
        assert pair.post(pair.a.url, student, f"submissions/{AID}",
                         body({NOTEBOOK: notebook(pair.root, f"{student} final")}),
                         new_key()).status_code == 201
    errors, done = [], threading.Event()

    def scan():
        while not done.is_set():
            for folder in (pair.root / "submitted").glob(f"*/{AID}"):
                if not complete(folder):
                    errors.append(f"half-written {folder}")

    scanner = threading.Thread(target=scan)
    scanner.start()
    try:
        with ThreadPoolExecutor(2) as pool:
            for _ in range(4):
                replies = list(pool.map(lambda url: pair.post(url, "ina", f"collect/{AID}", {}),
                                        (pair.a.url, pair.b.url)))
                assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
                for reply in replies:
                    assert reply.json()["failed"] == []
                    check_collected(reply.json(), errors)
            receipt = pair.rows("ada")[-1]
            feedback = {url: f"<html>feedback from {name}</html>".encode()
                        for url, name in ((pair.a.url, "a"), (pair.b.url, "b"))}
            replies = list(pool.map(lambda url: requests.put(
                f"{url}api/courses/{COURSE}/feedback/{AID}/ada",
                data=json.dumps({**body({"numpy-basics.html": feedback[url]}),
                                 "receipt_id": receipt.id}),
                headers={"Authorization": f"token {pair.tokens['ina']}"}, timeout=60),
                feedback))
            assert [r.status_code for r in replies] == [200, 200], [r.text for r in replies]
    finally:
        done.set()
        scanner.join()
    assert errors == []
    exchange = CourseExchange(pair.course_file)
    try:
        latest = pair.rows("ada")[-1]
        for student in ("ada", "ben", "cleo"):
            folder = pair.root / "submitted" / student / AID
            receipt = json.loads((folder / RECEIPT_FILE).read_text())
            row = exchange.receipt(receipt["receipt_id"])
            assert read_submission_folder(folder) == collected_files(exchange.ws, row)
        got = exchange.feedback_files(latest)
        assert next(iter(got.values())) in feedback.values()  # one version, whole
        versions = [p for p in exchange._feedback_parent(latest).iterdir()
                    if not p.name.startswith(".")]
        assert len(versions) == 2  # both kept, as every returned version is
    finally:
        exchange.close()


def test_several_processes_refuse_a_sqlite_gradebook(make_course):
    from exchange.service import ExchangeService

    root = make_course()
    with pytest.raises(ValueError, match="need a PostgreSQL gradebook"):
        ExchangeService(courses=[str(root / "course.yml")], reuse_port=True)


# -- the spike, one process killed ----------------------------------------------------------

class Retries(logging.Handler):
    def __init__(self):
        super().__init__()
        self.count = 0

    def emit(self, record):
        if "trying again" in record.getMessage():
            self.count += 1


def test_spike_across_two_processes_one_killed(pair):
    from nbgrader.coursedir import CourseDirectory

    from exchange.client import Exchange

    retries = Retries()
    client_log = logging.getLogger("two-exchanges-client")
    client_log.addHandler(retries)
    client_log.propagate = False

    def hand_in(number: int) -> dict:
        student = SPIKE[number % len(SPIKE)]
        files = {NOTEBOOK: notebook(pair.root, f"{student} spike {number}")}
        client = Exchange(coursedir=CourseDirectory(course_id=COURSE), authenticator=None,
                          service_url=pair.shared, api_token=pair.tokens[student],
                          retries=10, retry_backoff=0.05, timeout=60, log=client_log)
        receipt = client.api("POST", "courses", COURSE, "submissions", AID,
                             body=body(files), retry=True)
        with lock:
            acked.append({**receipt, "sent": files})
        return receipt

    acked, lock, errors, done = [], threading.Lock(), [], threading.Event()
    collections = []

    def collector():  # instructors collect and nbgrader reads submitted/ all through the spike
        while not done.is_set():
            for folder in (pair.root / "submitted").glob(f"*/{AID}"):
                if not complete(folder):
                    errors.append(f"half-written {folder}")
            try:
                reply = pair.post(pair.shared, "ina", f"collect/{AID}", {})
            except requests.RequestException:
                continue  # the killed process's connection
            if reply.status_code == 200:
                if reply.json()["failed"]:
                    errors.append(f"collect failed: {reply.json()['failed'][:2]}")
                check_collected(reply.json(), errors)
                collections.append(len(reply.json()["collected"]))
            done.wait(0.2)

    started = time.monotonic()
    watcher = threading.Thread(target=collector)
    watcher.start()
    try:
        with ThreadPoolExecutor(12) as pool:
            futures = [pool.submit(hand_in, n) for n in range(300)]
            while len(acked) < 100 and time.monotonic() - started < 120:
                time.sleep(0.01)
            os.kill(pair.a.pid, signal.SIGSTOP)  # hung: the hand-ins that reach it wait
            time.sleep(0.5)
            os.kill(pair.a.pid, signal.SIGKILL)  # then killed, no goodbye: they are cut off
            killed_at = len(acked)
            failures = [f.exception() for f in futures if f.exception() is not None]
    finally:
        done.set()
        watcher.join()
    elapsed = time.monotonic() - started
    print(f"\ntwo exchanges: 300 hand-ins in {elapsed:.1f} s, process a killed after "
          f"{killed_at} receipts, {retries.count} retries, {len(collections)} collections")
    assert failures == [] and len(acked) == 300, failures[:3]
    assert 100 <= killed_at < 300
    assert retries.count > 0, "the kill should have cut some hand-ins short"
    assert errors == []
    assert collections, "collect should have answered during the spike"

    rows = [r for r in pair.rows() if r.student_id in SPIKE]
    assert len(rows) == 300 and {r.id for r in rows} == {a["receipt_id"] for a in acked}
    by_id = {r.id: r for r in rows}
    for receipt in acked:  # each acknowledged one: in the gradebook and on disk, whole, once
        row = by_id[receipt["receipt_id"]]
        assert row.student_id == receipt["student_id"] and row.sha256 == digest(receipt["sent"])
        assert read_submission_folder(pair.root / row.storage_path) == receipt["sent"]
    on_disk = {p.relative_to(pair.root).as_posix() for s in SPIKE
               for p in visible_folders(pair.root, s)}
    assert on_disk == {r.storage_path for r in rows}

    final = pair.post(pair.shared, "ina", f"collect/{AID}", {})  # the survivor alone
    assert final.status_code == 200 and final.json()["failed"] == []
    check_collected(final.json(), errors)
    assert errors == []
    latest = {}
    for row in sorted(rows, key=lambda r: (r.received_at, r.id)):
        latest[row.student_id] = row.id
    for student in SPIKE:
        folder = pair.root / "submitted" / student / AID
        assert json.loads((folder / RECEIPT_FILE).read_text())["receipt_id"] == latest[student]

    # the supervisor (``--processes 2``) replaced the killed copy; SIGTERM stops them all
    replaced = pair.serving(2)
    assert pair.a.pid not in {p.pid for p in replaced} and pair.b.pid in {p.pid for p in replaced}
    for process in replaced:
        assert requests.get(process.url + "health", timeout=30).ok
    assert pair.stop() == 0, pair.log.read_text()[-2000:]
    assert not any(Path(f"/proc/{p.pid}").exists() for p in replaced)


def test_the_processes_option_runs_copies_of_the_same_command(monkeypatch, tmp_path):
    """``course exchange serve --processes 3``: three copies of the command without the option,
    each on the same port (the copies of the spike test above are run by ``supervise``)."""
    import exchange.service
    from commands.main import main as course

    (tmp_path / "course.yml").write_text(course_yaml("sqlite:///unused.db"))
    calls = []
    monkeypatch.setattr(exchange.service, "supervise",
                        lambda command, processes: calls.append((command, processes)) or 0)
    assert course(["exchange", "serve", "--processes", "3", "--course", str(tmp_path),
                   "--port", "8765", "--max-mb", "5"]) == 0
    ((command, processes),) = calls
    assert processes == 3 and "--processes" not in command
    assert command[1:] == ["-m", "commands.main", "exchange", "serve", "--ip", "127.0.0.1",
                           "--course", str(tmp_path / "course.yml"), "--port", "8765",
                           "--max-mb", "5.0"]
