"""The exchange under the attacks of issue 10, measured against a real JupyterHub on 127.0.0.1.

    .venv/bin/python benchmarks/exchange_attacks.py [--rounds 5] [--body-mb 250]

Starts the hub with the exchange as its managed service (the platform's default limits: 50 MB
per upload, 200 files) and prints one JSON document:

``receipt_delay``: how long after an honest student sends a submission its receipt is stamped,
alone and side by side with a hostile upload sent just before it (15,000 empty files, which the
exchange refuses, and the widest upload it accepts: 200 files six folders deep, 48 MB), per
round; ``ratio`` is the racing median over the alone median.

``burst``: 32 students submitting three times each, all at once: how long after its sending each
receipt is stamped, and each reply's latency (every submission asks the hub about its token, so
the replies wait for the hub; the receipt times must not).

``memory``: the exchange's resident memory (sampled every 5 ms) while three clients without a
token each try to send a 250 MB body to the health route, the course list and collect, as fast
as they can; with how many bytes each got out before the exchange answered, and the answer.

Not a timed test: tests/exchange/test_exchange_hub.py checks the same properties (the honest
receipt within a second of its sending; the answer before any byte of the body).
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import select
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import requests

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

COURSE, AID = "dl-hub", "01-numpy"
MB = 1_000_000


def files_body(files: dict[str, bytes]) -> str:
    return json.dumps({"files": {n: base64.b64encode(c).decode() for n, c in files.items()}})


def submit(url: str, token: str, body: str) -> requests.Response:
    return requests.post(f"{url}api/courses/{COURSE}/submissions/{AID}", data=body, timeout=300,
                         headers={"Authorization": f"token {token}"})


def receipt_delay(url: str, tokens: dict[str, str], notebook: str, content: bytes,
                  hostile: str | None, hostile_user: str) -> dict:
    """One honest submission by ``ben``, after ``hostile`` (a body) by ``hostile_user`` when
    given: seconds from its sending to its receipt time, and to its reply."""
    from exchange.wire import parse_timestamp

    replies = {}
    thread = None
    if hostile is not None:
        thread = threading.Thread(target=lambda: replies.setdefault(
            "hostile", submit(url, tokens[hostile_user], hostile)))
        thread.start()
        time.sleep(0.3)  # sent just before the honest one
    honest_body = files_body({notebook: content})
    sent = time.time()
    honest = submit(url, tokens["ben"], honest_body)
    replied = time.time() - sent
    if thread is not None:
        thread.join()
    honest.raise_for_status()
    stamped = parse_timestamp(honest.json()["timestamp"]).timestamp() - sent
    out = {"receipt_after_s": round(stamped, 3), "reply_after_s": round(replied, 3)}
    if "hostile" in replies:
        out["hostile_status"] = replies["hostile"].status_code
    return out


def burst(url: str, tokens: dict[str, str], notebook: str, content: bytes) -> dict:
    from concurrent.futures import ThreadPoolExecutor

    from exchange.wire import parse_timestamp

    body = files_body({notebook: content})

    def one(token: str) -> tuple[float, float]:
        sent = time.time()
        reply = submit(url, token, body)
        replied = time.time() - sent
        reply.raise_for_status()
        return parse_timestamp(reply.json()["timestamp"]).timestamp() - sent, replied

    students = [sid for sid in tokens if sid.startswith("s")]
    with ThreadPoolExecutor(len(students)) as pool:
        results = list(pool.map(one, [tokens[sid] for sid in students] * 3))
    receipts, replies = sorted(r for r, _ in results), sorted(r for _, r in results)
    return {"submissions": len(results), "concurrent": len(students),
            "receipt_after_median_s": round(statistics.median(receipts), 3),
            "receipt_after_max_s": round(receipts[-1], 3),
            "reply_median_s": round(statistics.median(replies), 3),
            "reply_max_s": round(replies[-1], 3)}


def exchange_process(hub) -> psutil.Process:
    family = psutil.Process(hub.proc.pid).children(recursive=True)
    (proc,) = [p for p in family if "exchange" in " ".join(p.cmdline()) and "serve" in p.cmdline()]
    return proc


def unauthenticated_body(port: int, path: str, size: int) -> dict:
    """POST ``size`` bytes without a token, sending as fast as the socket takes them, until the
    exchange answers or closes; what got out, and the answer."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    sock.sendall((f"POST /services/exchange/{path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                  f"Content-Length: {size}\r\nContent-Type: application/json\r\n\r\n").encode())
    chunk, sent, reply = b"x" * (1 << 20), 0, b""
    started = time.monotonic()
    try:
        while sent < size:
            readable, _, _ = select.select([sock], [], [], 0)
            if readable:
                break
            sent += sock.send(chunk[: size - sent])
    except OSError:  # the exchange answered and closed: its answer may still be here to read
        pass
    try:
        while part := sock.recv(65536):
            reply += part
    except OSError as exc:
        reply = reply or f"{type(exc).__name__}".encode()
    finally:
        sock.close()
    status = reply.split(b" ", 2)[1].decode() if reply.startswith(b"HTTP/") else reply.decode()
    return {"path": path, "bytes_sent": sent, "answer": status,
            "seconds": round(time.monotonic() - started, 3)}


