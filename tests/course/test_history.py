"""``course history STUDENT`` (issue 23): one student's record in time order, with the receipt
that counts for the policy marked and why, read from the gradebook (no clock involved)."""

import datetime as dt
import json

import pytest
from small_courses import BASE_COURSE, utc

from commands.main import main
from course.gradebook.models import Extension, GradingRun, Presentation
from course.gradebook.records import add_receipt, set_override
from course.workspace import open_workspace

AID = "02-linreg"  # due Sun 2026-11-01 18:00 in Europe/Berlin (17:00 UTC)
SHA_FIRST, SHA_SECOND, SHA_LATE = "a1" * 32, "b2" * 32, "c3" * 32


def receipt(gb, student, when, sha):
    return add_receipt(gb, student_id=student, assignment_id=AID, received_at=when, sha256=sha,
                       size_bytes=100, storage_path="x")


@pytest.fixture
def root(make_course, db_url):
    """ada: a receipt at 18:00:00.9 (in time: judged to the second), an extension, a second
    receipt in the extension (the one that counts), its grading, an override, a draw.
    ben: one receipt in time and one after the deadline."""
    root = make_course(BASE_COURSE, db_url=db_url)
    ws = open_workspace(root)
    with ws.gradebook() as gb:
        receipt(gb, "ada", utc(2026, 11, 1, 17, 0, 0, 900_000), SHA_FIRST)
        gb.session.add(Extension(student_id="ada", assignment_id=AID,
                                 until=utc(2026, 11, 3, 17), reason="hospital",
                                 granted_by="ina", granted_at=utc(2026, 11, 2, 8)))
        second = receipt(gb, "ada", utc(2026, 11, 2, 9, 30, 5), SHA_SECOND)
        gb.session.add(GradingRun(student_id="ada", assignment_id=AID, receipt_id=second.id,
                                  engine="local", grader_version="v1",
                                  started_at=utc(2026, 11, 4, 9), finished_at=utc(2026, 11, 4, 9, 1),
                                  outcome="success", message="", score=7.0, max_score=10.0))
        set_override(gb, "ada", AID, 9.0, "regrade after appeal", now=utc(2026, 11, 5, 12),
                     max_score=10.0, by="ina")
        gb.session.add(Presentation(assignment_id=AID, student_id="ada", draw_round=0, seed="s",
                                    drawn_at=utc(2026, 11, 3, 9), drawn_by="ina", absent=False))
        receipt(gb, "ben", utc(2026, 11, 1, 12), SHA_FIRST)
        receipt(gb, "ben", utc(2026, 11, 1, 17, 0, 1), SHA_LATE)
        gb.commit()
    return str(root)


def history(capsys, root, *argv):
    code = main(["history", *argv, "--course", root])
    out, err = capsys.readouterr()
    return code, out, err


def test_every_record_in_time_order_with_the_counting_receipt_marked(root, capsys):
    code, out, _ = history(capsys, root, "ada", "--format", "json")
    assert code == 0
    data = json.loads(out)
    assert (data["student"], data["name"], data["timezone"]) == ("ada", "Ada Lovelace",
                                                                "Europe/Berlin")
    events = data["events"]
    assert [e["kind"] for e in events] == ["receipt", "extension", "receipt", "presentation",
                                           "grading", "override"]
    first, extension, second, drawn, grading, override = events
    assert all(e["assignment"] == AID for e in events)
    # received times to the second in the course's zone, as the deadline is judged
    assert first["received_local"] == "2026-11-01T18:00:00+01:00"
    assert second["received_local"] == "2026-11-02T10:30:05+01:00"
    assert (first["sha256"], second["sha256"]) == (SHA_FIRST, SHA_SECOND)
    assert (first["counts"], second["counts"]) == (False, True)
    assert first["verdict"] == "does not count: a later one in time counts"
    assert second["verdict"].startswith("counts: in time by the extension until "
                                        "Tue 2026-11-03 18:00 +0100")
    assert extension["until_utc"] == "2026-11-03T17:00:00Z" and extension["reason"] == "hospital"
    assert (grading["outcome"], grading["score"], grading["max_score"]) == ("success", 7.0, 10.0)
    assert (override["score"], override["reason"]) == (9.0, "regrade after appeal")
    assert drawn["seed"] == "s" and drawn["absent"] is False
    assert [e["at_utc"] for e in events] == sorted(e["at_utc"] for e in events)


def test_the_table_shows_each_receipt_by_its_sha256_prefix(root, capsys):
    code, out, _ = history(capsys, root, "ada")
    assert code == 0
    assert "history of ada (Ada Lovelace), times in Europe/Berlin" in out
    lines = out.splitlines()
    row = next(line for line in lines if SHA_FIRST[:12] in line)
    assert "Sun 2026-11-01 18:00:00" in row and "does not count" in row
    row = next(line for line in lines if SHA_SECOND[:12] in line and "received" in line)
    assert "Mon 2026-11-02 10:30:05" in row and "counts: in time by the extension" in row
    assert "graded " + SHA_SECOND[:12] + ": 7/10" in out
    assert "score set to 9/10 by ina: regrade after appeal" in out
    assert "extension until Tue 2026-11-03 18:00 +0100 granted by ina: hospital" in out


def test_a_receipt_after_the_counting_one_says_so(root, capsys):
    code, out, _ = history(capsys, root, "ben", "--assignment", AID, "--format", "json")
    assert code == 0
    on_time, late = json.loads(out)["events"]
    assert on_time["verdict"] == "counts: on time" and on_time["counts"] is True
    assert late["verdict"] == "does not count: after the counting one, 1 s past the deadline"
    assert late["received_local"] == "2026-11-01T18:00:01+01:00"


def test_assignment_narrows_the_history(root, capsys):
    code, out, _ = history(capsys, root, "ada", "--assignment", "01-numpy")
    assert code == 0 and out.strip() == "nothing on record for ada (Ada Lovelace)"


@pytest.mark.parametrize("argv, message", [
    (["zed"], "unknown student 'zed': not in the course roster"),
    (["ada", "--assignment", "99-nope"], "unknown assignment '99-nope'"),
])
def test_unknown_ids_exit_2_with_a_clear_message(root, capsys, argv, message):
    code, out, err = history(capsys, root, *argv)
    assert code == 2 and out == "" and message in err


def test_a_receipt_time_is_cut_to_the_second_not_rounded(root, capsys):
    """18:00:00.9 is shown as 18:00:00 (cut, as the deadline decision cuts), never 18:00:01."""
    code, out, _ = history(capsys, root, "ada", "--format", "json")
    assert code == 0 and "18:00:01" not in out
    assert dt.datetime.fromisoformat(json.loads(out)["events"][0]["at_local"]).second == 0
