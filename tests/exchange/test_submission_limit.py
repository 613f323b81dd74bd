"""The largest submission is a setting, not a constant: ``receive`` takes it (``max_bytes``,
default the platform's), and the exchange receives (by group commit) under its own
``max_submission_bytes``, refusing an upload over it as too large (HTTP 413), nothing kept. So are the
per-student quota (``max_stored_bytes``) and the most files (``max_files``); the names the
platform writes itself are refused whichever way a submission comes in."""

import datetime as dt

import nbformat
import pytest
from exchange_requests import hand_in, publish

from course.errors import UserError
from course.gradebook.records import receipts_where
from course.inbox import (
    MAX_SUBMISSION_BYTES,
    BadFileName,
    QuotaExceeded,
    SubmissionTooLarge,
    TooManyFiles,
    receive,
)
from course.store import CourseExchange
from course.workspace import open_workspace

AID = "01-numpy"
MB = 1_000_000
RECEIVED = dt.datetime(2026, 10, 20, 12, tzinfo=dt.UTC)


def files_of(root, size: int) -> dict[str, bytes]:
    """The released notebook plus a data file, ``size`` bytes in all."""
    (source,) = (root / "assignments" / AID).glob("*.ipynb")
    notebook = nbformat.writes(nbformat.read(source, as_version=4)).encode()
    return {source.name: notebook, "weights.bin": b"\0" * (size - len(notebook))}


def test_receive_takes_the_limit_as_a_parameter(make_course):
    root = make_course(assignments=(AID,))
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        receipt = receive(ws, gb, "ada", AID, files_of(root, 3 * MB), received_at=RECEIVED,
                          max_bytes=4 * MB)
        assert receipt.size_bytes == 3 * MB
        with pytest.raises(UserError, match="3.0 MB exceeds the limit of 2 MB"):
            receive(ws, gb, "ben", AID, files_of(root, 3 * MB), received_at=RECEIVED,
                    max_bytes=2 * MB)
    assert [p.parent.name for p in (root / "inbox" / AID).glob("*/*")] == ["ada"]
    assert receive.__kwdefaults__["max_bytes"] == MAX_SUBMISSION_BYTES


@pytest.fixture
def exchange_root(make_course):
    root = make_course(assignments=(AID,))
    publish(root, AID)
    return root


def test_the_exchange_receives_under_its_own_limit(exchange_root):
    generous = CourseExchange(exchange_root / "course.yml", max_submission_bytes=4 * MB)
    try:
        reply = hand_in(generous, "ada", AID, files_of(exchange_root, 3 * MB), RECEIVED)
        assert reply["size_bytes"] == 3 * MB
    finally:
        generous.close()
    strict = CourseExchange(exchange_root / "course.yml", max_submission_bytes=2 * MB)
    try:
        with pytest.raises(SubmissionTooLarge, match="exceeds the limit of 2 MB"):
            hand_in(strict, "ben", AID, files_of(exchange_root, 3 * MB), RECEIVED)
    finally:
        strict.close()
    ws = open_workspace(exchange_root / "course.yml")
    with ws.gradebook() as gb:
        assert [r.student_id for r in receipts_where(gb)] == ["ada"]  # ben's: nothing kept

def test_receive_keeps_each_student_within_the_quota(make_course):
    root = make_course(assignments=(AID,))
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        for _ in range(2):
            receive(ws, gb, "ada", AID, files_of(root, 2 * MB), received_at=RECEIVED,
                    max_stored_bytes=5 * MB)
        with pytest.raises(QuotaExceeded, match=r"ada's kept submissions hold 4.0 MB; this one "
                           r"\(2.0 MB\) would pass the per-student quota of 5 MB"):
            receive(ws, gb, "ada", AID, files_of(root, 2 * MB), received_at=RECEIVED,
                    max_stored_bytes=5 * MB)
        receive(ws, gb, "ben", AID, files_of(root, 2 * MB), received_at=RECEIVED,
                max_stored_bytes=5 * MB)


def test_receive_refuses_what_collection_or_grading_could_not_take(make_course):
    root = make_course(assignments=(AID,))
    ws = open_workspace(root)
    notebook = files_of(root, 100_000)
    with ws.gradebook() as gb:
        for extra, error, message in (
            ({"timestamp.txt/x": b""}, BadFileName, "timestamp.txt is written by the platform"),
            ({"receipt.json": b"{}"}, BadFileName, "receipt.json is written by the platform"),
            ({"a\0b": b""}, BadFileName, "control characters"),
            ({"n" * 300: b""}, BadFileName, "at most 255 characters"),
            ({"a/" * 7 + "x": b""}, TooManyFiles, "nested 7 folders deep"),
            ({f"f{i}": b"" for i in range(5)}, TooManyFiles, "7 files in one upload; at most 6"),
        ):
            with pytest.raises(error, match=message):
                receive(ws, gb, "ada", AID, {**notebook, **extra}, received_at=RECEIVED,
                        max_files=6)
        # nbgrader's own timestamp.txt, a file at the top, is the client's claim: kept as such
        receipt = receive(ws, gb, "ada", AID, {**notebook, "timestamp.txt": b"claimed"},
                          received_at=RECEIVED)
        assert receipt.client_timestamp == "claimed"