def memory_under_bodies(hub, size: int) -> dict:
    proc = exchange_process(hub)
    samples, stop = [proc.memory_info().rss], threading.Event()

    def sample():
        while not stop.is_set():
            samples.append(proc.memory_info().rss)
            time.sleep(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    results = []
    paths = ["health", "api/courses", f"api/courses/{COURSE}/collect/{AID}"]
    clients = [threading.Thread(target=lambda p=p: results.append(
        unauthenticated_body(hub.exchange_port, p, size))) for p in paths]
    for client in clients:
        client.start()
    for client in clients:
        client.join()
    time.sleep(0.2)
    stop.set()
    sampler.join()
    return {"body_mb": size / MB, "rss_before_mb": round(samples[0] / MB, 1),
            "rss_peak_mb": round(max(samples) / MB, 1),
            "rss_growth_mb": round((max(samples) - samples[0]) / MB, 1),
            "requests": sorted(results, key=lambda r: r["path"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--body-mb", type=int, default=250)
    args = parser.parse_args(argv)

    from devhub.hubcourse import build_hub_course

    sys.path.insert(0, str(REPO / "tests"))  # hub_doubles: the hub with an admin service
    from hub_doubles import ScriptedHub

    students = [("ada", "Ada", "L"), ("ben", "Ben", "B"), ("cleo", "Cleo", "C"),
                *((f"s{i:03d}", "Burst", str(i)) for i in range(1, 33))]
    with tempfile.TemporaryDirectory(prefix="attacks-") as tmp:
        course_file = build_hub_course(Path(tmp) / "course", students=students, release="copy")
        hub = ScriptedHub(course_file, Path(tmp) / "hub", password="attack-password",
                          admin_token=secrets.token_hex(16))
        hub.start()
        try:
            hub.wait_for(hub.exchange_url + "health")
            tokens = {sid: hub.token_for(sid) for sid, _first, _last in students}
            (notebook,) = sorted((course_file.parent / "assignments" / AID).glob("*.ipynb"))
            content = notebook.read_bytes()
            flood = files_body({notebook.name: content,
                                **{f"f{i}.txt": b"" for i in range(15_000)}})
            widest = files_body({notebook.name: content,
                                 **{f"data/a/b/c/d/e/f{i}.bin": secrets.token_bytes(240_000)
                                    for i in range(199)}})
            url = hub.exchange_url
            submit(url, tokens["ben"], files_body({notebook.name: content}))  # warm: imports
            rounds = {"alone": [], "after_15000_files": [], "after_200_files_48_mb": []}
            for _ in range(args.rounds):  # side by side, interleaved
                rounds["alone"].append(receipt_delay(url, tokens, notebook.name, content,
                                                     None, "ada"))
                rounds["after_15000_files"].append(receipt_delay(
                    url, tokens, notebook.name, content, flood, "ada"))
                rounds["after_200_files_48_mb"].append(receipt_delay(
                    url, tokens, notebook.name, content, widest, "cleo"))
            medians = {k: statistics.median(r["receipt_after_s"] for r in v)
                       for k, v in rounds.items()}
            delay = {k: {"median_s": medians[k],
                         "max_s": max(r["receipt_after_s"] for r in v),
                         "reply_median_s": statistics.median(r["reply_after_s"] for r in v),
                         "hostile_status": sorted({r.get("hostile_status") for r in v} - {None}),
                         "rounds": v} for k, v in rounds.items()}
            for key in ("after_15000_files", "after_200_files_48_mb"):
                delay[key]["ratio_to_alone"] = round(medians[key] / medians["alone"], 2)
            crowd = burst(url, tokens, notebook.name, content)
            memory = memory_under_bodies(hub, args.body_mb * MB)
        finally:
            hub.stop()
    print(json.dumps({"receipt_delay": delay, "burst": crowd, "memory": memory}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
